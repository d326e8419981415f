/**
 * The OVS data plane, measured through the adapters (no EC2 API). See bench/README.md ("Network benchmarks").
 *
 *   npx tsx bench/network.ts [--n 5] [--mb 256]
 *
 * 1. plumbing: a container made by the Docker adapter with no network (create + start) and plugged by the OVS
 *    adapter, until its network is there, against a bare `docker run -d` on Docker's default bridge;
 * 2. rule change to effect: from SetSecurityGroups-like call to the first TCP connection it admits, and the
 *    call's own time (flows written in one bundle);
 * 3. throughput: one TCP stream (iperf3 where the host has it, `apt-get install iperf3`; else busybox dd | nc of
 *    --mb MiB) between two plugged containers (security groups with conntrack on both ports) against two bare
 *    namespaces on a plain bridge of the same datapath (NORMAL, no conntrack).
 * Run it under the host lock (flock /tmp/thecloud-host.lock). It removes everything it made, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../src/adapters/exec/index.js';
import { OvsNetworkBackend } from '../src/adapters/ovs/index.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import type { InstanceSpec, PortSpec, Sandbox, SecurityGroupSpec } from '../src/ports/index.js';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg('--n', 5);
const MB = arg('--mb', 256);
const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const id = (p: string) => `${p}-${hex(17)}`;
const IMAGE = 'thecloud/busybox:latest';
const CLOUD = hex(16);

const vpc = { vpcId: id('vpc'), cidrs: ['10.88.0.0/16'], vni: 8801 };
const subnet = { vpcId: vpc.vpcId, subnetId: id('subnet'), cidr: '10.88.1.0/24', gateway: '10.88.1.1' };
const sg = id('sg');
const net = new OvsNetworkBackend({ cloudId: CLOUD, hostVpcs: [vpc.vpcId] });
const docker = new DockerComputeBackend({ cloudId: CLOUD });
const made: string[] = [];
const bare: string[] = [];
let ip = 10;

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (min ${s[0]!.toFixed(0)}, max ${s[s.length - 1]!.toFixed(0)}, n=${s.length})`;
};

function group(opts: { open9000: boolean; members: string[] }): SecurityGroupSpec {
  return {
    groupId: sg, vpcId: vpc.vpcId, memberIps: opts.members,
    ingress: [
      { protocol: 'tcp', ports: { from: 5001, to: 5001 }, peer: { groupId: sg } },
      ...(opts.open9000 ? [{ protocol: 'tcp' as const, ports: { from: 9000, to: 9000 }, peer: { cidr: '0.0.0.0/0' } }] : []),
    ],
    egress: [{ protocol: 'all', peer: { cidr: '0.0.0.0/0' } }],
  };
}

async function instance(script?: string): Promise<{ backendId: string; sandbox: Sandbox; port: PortSpec; ms: { create: number; plug: number; ready: number } }> {
  const mac = `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`;
  const port: PortSpec = { eniId: id('eni'), vpcId: vpc.vpcId, subnetId: subnet.subnetId, mac, ips: [`10.88.1.${ip++}`], gateway: subnet.gateway, subnetCidr: subnet.cidr, securityGroupIds: [sg], deviceIndex: 0 };
  const spec: InstanceSpec = {
    instanceId: id('i'), accountId: '123456789012', imageRef: IMAGE, vcpus: 1, memoryMiB: 128, hostname: 'bench', publicKeys: [],
    firstBootScript: script,
    nics: [{ eniId: port.eniId, deviceIndex: 0, mac, ips: port.ips, subnetCidr: port.subnetCidr, gateway: port.gateway }],
  };
  const t0 = performance.now();
  // As an instance's launch does: the port is prepared (pair, switch port, flows) while Docker creates and starts
  // the container; the plug then moves it into the namespace.
  const [{ backendId }] = await Promise.all([
    (async () => {
      const c = await docker.create(spec);
      made.push(c.backendId);
      await docker.start(c.backendId); // create makes the container; its sandbox exists once it runs
      return c;
    })(),
    net.prepare(port),
  ]);
  const sandbox = await docker.sandbox(backendId);
  const t1 = performance.now();
  await net.plug(port, sandbox!);
  const t2 = performance.now();
  for (;;) {
    if ((await docker.consoleOutput(backendId)).includes('network is up')) break;
    await sleep(5);
  }
  return { backendId, sandbox: sandbox!, port, ms: { create: t1 - t0, plug: t2 - t1, ready: performance.now() - t0 } };
}

async function plumbing(): Promise<void> {
  const ours: number[] = [];
  const creates: number[] = [];
  const plugs: number[] = [];
  const bareRuns: number[] = [];
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    const r = await run('docker', ['run', '-d', '--label', `thecloud.bench=${CLOUD}`, IMAGE]);
    bareRuns.push(performance.now() - t);
    bare.push(r.stdout.trim());
    const x = await instance();
    creates.push(x.ms.create);
    plugs.push(x.ms.plug);
    ours.push(x.ms.create + x.ms.plug);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`plumbing: bare docker run -d                 ${stats(bareRuns)}`);
  console.log(`plumbing: create+start, port prepared beside ${stats(creates)}`);
  console.log(`plumbing: OVS plug (move in, addresses)      ${stats(plugs)}`);
  console.log(`plumbing: create+start+plug                  ${stats(ours)}  = ${(med(ours) / med(bareRuns)).toFixed(2)}x bare docker run (goal <= 1.30x for RunInstances -> running, bench/instances.ts)`);
}

/** Whether a TCP connection from the host opens within `ms` (each try is a new SYN from a new port). */
function opens(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, host);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, ms);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** Polled from the host through the VPC's host link (THECLOUD_HOST_VPCS), each try a fresh SYN every 20 ms. */
async function ruleChange(): Promise<void> {
  const server = await instance(`nc -ll -p 9000 -e echo ok >/dev/null 2>&1 &`);
  await sleep(300);
  const members = [server.port.ips[0]!];
  const to = server.port.ips[0]!;
  const applies: number[] = [];
  const effects: number[] = [];
  const closes: number[] = [];
  for (let i = 0; i < N; i++) {
    await net.setSecurityGroups({ groups: [group({ open9000: false, members })] });
    if (await opens(to, 9000, 200)) throw new Error('port 9000 open before the rule');
    const t0 = performance.now();
    const change = net.setSecurityGroups({ groups: [group({ open9000: true, members })] }).then(() => applies.push(performance.now() - t0));
    while (!(await opens(to, 9000, 20))) if (performance.now() - t0 > 10_000) throw new Error('the rule never took effect');
    effects.push(performance.now() - t0);
    await change;
    const t1 = performance.now();
    await net.setSecurityGroups({ groups: [group({ open9000: false, members })] });
    while (await opens(to, 9000, 200)) if (performance.now() - t1 > 10_000) throw new Error('the revoke never took effect');
    closes.push(performance.now() - t1);
  }
  console.log(`rule change: authorize call (flows written)        ${stats(applies)}`);
  console.log(`rule change: authorize to first admitted new SYN   ${stats(effects)}`);
  console.log(`rule change: revoke to first refused new SYN       ${stats(closes)}`);
}

async function throughputContainers(tool: Tool): Promise<number> {
  const server = await instance();
  const client = await instance();
  await net.setSecurityGroups({ groups: [group({ open9000: false, members: [server.port.ips[0]!, client.port.ips[0]!] })] });
  const inNetns = (pid: number) => (args: string[]) => run('nsenter', ['-t', String(pid), '-n', ...args], { allowFailure: true, timeoutMs: 300_000 });
  return transfer(tool, inNetns((server.sandbox as { pid: number }).pid), inNetns((client.sandbox as { pid: number }).pid), server.port.ips[0]!);
}

async function throughputBare(tool: Tool): Promise<number> {
  const br = `tcbench${hex(6)}`;
  const ns = [`tcbench-a-${hex(6)}`, `tcbench-b-${hex(6)}`];
  try {
    await run('ovs-vsctl', ['add-br', br, '--', 'set', 'Bridge', br, 'datapath_type=netdev']);
    for (const [i, n] of ns.entries()) {
      const v = `tcbv${hex(8)}`;
      await run('ip', ['netns', 'add', n]);
      await run('ip', ['link', 'add', v, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
      await run('ethtool', ['-K', v, 'tx', 'off']);
      await run('ip', ['netns', 'exec', n, 'ethtool', '-K', 'eth0', 'tx', 'off']);
      await run('ip', ['link', 'set', v, 'up']);
      await run('ip', ['-n', n, 'addr', 'add', `10.89.0.${i + 1}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
      await run('ovs-vsctl', ['add-port', br, v]);
    }
    const inNs = (n: string) => (args: string[]) => run('ip', ['netns', 'exec', n, ...args], { allowFailure: true, timeoutMs: 300_000 });
    return await transfer(tool, inNs(ns[0]!), inNs(ns[1]!), '10.89.0.1');
  } finally {
    await run('ovs-vsctl', ['--if-exists', 'del-br', br], { allowFailure: true });
    for (const n of ns) await run('ip', ['netns', 'del', n], { allowFailure: true });
  }
}

type Exec = (args: string[]) => Promise<{ stdout: string; stderr: string; exitCode: number }>;
type Tool = 'iperf3' | 'busybox';

/**
 * MiB/s of one TCP stream from the client to the server, measured with the host's iperf3 in both namespaces
 * (10 s), or without it with the host's busybox: --mb MiB through `dd | nc` (busybox nc copies in small
 * chunks: a bound of its own). The server's stdin stays open: busybox nc closes the connection at its EOF.
 */
async function transfer(tool: Tool, server: Exec, client: Exec, to: string): Promise<number> {
  if (tool === 'iperf3') {
    const listening = server(['iperf3', '-s', '-1', '-p', '5001']);
    await sleep(500);
    const r = await client(['iperf3', '-c', to, '-p', '5001', '-t', '10', '-J']);
    await listening;
    if (r.exitCode !== 0) throw new Error(`iperf3 failed: ${r.stderr || r.stdout.slice(0, 500)}`);
    const bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
    return bps / 8 / 1024 / 1024;
  }
  // The server's stdin is a FIFO that a background sleep holds open (at EOF busybox nc would close at once), and
  // that sleep is killed once the transfer ended: a plain `sleep 600 | nc ...` pipeline made the shell wait for
  // the sleep, so each transfer took the runner's whole timeout.
  const listening = server(['busybox', 'sh', '-c', 'f=$(busybox mktemp -u); busybox mkfifo "$f"; busybox sleep 600 > "$f" & s=$!; busybox nc -l -p 5001 < "$f" | busybox wc -c; kill $s; busybox rm -f "$f"']);
  await sleep(500);
  const t = performance.now();
  const r = await client(['busybox', 'sh', '-c', `busybox dd if=/dev/zero bs=65536 count=${MB * 16} 2>/dev/null | busybox nc ${to} 5001`]);
  const received = Number((await listening).stdout.trim());
  const s = (performance.now() - t) / 1000;
  if (r.exitCode !== 0 || received !== MB * 1024 * 1024) throw new Error(`transfer failed: ${received} bytes received; ${r.stderr}`);
  return MB / s;
}

async function cleanup(): Promise<void> {
  for (const b of made) await docker.destroy(b).catch(() => undefined);
  for (const b of bare) await run('docker', ['rm', '-f', b], { allowFailure: true });
  await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } }).catch((e: unknown) => console.error(String(e)));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void cleanup().finally(() => process.exit(130)));
try {
  await net.sync({ vpcs: [vpc], subnets: [subnet], ports: [], security: { groups: [group({ open9000: false, members: [] })] } });
  await plumbing();
  await ruleChange();
  const tool: Tool = (await run('iperf3', ['--version'], { allowFailure: true }).catch(() => undefined))?.exitCode === 0 ? 'iperf3' : 'busybox';
  const ours = await throughputContainers(tool);
  const plain = await throughputBare(tool);
  console.log(`throughput (${tool}): two plugged containers (conntrack, groups)  ${ours.toFixed(0)} MiB/s`);
  console.log(`throughput (${tool}): two bare namespaces on a plain bridge       ${plain.toFixed(0)} MiB/s  (ours ${(ours / plain).toFixed(2)}x)`);
} finally {
  await cleanup();
}
