/**
 * The metadata service as an instance sees it: requests per second and latency percentiles of
 * `GET http://169.254.169.254/latest/meta-data/instance-id`, made from inside a VPC (a bare network namespace
 * plugged by the OVS adapter, like a container's) by a load generator running in that namespace, N requests in
 * flight over keep-alive connections. The service runs in this process, fed by the adapter's serveMetadata, with
 * an in-memory record (the database lookup is not measured). Needs root and Open vSwitch; holds the host lock.
 *
 * In the same run, for comparison, the API's DescribeRegions with the same concurrency and duration (bench/api.ts
 * --only regions, against a server it starts; SigV4 over loopback from the host).
 *
 *   flock /tmp/thecloud-host.lock npx tsx bench/metadata.ts [--duration 10] [--concurrency 16] [--v2] [--no-api]
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { run, startDaemon } from '../src/adapters/exec/index.js';
import { OvsNetworkBackend } from '../src/adapters/ovs/index.js';
import type { PortSpec, SubnetSpec, VpcSpec } from '../src/ports/index.js';
import { MetadataServer } from '../src/services/metadata/server.js';
import { DEFAULT_METADATA_OPTIONS } from '../src/services/metadata/options.js';
import type { InstanceMetadata } from '../src/services/metadata/tree.js';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '16' }, v2: { type: 'boolean', default: false }, 'no-api': { type: 'boolean', default: false } } });
const hex = (n: number) => randomBytes(n).toString('hex').slice(0, n);
const CLOUD = hex(16);
const vpc: VpcSpec = { vpcId: `vpc-${hex(17)}`, cidrs: ['10.81.0.0/16'], vni: 8101 };
const subnet: SubnetSpec = { vpcId: vpc.vpcId, subnetId: `subnet-${hex(17)}`, cidr: '10.81.1.0/24', gateway: '10.81.1.1' };
const port: PortSpec = { eniId: `eni-${hex(17)}`, vpcId: vpc.vpcId, subnetId: subnet.subnetId, mac: `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`, ips: ['10.81.1.10'], gateway: subnet.gateway, subnetCidr: subnet.cidr, securityGroupIds: [], deviceIndex: 0 };
const meta: InstanceMetadata = {
  instanceId: `i-${hex(17)}`, accountId: '123456789012', reservationId: `r-${hex(17)}`, launchIndex: 0, imageId: `ami-${hex(17)}`,
  instanceType: 't3.micro', architecture: 'x86_64', region: 'us-east-1', availabilityZone: 'us-east-1a', launchTime: new Date(),
  privateIp: '10.81.1.10', mac: port.mac, eniId: port.eniId, deviceIndex: 0, subnetId: subnet.subnetId, subnetCidr: subnet.cidr,
  vpcId: vpc.vpcId, vpcCidrs: vpc.cidrs, securityGroups: [], tags: [], options: { ...DEFAULT_METADATA_OPTIONS },
};

// The load generator, run by a plain node inside the namespace: prints one JSON line.
const LOAD = `
const http = require('http');
const [dur, conc, v2] = process.argv.slice(1).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
const get = (path, headers = {}, method = 'GET') => new Promise((res, rej) => {
  const req = http.request({ host: '169.254.169.254', port: 80, path, method, headers, agent }, (r) => { let b = ''; r.on('data', (c) => b += c); r.on('end', () => res({ status: r.statusCode, body: b })); });
  req.on('error', rej); req.end();
});
(async () => {
  const headers = {};
  if (v2) headers['X-aws-ec2-metadata-token'] = (await get('/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': '600' }, 'PUT')).body;
  const lat = []; let errors = 0; const end = Date.now() + dur * 1000; const t0 = Date.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (Date.now() < end) {
      const s = process.hrtime.bigint();
      const r = await get('/latest/meta-data/instance-id', headers).catch(() => ({ status: 0 }));
      if (r.status !== 200) errors++;
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }));
  const secs = (Date.now() - t0) / 1000; lat.sort((a, b) => a - b);
  const p = (q) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))].toFixed(2);
  console.log(JSON.stringify({ requests: lat.length, errors, rps: Math.round(lat.length / secs), p50: p(0.5), p90: p(0.9), p99: p(0.99) }));
  agent.destroy();
})();
`;

const net = new OvsNetworkBackend({ cloudId: CLOUD });
const imds = new MetadataServer({ byAddress: async (v, ip) => (v === vpc.vpcId && ip === meta.privateIp ? meta : undefined) });
const sandbox = startDaemon('unshare', ['--net', 'sleep', '600'], { onLine: () => {} });
try {
  await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } });
  await net.serveMetadata(imds.accept);
  await net.ensureVpc(vpc);
  await net.ensureSubnet(subnet);
  for (let i = 0; i < 50 && (await run('readlink', [`/proc/${sandbox.pid}/ns/net`])).stdout === (await run('readlink', ['/proc/self/ns/net'])).stdout; i++) await new Promise((r) => setTimeout(r, 100));
  await net.plug(port, { kind: 'netns', pid: sandbox.pid });
  const out = await run('nsenter', ['-t', String(sandbox.pid), '-n', process.execPath, '-e', LOAD, values.duration!, values.concurrency!, values.v2 ? '1' : '0'], { timeoutMs: (Number(values.duration) + 30) * 1000 });
  const r = JSON.parse(out.stdout.trim()) as Record<string, number>;
  console.log(`metadata GET instance-id (${values.v2 ? 'v2 token' : 'v1'}), ${values.concurrency} in flight, ${values.duration} s, from inside a VPC:`);
  console.log(`  ${r.rps} requests/s, latency p50 ${r.p50} ms, p90 ${r.p90} ms, p99 ${r.p99} ms (${r.requests} requests, ${r.errors} errors)`);
} finally {
  await net.serveMetadata(null);
  sandbox.signal('SIGKILL');
  await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } });
  imds.close();
}

if (!values['no-api']) {
  // The API beside it: DescribeRegions, the cheapest signed call (no database row read), same load.
  const api = await run(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./api.ts', import.meta.url)), '--only', 'regions', '--duration', values.duration!, '--concurrency', values.concurrency!], { timeoutMs: (Number(values.duration) + 120) * 1000 });
  console.log(`API DescribeRegions, ${values.concurrency} in flight, ${values.duration} s, from the host over loopback:`);
  console.log(api.stdout.trim().split('\n').map((l) => `  ${l}`).join('\n'));
}
