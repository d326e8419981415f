import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run, startDaemon, type Daemon } from '../../src/adapters/exec/index.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OvsNetworkBackend, ovsNames } from '../../src/adapters/ovs/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import type { PortSpec, SecurityGroupSpec, SubnetSpec, VpcSpec } from '../../src/ports/index.js';
import { MetadataServer } from '../../src/services/metadata/server.js';
import { metadataOptionsOf } from '../../src/services/metadata/options.js';
import type { InstanceMetadata } from '../../src/services/metadata/tree.js';
import { needBackend } from '../support/backends.js';
import { sampleInstance } from '../support/metadata.js';

/**
 * The metadata service reached for real from inside VPCs: bare network namespaces (a `sleep` in its own netns, the
 * cheapest sandbox the OVS adapter plugs as it plugs a container's) on two VPCs with the same CIDR, curl from
 * inside each to 169.254.169.254. The service is fed by the OVS adapter's serveMetadata and looks instances up by
 * (VPC, source address), here from an in-memory table standing in for the records. Negative checks are curl's own
 * short connect timeout (a dropped SYN), never a timed assertion.
 */

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const id = (p: string) => `${p}-${hex(17)}`;
const CLOUD = hex(16);

const vpcA: VpcSpec = { vpcId: id('vpc'), cidrs: ['10.79.0.0/16'], vni: 7901 };
const vpcB: VpcSpec = { vpcId: id('vpc'), cidrs: ['10.79.0.0/16'], vni: 7902 };
const subnet = (vpc: VpcSpec): SubnetSpec => ({ vpcId: vpc.vpcId, subnetId: id('subnet'), cidr: '10.79.1.0/24', gateway: '10.79.1.1' });
const sa = subnet(vpcA);
const sb = subnet(vpcB);
// A group with no rules at all: the metadata service is reached anyway (as on AWS).
const sgA = id('sg');
const sgB = id('sg');
const groups: SecurityGroupSpec[] = [
  { groupId: sgA, vpcId: vpcA.vpcId, ingress: [], egress: [], memberIps: ['10.79.1.10', '10.79.1.11'] },
  { groupId: sgB, vpcId: vpcB.vpcId, ingress: [], egress: [], memberIps: ['10.79.1.10'] },
];

interface Box {
  port: PortSpec;
  meta: InstanceMetadata;
  proc?: Daemon;
}
function box(s: SubnetSpec, ip: string, sg: string): Box {
  const mac = `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`;
  const port: PortSpec = { eniId: id('eni'), vpcId: s.vpcId, subnetId: s.subnetId, mac, ips: [ip], gateway: s.gateway, subnetCidr: s.cidr, securityGroupIds: [sg], deviceIndex: 0 };
  const meta = sampleInstance({
    instanceId: id('i'), privateIp: ip, mac, eniId: port.eniId, subnetId: s.subnetId, subnetCidr: s.cidr, vpcId: s.vpcId,
    vpcCidrs: ['10.79.0.0/16'], securityGroups: [{ id: sg, name: 'default' }], userData: Buffer.from(`user data of ${ip} in ${s.vpcId}`),
  });
  return { port, meta };
}
const one = box(sa, '10.79.1.10', sgA);
const two = box(sa, '10.79.1.11', sgA);
const other = box(sb, '10.79.1.10', sgB); // VPC B: the same address as `one`
const boxes = [one, two, other];
// A libvirt VM on VPC A: its first boot asks the metadata service (retrying until its port is plugged).
const vm = box(sa, '10.79.1.20', sgA);
groups[0]!.memberIps.push('10.79.1.20');
const URI = process.env.LIBVIRT_URI ?? 'qemu:///system';
const VM_IMAGE_DIR = process.env.THECLOUD_TEST_IMAGE_DIR ?? '/var/lib/thecloud/images/thecloud-test';
let vmId: string | undefined;

describe('instance metadata service: real traffic from inside VPCs (Open vSwitch)', function () {
  this.timeout(120_000);
  const net = new OvsNetworkBackend({ cloudId: CLOUD });
  const libvirt = new LibvirtComputeBackend({ uri: URI, cloudId: CLOUD, stopTimeoutMs: 5_000 });
  let withVm = false;
  const table = new Map<string, InstanceMetadata>();
  const imds = new MetadataServer({ byAddress: async (vpcId, ip) => table.get(`${vpcId} ${ip}`) }, { limitHops: net.limitMetadataHops.bind(net) });

  /** curl inside the box's namespace; '' when nothing came back (a dropped packet: curl's connect timeout). */
  const curl = async (b: Box, path: string, args: string[] = []) => {
    const r = await run('nsenter', ['-t', String(b.proc!.pid), '-n', 'curl', '-s', '--noproxy', '*', '--connect-timeout', '2', '-m', '5', ...args, `http://169.254.169.254${path}`], { allowFailure: true });
    return r.exitCode === 0 ? r.stdout : '';
  };
  const inside = (b: Box, args: string[]) => run('nsenter', ['-t', String(b.proc!.pid), '-n', ...args]);

  before(async function () {
    await needBackend(this, 'ovs', () => net.probe());
    await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } });
    await net.serveMetadata(imds.accept);
    for (const v of [vpcA, vpcB]) await net.ensureVpc(v);
    for (const s of [sa, sb]) await net.ensureSubnet(s);
    await net.setSecurityGroups({ groups });
    // Without libvirt (a developer's machine) the VM part alone is skipped; in CI it must be there.
    const vmProbe = await libvirt.probe();
    if (vmProbe.ok && !existsSync(join(VM_IMAGE_DIR, 'vmlinuz'))) Object.assign(vmProbe, { ok: false, detail: `no test VM image in ${VM_IMAGE_DIR}` });
    if (!vmProbe.ok && process.env.CI === 'true') throw new Error(`backend libvirt is required in CI but is not reachable: ${vmProbe.detail}`);
    withVm = vmProbe.ok;
    if (withVm) {
      // It boots while the containers' part runs.
      const p = vm.port;
      vmId = (await libvirt.create({
        instanceId: vm.meta.instanceId, accountId: '123456789012', imageRef: `kernel:${VM_IMAGE_DIR}`, vcpus: 1, memoryMiB: 256, hostname: 'vm', publicKeys: [],
        firstBootScript: [
          // busybox-static's wget segfaults in this image: a plain HTTP/1.0 request through nc (the body is the last line).
          `i=0; while [ $i -lt 120 ]; do out=$(printf 'GET /latest/meta-data/instance-id HTTP/1.0\\r\\nHost: 169.254.169.254\\r\\n\\r\\n' | nc -w 2 169.254.169.254 80 | tail -n 1); [ -n "$out" ] && break; i=$((i+1)); sleep 1; done`,
          'echo "imds-answered: $out"',
        ].join('\n'),
        nics: [{ eniId: p.eniId, deviceIndex: 0, mac: p.mac, ips: p.ips, subnetCidr: p.subnetCidr, gateway: p.gateway, vm: net.vmInterface(p) }],
      })).backendId;
      await libvirt.start(vmId);
      await net.plug(p, { kind: 'ovs-port', name: net.vmInterface(p).portName });
      table.set(`${p.vpcId} ${p.ips[0]}`, vm.meta);
    }
    for (const b of boxes) {
      b.proc = startDaemon('unshare', ['--net', 'sleep', '600'], { onLine: () => {} });
      // unshare execs sleep once the namespace is made: wait for that (its netns differs from ours).
      for (let i = 0; i < 50; i++) {
        const [mine, its] = await Promise.all([run('readlink', ['/proc/self/ns/net']), run('readlink', [`/proc/${b.proc.pid}/ns/net`], { allowFailure: true })]);
        if (its.stdout && its.stdout !== mine.stdout) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await net.plug(b.port, { kind: 'netns', pid: b.proc.pid });
      table.set(`${b.port.vpcId} ${b.port.ips[0]}`, b.meta);
    }
  });

  after(async function () {
    await net.serveMetadata(null).catch(() => undefined);
    if (vmId) await libvirt.destroy(vmId).catch((e: unknown) => console.log(`      cleanup vm: ${String(e)}`));
    for (const b of boxes) b.proc?.signal('SIGKILL');
    await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } }).catch((e: unknown) => console.log(`      cleanup network: ${String(e)}`));
    imds.close();
  });

  it('answers each instance with its own data, also in two VPCs with the same address, through groups with no rules', async () => {
    for (const b of boxes) {
      assert.equal(await curl(b, '/latest/meta-data/instance-id'), b.meta.instanceId);
      assert.equal(await curl(b, '/latest/meta-data/local-ipv4'), b.port.ips[0]);
      assert.equal(await curl(b, `/latest/meta-data/network/interfaces/macs/${b.port.mac}/vpc-id`), b.port.vpcId);
      assert.equal(await curl(b, '/latest/user-data'), `user data of ${b.port.ips[0]} in ${b.port.vpcId}`);
    }
  });

  it('runs the v2 flow: a token from PUT, then GETs with it; 401 without one when tokens are required', async () => {
    one.meta.options = { ...metadataOptionsOf(null), httpTokens: 'required' };
    try {
      assert.equal(await curl(one, '/latest/meta-data/instance-id', ['-o', '/dev/null', '-w', '%{http_code}']), '401');
      const token = await curl(one, '/latest/api/token', ['-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60']);
      assert.ok(token.length > 20, token);
      assert.equal(await curl(one, '/latest/meta-data/instance-id', ['-H', `X-aws-ec2-metadata-token: ${token}`]), one.meta.instanceId);
      // The same token is worthless to another instance.
      assert.equal(await curl(two, '/latest/meta-data/instance-id', ['-o', '/dev/null', '-w', '%{http_code}', '-H', `X-aws-ec2-metadata-token: ${token}`]), '401');
    } finally {
      one.meta.options = metadataOptionsOf(null);
    }
  });

  it('enforces HttpPutResponseHopLimit: a token answer reaches a namespace behind the instance only with a limit of 2; v1 GETs always do', async () => {
    // "behind": a namespace one hop behind `one` (a container inside the instance), masqueraded as `one`.
    const behind = startDaemon('unshare', ['--net', 'sleep', '600'], { onLine: () => {} });
    try {
      for (let i = 0; i < 50; i++) {
        const [mine, its] = await Promise.all([run('readlink', ['/proc/self/ns/net']), run('readlink', [`/proc/${behind.pid}/ns/net`], { allowFailure: true })]);
        if (its.stdout && its.stdout !== mine.stdout) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const veth = `tchop${hex(6)}`;
      await run('ip', ['link', 'add', veth, 'netns', String(one.proc!.pid), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(behind.pid)]);
      await inside(one, ['ip', 'addr', 'add', '192.168.77.1/30', 'dev', veth]);
      await inside(one, ['ip', 'link', 'set', veth, 'up']);
      await inside(one, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
      await inside(one, ['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-s', '192.168.77.0/30', '-o', 'eth0', '-j', 'MASQUERADE']);
      const b = { ...one, proc: behind };
      await run('nsenter', ['-t', String(behind.pid), '-n', 'ip', 'addr', 'add', '192.168.77.2/30', 'dev', 'eth0']);
      await run('nsenter', ['-t', String(behind.pid), '-n', 'ip', 'link', 'set', 'eth0', 'up']);
      await run('nsenter', ['-t', String(behind.pid), '-n', 'ip', 'route', 'add', 'default', 'via', '192.168.77.1']);
      const put = (x: Box) => curl(x, '/latest/api/token', ['-X', 'PUT', '-H', 'X-aws-ec2-metadata-token-ttl-seconds: 60']);

      assert.equal(one.meta.options.httpPutResponseHopLimit, 1, 'AWS\'s default');
      assert.equal(await curl(b, '/latest/meta-data/instance-id'), one.meta.instanceId, 'v1 from behind: answered (the limit is the token\'s)');
      assert.ok((await put(one)).length > 20, 'the instance itself gets a token with a limit of 1');
      assert.equal(await put(b), '', 'one hop further it does not: the answer dies on the way');
      one.meta.options = { ...one.meta.options, httpPutResponseHopLimit: 2 };
      assert.ok((await put(b)).length > 20, 'with a limit of 2 it arrives');
    } finally {
      one.meta.options = metadataOptionsOf(null);
      behind.signal('SIGKILL');
      await inside(one, ['iptables', '-w', '5', '-t', 'nat', '-F', 'POSTROUTING']).catch(() => undefined);
    }
  });

  it('gives nothing to a spoofed source: another instance\'s address, then its MAC too, from the wrong port', async () => {
    assert.equal(await curl(two, '/latest/meta-data/instance-id', ['--interface', '10.79.1.11']), two.meta.instanceId, 'curl --interface itself works');
    // `two` takes `one`'s address as a second one and asks from it: the switch drops the packets.
    await inside(two, ['ip', 'addr', 'add', '10.79.1.10/32', 'dev', 'eth0']);
    try {
      assert.equal(await curl(two, '/latest/meta-data/instance-id', ['--interface', '10.79.1.10']), '');
      await inside(two, ['ip', 'link', 'set', 'eth0', 'address', one.port.mac]);
      assert.equal(await curl(two, '/latest/meta-data/instance-id', ['--interface', '10.79.1.10']), '');
      assert.equal(await curl(two, '/latest/meta-data/instance-id'), '', 'its own address with a MAC not its port\'s: dropped too');
    } finally {
      await inside(two, ['ip', 'link', 'set', 'eth0', 'address', two.port.mac]);
      await inside(two, ['ip', 'addr', 'del', '10.79.1.10/32', 'dev', 'eth0']);
      await inside(two, ['ip', 'neigh', 'flush', 'all']).catch(() => undefined);
    }
    assert.equal(await curl(two, '/latest/meta-data/instance-id'), two.meta.instanceId, 'honest again: its own data');
    assert.equal(await curl(one, '/latest/meta-data/instance-id'), one.meta.instanceId);
  });

  it('answers a libvirt VM on the same VPC with its own data', async function () {
    if (!withVm) this.skip();
    let line: string | undefined;
    let log = '';
    for (let i = 0; i < 180 && !line; i++) {
      log = await libvirt.consoleOutput(vmId!);
      line = log.split('\n').find((l) => l.includes('imds-answered:'));
      if (!line) await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok(line, `the VM's first boot reported; its console:\n${log.slice(-3000)}`);
    assert.equal(line.trim().split('imds-answered: ')[1], vm.meta.instanceId);
  });

  it('keeps serving a VPC whose router namespace was made anew (sync after a host reboot)', async () => {
    // Bridge and namespace both gone, as after a reboot with an emptied switch.
    await run('ovs-vsctl', ['del-br', ovsNames.bridgeName(CLOUD, vpcB.vpcId)]);
    await run('ip', ['netns', 'del', ovsNames.routerNetns(CLOUD, vpcB.vpcId)]);
    assert.equal(await curl(other, '/latest/meta-data/instance-id'), '', 'gone with its router');
    await net.sync({
      vpcs: [vpcA, vpcB], subnets: [sa, sb],
      ports: boxes.map((b) => ({ port: b.port, sandbox: { kind: 'netns' as const, pid: b.proc!.pid } })),
      security: { groups },
    });
    assert.equal(await curl(other, '/latest/meta-data/instance-id'), other.meta.instanceId);
    assert.equal(await curl(one, '/latest/meta-data/instance-id'), one.meta.instanceId);
  });
});
