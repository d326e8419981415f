import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { run } from '../../src/adapters/exec/index.js';
import { OvsNetworkBackend, hostLinkAddresses, ovsNames } from '../../src/adapters/ovs/index.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import type { DesiredNetwork, InstanceSpec, PortSpec, Sandbox, SecurityGroupSpec, SubnetSpec, VpcSpec } from '../../src/ports/index.js';
import { needBackend } from '../support/backends.js';

/**
 * Real traffic through the OVS data plane, driven through the adapters alone (no EC2 API): containers plugged by
 * veth, a libvirt VM on its VPC's bridge, two VPCs with the same CIDR. Every instance runs the built-in busybox
 * image; its first-boot script starts listeners:
 *   7000  answers its hostname and `netstat -tn` (so a client sees who answered and from which address it was seen)
 *   80    answers "web80"; 81 answers "web81"
 * Negative checks are `nc -w 2` timing out (a dropped SYN), never a timed assertion.
 */

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);
const id = (p: string) => `${p}-${hex(17)}`;
const CLOUD = hex(16);
const IMAGE = 'thecloud/busybox:latest';
const URI = process.env.LIBVIRT_URI ?? 'qemu:///system';
const VM_IMAGE_DIR = process.env.THECLOUD_TEST_IMAGE_DIR ?? '/var/lib/thecloud/images/thecloud-test';

const LISTENERS = [
  `nc -ll -p 7000 -e sh -c 'hostname; netstat -tn' >/dev/null 2>&1 &`,
  `nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &`,
  `nc -ll -p 81 -e echo web81 >/dev/null 2>&1 &`,
  'echo listeners-ready',
].join('\n');

// Two VPCs with the same CIDR; A has two subnets.
const vpcA: VpcSpec = { vpcId: id('vpc'), cidrs: ['10.77.0.0/16'], vni: 7701 };
const vpcB: VpcSpec = { vpcId: id('vpc'), cidrs: ['10.77.0.0/16'], vni: 7702 };
const subnet = (vpc: VpcSpec, third: number): SubnetSpec => ({ vpcId: vpc.vpcId, subnetId: id('subnet'), cidr: `10.77.${third}.0/24`, gateway: `10.77.${third}.1` });
const a1 = subnet(vpcA, 1);
const a2 = subnet(vpcA, 2);
const b1 = subnet(vpcB, 1);

const sgWeb = id('sg');
const sgClient = id('sg');
const sgB = id('sg');
const sgOther = id('sg');

function port(s: SubnetSpec, ip: string, groups: string[]): PortSpec {
  const mac = `02:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}:${hex(2)}`;
  return { eniId: id('eni'), vpcId: s.vpcId, subnetId: s.subnetId, mac, ips: [ip], gateway: s.gateway, subnetCidr: s.cidr, securityGroupIds: groups, deviceIndex: 0 };
}

interface Instance {
  name: string;
  port: PortSpec;
  backendId?: string;
  sandbox?: Sandbox;
}

// VPC A: web (server) and client in subnet 1, far (client) in subnet 2, vm in subnet 2. VPC B: b1 and b2, with
// the addresses of A's web and client.
const web: Instance = { name: 'web', port: port(a1, '10.77.1.10', [sgWeb]) };
const client: Instance = { name: 'client', port: port(a1, '10.77.1.11', [sgClient]) };
const far: Instance = { name: 'far', port: port(a2, '10.77.2.10', [sgClient]) };
const vm: Instance = { name: 'vm', port: port(a2, '10.77.2.20', [sgWeb, sgClient]) };
const bWeb: Instance = { name: 'bweb', port: port(b1, '10.77.1.10', [sgB]) };
const bClient: Instance = { name: 'bclient', port: port(b1, '10.77.1.11', [sgB]) };
const containers = [web, client, far, bWeb, bClient];
const strays: Instance[] = [];

const { host: HOST_IP } = hostLinkAddresses(0);
const all = { cidr: '0.0.0.0/0' };
function groups(opts: { web80?: boolean; farInClient?: boolean } = {}): SecurityGroupSpec[] {
  const clientMembers = [client, ...(opts.farInClient === false ? [] : [far]), vm].map((i) => i.port.ips[0]!);
  return [
    {
      groupId: sgWeb, vpcId: vpcA.vpcId, memberIps: [web, vm].map((i) => i.port.ips[0]!),
      ingress: [
        { protocol: 'tcp', ports: { from: 7000, to: 7000 }, peer: { groupId: sgClient } },
        { protocol: 'tcp', ports: { from: 7000, to: 7000 }, peer: { cidr: `${HOST_IP}/32` } },
        { protocol: 'icmp', icmp: { type: -1, code: -1 }, peer: all },
        ...(opts.web80 ? [{ protocol: 'tcp' as const, ports: { from: 80, to: 80 }, peer: { cidr: '10.77.0.0/16' } }] : []),
      ],
      egress: [{ protocol: 'all', peer: all }],
    },
    // No ingress rule at all: replies reach its members only as return traffic.
    { groupId: sgClient, vpcId: vpcA.vpcId, memberIps: clientMembers, ingress: [], egress: [{ protocol: 'all', peer: all }] },
    { groupId: sgOther, vpcId: vpcA.vpcId, memberIps: opts.farInClient === false ? [far.port.ips[0]!] : [], ingress: [], egress: [{ protocol: 'all', peer: all }] },
    // VPC B: everything from the group itself in; out, TCP 7000 only (ping out is not allowed, except the router).
    {
      groupId: sgB, vpcId: vpcB.vpcId, memberIps: [bWeb, bClient].map((i) => i.port.ips[0]!),
      ingress: [{ protocol: 'all', peer: { groupId: sgB } }],
      egress: [{ protocol: 'tcp', ports: { from: 7000, to: 7000 }, peer: all }],
    },
  ];
}

async function eventually<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('ovs network adapter: real traffic (Open vSwitch, Docker, libvirt)', function () {
  this.timeout(240_000);
  const net = new OvsNetworkBackend({ cloudId: CLOUD, hostVpcs: [vpcA.vpcId] });
  const docker = new DockerComputeBackend({ cloudId: CLOUD });
  const libvirt = new LibvirtComputeBackend({ uri: URI, cloudId: CLOUD, stopTimeoutMs: 5_000 });
  let withVm = false;

  /** What the adapter needs to rebuild everything: the records, as the service would hand them over. */
  const desired = (extra: Instance[] = [], opts: Parameters<typeof groups>[0] = {}): DesiredNetwork => ({
    vpcs: [vpcA, vpcB],
    subnets: [a1, a2, b1],
    ports: [...containers, ...(withVm ? [vm] : []), ...extra].map((i) => ({ port: i.port, sandbox: i.sandbox! })),
    security: { groups: groups(opts) },
  });

  const exec = async (i: Instance, args: string[]) => (await run('docker', ['exec', i.backendId!, ...args], { allowFailure: true, timeoutMs: 20_000 })).stdout;
  const tcp = (from: Instance, to: string, p: number) => exec(from, ['nc', '-w', '2', to, String(p)]);
  const ping = async (from: Instance, to: string) => (await run('docker', ['exec', from.backendId!, 'ping', '-c', '1', '-W', '2', to], { allowFailure: true })).exitCode === 0;
  /** The address the server at `to`:7000 saw the connection come from, and the server's hostname. */
  const whoSees = async (from: Instance, to: string) => {
    const out = await tcp(from, to, 7000);
    // (Its state may be CLOSE_WAIT already: the client's nc closes its side when its stdin ends. Earlier ones,
    // closed by the server, linger in TIME_WAIT.)
    const peer = out.split('\n').find((l) => /:7000\s+\S+\s+(ESTABLISHED|CLOSE_WAIT)\s*$/.test(l))?.trim().split(/\s+/)[4]?.replace(/^::ffff:/, '').split(':')[0];
    return { host: out.split('\n')[0]?.trim() ?? '', peer };
  };

  /**
   * `prepared`: the port is made ahead, while Docker creates and starts the container (as an instance's launch
   * does), so the plug only moves it in; otherwise the plug makes it all (a reboot, reconciliation).
   */
  async function launch(i: Instance, prepared = false): Promise<void> {
    const spec: InstanceSpec = {
      instanceId: id('i'), accountId: '123456789012', imageRef: IMAGE, vcpus: 1, memoryMiB: 64, hostname: i.name,
      publicKeys: [], firstBootScript: LISTENERS,
      nics: [{ eniId: i.port.eniId, deviceIndex: 0, mac: i.port.mac, ips: i.port.ips, subnetCidr: i.port.subnetCidr, gateway: i.port.gateway }],
    };
    // Made, then started (create does not start): its sandbox, the netns of its pid, exists once it runs.
    const making = (async () => {
      const made = await docker.create(spec);
      i.backendId = made.backendId;
      await docker.start(made.backendId);
    })();
    await Promise.all([making, prepared && net.prepare(i.port)]);
    i.sandbox = await docker.sandbox(i.backendId!);
    assert.equal(i.sandbox?.kind, 'netns');
    await net.plug(i.port, i.sandbox!);
  }

  /** Waits for the listeners of the instance's n-th start. */
  const ready = (i: Instance, starts = 1) =>
    eventually(`${i.name}'s listeners`, 60_000, async () => (await docker.consoleOutput(i.backendId!)).split('listeners-ready').length > starts);

  before(async function () {
    await needBackend(this, 'ovs', () => net.probe());
    await needBackend(this, 'docker', () => docker.probe());
    // Without libvirt (a developer's machine) the VM part alone is skipped; in CI it must be there.
    const vmProbe = await libvirt.probe();
    if (vmProbe.ok && !existsSync(join(VM_IMAGE_DIR, 'vmlinuz'))) Object.assign(vmProbe, { ok: false, detail: `no test VM image in ${VM_IMAGE_DIR}` });
    if (!vmProbe.ok && process.env.CI === 'true') throw new Error(`backend libvirt is required in CI but is not reachable: ${vmProbe.detail}`);
    withVm = vmProbe.ok;
    await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } });
    for (const v of [vpcA, vpcB]) await net.ensureVpc(v);
    for (const s of [a1, a2, b1]) await net.ensureSubnet(s);
    await net.setSecurityGroups({ groups: groups() });
    // The VM boots slowly: start it first, plug it when its tap is there.
    if (withVm) {
      const vmSpec: InstanceSpec = {
        instanceId: id('i'), accountId: '123456789012', imageRef: `kernel:${VM_IMAGE_DIR}`, vcpus: 1, memoryMiB: 256, hostname: 'vm', publicKeys: [],
        firstBootScript: [
          `nc -ll -p 7000 -e sh -c 'hostname; netstat -tn' >/dev/null 2>&1 &`,
          // The VM reaches a container: retried until its port is plugged.
          `i=0; while [ $i -lt 90 ]; do out=$(nc -w 2 ${web.port.ips[0]} 7000 | head -n 1); [ -n "$out" ] && break; i=$((i+1)); sleep 1; done`,
          'echo "vm-reached: $out"',
        ].join('\n'),
        nics: [{ eniId: vm.port.eniId, deviceIndex: 0, mac: vm.port.mac, ips: vm.port.ips, subnetCidr: vm.port.subnetCidr, gateway: vm.port.gateway, vm: net.vmInterface(vm.port) }],
      };
      vm.backendId = (await libvirt.create(vmSpec)).backendId;
      await libvirt.start(vm.backendId);
      vm.sandbox = { kind: 'ovs-port', name: net.vmInterface(vm.port).portName };
      await net.plug(vm.port, vm.sandbox);
    }
    // Half of them with their ports prepared ahead: every traffic check below covers both ways of plugging.
    for (const c of containers) await launch(c, c === client || c === far || c === bClient);
    for (const c of containers) await ready(c);
  });

  after(async function () {
    this.timeout(120_000);
    for (const c of [...containers, ...strays]) if (c.backendId) await docker.destroy(c.backendId).catch((e: unknown) => console.log(`      cleanup ${c.name}: ${String(e)}`));
    if (vm.backendId) await libvirt.destroy(vm.backendId).catch((e: unknown) => console.log(`      cleanup vm: ${String(e)}`));
    await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } }).catch((e: unknown) => console.log(`      cleanup network: ${String(e)}`));
  });

  it('starts a container with no network; its first boot waits for the plug', async () => {
    const log = await docker.consoleOutput(web.backendId!);
    const up = log.indexOf('thecloud-init: network is up');
    assert.ok(up >= 0 && up < log.indexOf('running the first-boot script'), log);
    const links = await exec(web, ['ip', '-o', 'link']);
    assert.deepEqual(links.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]), ['lo', 'eth0'], 'no Docker interface');
    assert.match(await exec(web, ['ip', '-o', 'addr', 'show', 'eth0']), /inet 10\.77\.1\.10\/24/);
    assert.match(await exec(web, ['ip', 'link', 'show', 'eth0']), new RegExp(web.port.mac));
    // A port prepared ahead arrives the same: eth0 only, its MAC and address, nothing of it left on the host.
    const clientLinks = await exec(client, ['ip', '-o', 'link']);
    assert.deepEqual(clientLinks.split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]), ['lo', 'eth0']);
    assert.match(await exec(client, ['ip', '-o', 'addr', 'show', 'eth0']), /inet 10\.77\.1\.11\/24/);
    assert.match(await exec(client, ['ip', 'link', 'show', 'eth0']), new RegExp(client.port.mac));
    const hostLinks = (await run('ip', ['-o', 'link'])).stdout;
    assert.ok(!hostLinks.includes(ovsNames.containerPeer(CLOUD, client.port.eniId)), 'the prepared far end left the host');
  });

  it('removes a port prepared for a container that never ran: by unplug (a failed launch), by sync (a kill mid-launch)', async () => {
    const undone = port(a1, '10.77.1.98', [sgClient]);
    const killed = port(a1, '10.77.1.99', [sgClient]);
    const names = (p: PortSpec) => [ovsNames.containerVeth(CLOUD, p.eniId), ovsNames.containerPeer(CLOUD, p.eniId)];
    const links = async () => (await run('ip', ['-o', 'link'])).stdout;
    for (const p of [undone, killed]) await net.prepare(p);
    for (const n of [...names(undone), ...names(killed)]) assert.ok((await links()).includes(n), `${n} was made`);
    await net.unplug(undone.eniId);
    // The records no longer name the other one (its instance ended while the server was down): sync removes it.
    await net.sync(desired());
    for (const n of [...names(undone), ...names(killed)]) assert.ok(!(await links()).includes(n), `${n} is gone`);
    const onSwitch = (await net.list()).ports.map((p) => p.eniId);
    assert.ok(!onSwitch.includes(undone.eniId) && !onSwitch.includes(killed.eniId), 'no switch port left');
  });

  it('carries traffic within a subnet; the subnet gateway answers ping', async () => {
    assert.deepEqual(await whoSees(client, '10.77.1.10'), { host: 'web', peer: '10.77.1.11' });
    assert.ok(await ping(client, '10.77.1.1'), 'the gateway of subnet 1 answers');
    assert.ok(await ping(far, '10.77.2.1'), 'the gateway of subnet 2 answers');
    assert.ok(await ping(client, '10.77.1.10'), 'web admits ICMP from anywhere');
  });

  it('routes across subnets of a VPC with the instance\'s own source address', async () => {
    assert.deepEqual(await whoSees(far, '10.77.1.10'), { host: 'web', peer: '10.77.2.10' });
  });

  it('carries nothing across VPCs, also with the same CIDR: each VPC reaches its own instance at an address', async () => {
    assert.deepEqual(await whoSees(bClient, '10.77.1.10'), { host: 'bweb', peer: '10.77.1.11' }, 'VPC B reaches its own 10.77.1.10');
    assert.deepEqual(await whoSees(client, '10.77.1.10'), { host: 'web', peer: '10.77.1.11' }, 'VPC A still its own');
    assert.equal(await tcp(bClient, '10.77.2.10', 7000), '', 'A\'s second subnet does not exist in B');
  });

  it('applies egress rules; the VPC router is never filtered', async () => {
    assert.equal(await ping(bClient, '10.77.1.10'), false, 'ICMP out is not allowed by sgB');
    assert.ok(await ping(bClient, '10.77.1.1'), 'the gateway answers anyway, as on AWS');
  });

  it('opens exactly the port a rule names, and closes it when the rule is revoked (return traffic flows)', async () => {
    assert.equal(await tcp(client, '10.77.1.10', 80), '', 'closed before the rule');
    await net.setSecurityGroups({ groups: groups({ web80: true }) });
    // The client's group admits nothing: the answers reach it as return traffic.
    assert.equal((await tcp(client, '10.77.1.10', 80)).trim(), 'web80');
    assert.equal(await tcp(client, '10.77.1.10', 81), '', 'the neighbouring port stays closed');
    await net.setSecurityGroups({ groups: groups({ web80: false }) });
    assert.equal(await tcp(client, '10.77.1.10', 80), '', 'closed again');
  });

  it('changes one VPC\'s groups by a scoped call, leaving the other VPC\'s enforcement and flows as they were', async () => {
    const inA = (opts: Parameters<typeof groups>[0] = {}) => groups(opts).filter((g) => g.vpcId === vpcA.vpcId);
    const flowsOfB = () => run('ovs-ofctl', ['-O', 'OpenFlow14', '--no-stats', 'dump-flows', ovsNames.bridgeName(CLOUD, vpcB.vpcId)]).then((r) => r.stdout);
    const before = await flowsOfB();
    // VPC A's model alone: B's group is not in it, and must not be dropped for that.
    await net.setSecurityGroups({ groups: inA({ web80: true }) }, { vpcIds: [vpcA.vpcId] });
    assert.equal((await tcp(client, '10.77.1.10', 80)).trim(), 'web80', 'A\'s new rule is in effect');
    assert.deepEqual(await whoSees(bClient, '10.77.1.10'), { host: 'bweb', peer: '10.77.1.11' }, 'B\'s source-group rule still admits its member');
    assert.equal(await ping(bClient, '10.77.1.10'), false, 'B\'s egress rule still refuses ICMP');
    assert.equal(await flowsOfB(), before, 'B\'s bridge has the flows it had');
    // A scoped model naming a group of another VPC is refused, and nothing changes.
    await assert.rejects(net.setSecurityGroups({ groups: groups() }, { vpcIds: [vpcA.vpcId] }), TypeError);
    assert.equal((await tcp(client, '10.77.1.10', 80)).trim(), 'web80', 'the refused call changed nothing');
    await net.setSecurityGroups({ groups: inA() }, { vpcIds: [vpcA.vpcId] });
    assert.equal(await tcp(client, '10.77.1.10', 80), '', 'closed again');
    assert.deepEqual(await whoSees(bClient, '10.77.1.10'), { host: 'bweb', peer: '10.77.1.11' });
    assert.equal(await flowsOfB(), before);
  });

  it('follows group membership for source-group rules', async () => {
    assert.equal((await whoSees(far, '10.77.1.10')).host, 'web');
    await net.setPortSecurityGroups(far.port.eniId, [sgOther]);
    far.port = { ...far.port, securityGroupIds: [sgOther] };
    await net.setSecurityGroups({ groups: groups({ farInClient: false }) });
    assert.equal(await tcp(far, '10.77.1.10', 7000), '', 'no longer a member: refused');
    await net.setPortSecurityGroups(far.port.eniId, [sgClient]);
    far.port = { ...far.port, securityGroupIds: [sgClient] };
    await net.setSecurityGroups({ groups: groups() });
    assert.equal((await whoSees(far, '10.77.1.10')).host, 'web', 'a member again');
  });

  it('lets the host reach a chosen VPC through its router, seen from its link address', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      let text = '';
      const sock = connect(7000, '10.77.1.10');
      sock.on('data', (d) => (text += d.toString()));
      sock.on('end', () => resolve(text));
      sock.on('error', reject);
      sock.setTimeout(10_000, () => reject(new Error('no answer from 10.77.1.10:7000')));
    });
    assert.equal(out.split('\n')[0], 'web');
    assert.match(out, new RegExp(`:7000\\s+(::ffff:)?${HOST_IP.replace(/\./g, '\\.')}:\\d+\\s+ESTABLISHED`));
  });

  it('carries traffic between a container and a libvirt VM, both ways', async function () {
    if (!withVm) this.skip();
    assert.ok(await ping(far, '10.77.2.20'), 'the VM answers ping in its subnet');
    assert.deepEqual(await eventually('the VM\'s listener', 90_000, async () => {
      const seen = await whoSees(client, '10.77.2.20');
      return seen.host === 'vm' && seen;
    }), { host: 'vm', peer: '10.77.1.11' });
    const line = await eventually('the VM to reach web', 120_000, async () => (await libvirt.consoleOutput(vm.backendId!)).split('\n').find((l) => l.includes('vm-reached:')));
    assert.match(line, /vm-reached: web/);
  });

  it('rebuilds the switch from the records alone after it was wiped (a host reboot, an OVS restart)', async () => {
    await run('ovs-vsctl', ['del-br', ovsNames.bridgeName(CLOUD, vpcA.vpcId)]);
    assert.equal(await tcp(client, '10.77.1.10', 7000), '', 'gone with the bridge');
    const report = await net.sync(desired());
    assert.deepEqual(report.removed, []);
    assert.equal((await whoSees(client, '10.77.1.10')).host, 'web');
    assert.equal((await whoSees(far, '10.77.1.10')).peer, '10.77.2.10', 'routing back too');
    // The running VM's tap, which went with the bridge, is back on it.
    if (withVm) assert.ok(await ping(far, '10.77.2.20'), 'the VM is back on the network');
  });

  it('re-plugs a container after a restart (a new network namespace)', async () => {
    await docker.stop(web.backendId!, { force: true });
    await docker.start(web.backendId!);
    web.sandbox = await docker.sandbox(web.backendId!);
    await net.plug(web.port, web.sandbox!);
    // The first-boot script ran once: the listeners are started again by hand.
    await exec(web, ['sh', '-c', LISTENERS]);
    assert.equal((await whoSees(client, '10.77.1.10')).host, 'web');
  });

  it('removes orphans: a port the records do not name, a half-made veth, another VPC of this installation', async () => {
    const stray: Instance = { name: 'stray', port: port(a1, '10.77.1.12', [sgClient]) };
    await launch(stray);
    strays.push(stray); // destroyed in after()
    const halfMade = ovsNames.containerVeth(CLOUD, id('eni'));
    await run('ip', ['link', 'add', halfMade, 'type', 'veth', 'peer', 'name', `tcx${hex(8)}`]);
    await run('ip', ['link', 'set', halfMade, 'alias', ovsNames.ifalias(CLOUD, 'eni-0')]);
    const oldVpc: VpcSpec = { vpcId: id('vpc'), cidrs: ['10.78.0.0/16'], vni: 7703 };
    await net.ensureVpc(oldVpc);
    // Another installation's veth (same naming scheme, other id) must survive.
    const foreign = ovsNames.containerVeth('0123abcd', id('eni'));
    await run('ip', ['link', 'add', foreign, 'type', 'veth', 'peer', 'name', `tcx${hex(8)}`]);
    await run('ip', ['link', 'set', foreign, 'alias', ovsNames.ifalias('0123abcd', 'eni-0')]);
    try {
      const { removed } = await net.sync(desired());
      const strayVeth = ovsNames.containerVeth(CLOUD, stray.port.eniId);
      for (const name of [strayVeth, halfMade, ovsNames.bridgeName(CLOUD, oldVpc.vpcId)]) assert.ok(removed.includes(name), `${name} removed (${removed.join(', ')})`);
      const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
      assert.ok(!links.includes(strayVeth) && !links.includes(halfMade), 'the veths are gone');
      assert.ok(links.includes(foreign), 'another installation\'s veth is left alone');
      assert.equal(existsSync(`/run/netns/${ovsNames.routerNetns(CLOUD, oldVpc.vpcId)}`), false);
      assert.equal((await net.list()).ports.some((p) => p.eniId === stray.port.eniId), false);
      assert.equal((await whoSees(client, '10.77.1.10')).host, 'web', 'the others still work');
    } finally {
      await run('ip', ['link', 'del', foreign], { allowFailure: true });
    }
  });

  it('leaves nothing of this installation on the host when everything is gone', async () => {
    for (const c of [...containers, ...strays]) await docker.destroy(c.backendId!);
    if (vm.backendId) await libvirt.destroy(vm.backendId);
    containers.length = 0;
    strays.length = 0;
    vm.backendId = undefined;
    await net.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } });
    const [show, links, netns] = await Promise.all([run('ovs-vsctl', ['show']), run('ip', ['-o', 'link', 'show']), run('ip', ['netns', 'list'])]);
    for (const v of [vpcA, vpcB]) {
      assert.ok(!show.stdout.includes(ovsNames.bridgeName(CLOUD, v.vpcId)), 'bridge removed');
      assert.ok(!netns.stdout.includes(ovsNames.routerNetns(CLOUD, v.vpcId)), 'router namespace removed');
    }
    assert.ok(!links.stdout.includes(`thecloud:${CLOUD}:`), 'no veth of ours left');
    assert.deepEqual(await net.list(), { vpcs: [], subnets: [], ports: [] });
    assert.ok(!(await run('ip', ['route', 'show', '10.77.0.0/16'])).stdout.trim(), 'the host route went with its link');
  });
});
