/**
 * NetworkBackend on Open vSwitch. One bridge per VPC (userspace datapath where the kernel has no openvswitch
 * module): isolation is structural (no port, patch or flow joins two VPC bridges), so no packet can cross VPCs
 * even with the same CIDR; conntrack zones are per port, so the shared userspace conntrack never mixes VPCs
 * either. A bridge is ready for VXLAN to other hosts: a tunnel port per peer with options:key=<the VPC's VNI>
 * (kept in the bridge's external_ids).
 *
 * The model (VPCs, subnets, plugged ports, groups) lives in memory and is (re)built by `sync` from the
 * service's records; each change recomputes the flows of the bridges it concerns (flows.ts) and writes them in
 * one bundle when they differ from what this process last wrote.
 */
import type { Socket as DgramSocket } from 'node:dgram';
import { run as defaultRun, type Runner } from '../exec/index.js';
import {
  DHCP_CLIENT_PORT,
  type DhcpOptionsLookup,
  METADATA_ADDRESS,
  METADATA_PORT,
  NetworkNotSyncedError,
  type DesiredNetwork,
  type DnsResponder,
  type MetadataAcceptor,
  type NetworkBackend,
  type NetworkAclSpec,
  type NetworkInventory,
  type PortSpec,
  type ProbeResult,
  type Sandbox,
  type SecurityGroupSpec,
  type SecurityModel,
  type SubnetSpec,
  type SyncReport,
  type VmInterface,
  type VpcRouting,
  type VpcScope,
  type VpcSpec,
} from '../../ports/index.js';
import * as n from './names.js';
import { EXT, Host, type OvsInterface } from './host.js';
import { bridgeFlows, type BridgeModel } from './flows.js';
import { ensureBridge, ensureHostLink, ensureLeg, ensureResolverAddresses, ensureRouterNetns, removeLeg, removeVpc, resolverAddresses } from './router.js';
import { applyPublicIps, applyRouting, checkRouting, hostRuleVpcs, onlyPublicIpsChanged, removeHostRules, removeUplink } from './edge.js';
import { moveIntoSandbox, plugContainer, plugVm, prepareContainer, unplugPort } from './ports.js';
import { checkAcls } from './acl-flows.js';
import { dhcpAnswer } from './dhcp-server.js';
import { dhcpService, dnsService, metadataService, RouterListeners } from './router-listeners.js';
import { PortTable } from './port-table.js';

export interface OvsOptions {
  /** The installation's id: on every host object, and the scope of list() and sync(). */
  cloudId: string;
  runner?: Runner;
  /** VPCs the host reaches through their router (THECLOUD_HOST_VPCS); their order gives each its /30. */
  hostVpcs?: string[];
  /** How long plug waits for a VM's tap to appear (default 15 s). */
  vmTapWaitMs?: number;
}

interface PluggedPort {
  spec: PortSpec;
  /** Undefined: a container port prepared (on the bridge, flows written) whose container does not run yet. */
  sandbox?: Sandbox;
  zone: number;
}

export class OvsNetworkBackend implements NetworkBackend {
  readonly name = 'ovs' as const;
  readonly cloudId: string;
  private readonly host: Host;
  private hostVpcs: string[];
  private readonly vmTapWaitMs: number;
  private synced = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly vpcs = new Map<string, VpcSpec>();
  private readonly subnets = new Map<string, SubnetSpec>();
  /** Plugged ports by ENI id, also found by (VPC, primary address) for DHCP (./port-table.ts). */
  private readonly ports = new PortTable<PluggedPort>();
  private groups = new Map<string, SecurityGroupSpec>();
  /** Each VPC's network ACLs (a VPC with none is not filtered). */
  private acls = new Map<string, NetworkAclSpec[]>();
  /** Each VPC's routing (route tables, internet uplink: ./edge.ts), as last set. */
  private readonly routing = new Map<string, VpcRouting>();
  /** The services on sockets in each VPC's router namespace (./router-listeners.ts): serveMetadata, serveDns, serveDhcp. */
  private readonly netnsOf = (vpcId: string) => n.routerNetns(this.cloudId, vpcId);
  private readonly metadata = new RouterListeners(this.netnsOf, metadataService);
  private readonly dns = new RouterListeners(this.netnsOf, dnsService);
  private readonly dhcp = new RouterListeners(this.netnsOf, dhcpService((...a) => this.answerDhcp(...a)));
  /** Each VPC's routing as this process last applied it whole or by delta, with success (applyRoutingOf). */
  private readonly appliedRouting = new Map<string, { vpc: VpcSpec; routing: VpcRouting }>();
  /** The flows this process last wrote, per bridge: an unchanged model writes nothing. */
  private readonly written = new Map<string, string>();

  constructor(opts: OvsOptions) {
    this.cloudId = n.cloudId(opts.cloudId);
    this.host = new Host(opts.runner ?? defaultRun);
    this.hostVpcs = (opts.hostVpcs ?? []).map(n.vpcId);
    this.vmTapWaitMs = opts.vmTapWaitMs ?? 15_000;
  }

  // --- VPCs and subnets ---------------------------------------------------------------------------------------

  async ensureVpc(vpc: VpcSpec): Promise<void> {
    n.vpcSpec(vpc);
    return this.locked(async () => {
      this.vpcs.set(vpc.vpcId, vpc);
      await this.realiseVpc(vpc);
      await this.applyRoutingOf(vpc.vpcId);
      if (this.synced) await this.writeFlows(vpc.vpcId);
    });
  }

  async deleteVpc(vpcId: string): Promise<void> {
    n.vpcId(vpcId);
    return this.locked(async () => {
      // Container veths do not go with the bridge: they are removed with it.
      const veths = (await this.host.interfaces()).filter((i) => i.ext[EXT.cloud] === this.cloudId && i.ext[EXT.vpc] === vpcId && i.ext[EXT.kind] === 'container');
      for (const l of this.listeners()) l.close(vpcId);
      await removeUplink(this.host, this.cloudId, vpcId);
      this.routing.delete(vpcId);
      this.appliedRouting.delete(vpcId);
      await removeVpc(this.host, this.cloudId, vpcId);
      for (const v of veths) await this.host.ip(['link', 'del', v.name], { allowFailure: true });
      this.vpcs.delete(vpcId);
      this.acls.delete(vpcId);
      for (const [id, s] of this.subnets) if (s.vpcId === vpcId) this.subnets.delete(id);
      for (const [id, p] of this.ports) if (p.spec.vpcId === vpcId) this.ports.delete(id);
      this.written.delete(n.bridgeName(this.cloudId, vpcId));
    });
  }

  async ensureSubnet(subnet: SubnetSpec): Promise<void> {
    n.subnetSpec(subnet);
    return this.locked(async () => {
      if (!this.vpcs.has(subnet.vpcId) && !this.host.netnsExists(n.routerNetns(this.cloudId, subnet.vpcId))) {
        throw new Error(`VPC ${subnet.vpcId} does not exist on this host: ensureVpc first`);
      }
      this.subnets.set(subnet.subnetId, subnet);
      await ensureLeg(this.host, this.cloudId, subnet);
      await this.applyRoutingOf(subnet.vpcId);
      if (this.synced) await this.writeFlows(subnet.vpcId);
    });
  }

  async deleteSubnet(vpcId: string, subnetId: string): Promise<void> {
    n.vpcId(vpcId);
    n.subnetId(subnetId);
    return this.locked(async () => {
      await removeLeg(this.host, this.cloudId, vpcId, subnetId);
      this.subnets.delete(subnetId);
      this.appliedRouting.delete(vpcId);
      if (this.synced) await this.writeFlows(vpcId);
    });
  }

  // --- ports ----------------------------------------------------------------------------------------------------

  /**
   * Makes a container port ahead of its container (see prepareContainer): on the bridge, with its flows. The
   * plug that follows, once the container runs, then only moves it in. Undone by unplug, as a plug is.
   */
  async prepare(port: PortSpec): Promise<void> {
    n.portSpec(port);
    return this.locked(async () => {
      this.requireSynced();
      this.requireNetwork(port);
      const ifaces = await this.host.interfaces();
      const existing = this.ports.get(port.eniId);
      const veth = n.containerVeth(this.cloudId, port.eniId);
      const zone = this.zoneFor(port, this.zones(ifaces), ifaces);
      await prepareContainer(this.host, this.cloudId, port, zone, ifaces.some((i) => i.name === veth));
      // A port plugged already (its container runs) stays so; prepared, it waits for its sandbox.
      this.ports.set(port.eniId, { spec: port, sandbox: existing?.sandbox, zone });
      await this.writeFlows(port.vpcId);
    });
  }

  async plug(port: PortSpec, sandbox: Sandbox): Promise<void> {
    n.portSpec(port);
    checkSandbox(sandbox);
    return this.locked(async () => {
      this.requireSynced();
      // Prepared in this process (since the last sync) for this very spec: only the move into the sandbox is
      // left, and the flows written at prepare are the same. Anything else: the whole plug below.
      const prepared = this.ports.get(port.eniId);
      if (sandbox.kind === 'netns' && prepared && !prepared.sandbox && JSON.stringify(prepared.spec) === JSON.stringify(port)) {
        if (await moveIntoSandbox(this.host, this.cloudId, port, sandbox.pid)) {
          this.ports.set(port.eniId, { ...prepared, sandbox });
          return;
        }
      }
      const ifaces = await this.host.interfaces();
      await this.plugOne(port, sandbox, this.zones(ifaces), ifaces);
      await this.writeFlows(port.vpcId);
    });
  }

  async unplug(eniId: string): Promise<void> {
    n.eniId(eniId);
    return this.locked(async () => {
      this.requireSynced();
      const known = this.ports.get(eniId);
      this.ports.delete(eniId);
      const onHost = (await this.host.interfaces()).filter((i) => i.ext[EXT.cloud] === this.cloudId && i.ext[EXT.eni] === eniId);
      for (const i of onHost) await unplugPort(this.host, i.name, i.ext[EXT.kind] === 'vm' ? 'vm' : 'container');
      // A veth whose OVS port was never made (a kill mid-plug) goes too.
      await this.host.ip(['link', 'del', n.containerVeth(this.cloudId, eniId)], { allowFailure: true });
      const vpcs = new Set([known?.spec.vpcId, ...onHost.map((i) => i.ext[EXT.vpc])].filter((v): v is string => !!v && this.vpcs.has(v)));
      for (const v of vpcs) await this.writeFlows(v);
    });
  }

  async setPortSecurityGroups(eniId: string, securityGroupIds: string[]): Promise<void> {
    n.eniId(eniId);
    securityGroupIds.forEach(n.groupId);
    return this.locked(async () => {
      this.requireSynced();
      const p = this.ports.get(eniId);
      if (!p) throw new Error(`network interface ${eniId} is not plugged on this host`);
      p.spec = { ...p.spec, securityGroupIds: [...securityGroupIds] };
      await this.writeFlows(p.spec.vpcId);
    });
  }

  /**
   * Scoped: the scope's VPCs' groups are replaced by the model's and only their bridges are recomputed (a VPC's
   * flows read its own groups alone: a rule's peer group is in its VPC), so a change costs what its VPC holds.
   */
  async setSecurityGroups(model: SecurityModel, scope?: VpcScope): Promise<void> {
    const groups = checkGroups(model);
    const vpcs = checkScope(scope, [...groups.values()], 'security group');
    return this.locked(async () => {
      this.requireSynced();
      if (!vpcs) {
        this.groups = groups;
        return this.writeAllFlows();
      }
      for (const [id, g] of this.groups) if (vpcs.has(g.vpcId)) this.groups.delete(id);
      for (const [id, g] of groups) this.groups.set(id, g);
      await this.writeFlowsOf(vpcs);
    });
  }

  async setNetworkAcls(acls: NetworkAclSpec[], scope?: VpcScope): Promise<void> {
    const checked = checkAcls(acls);
    const vpcs = checkScope(scope, checked, 'network ACL');
    return this.locked(async () => {
      this.requireSynced();
      if (!vpcs) {
        this.acls = aclsByVpc(checked);
        return this.writeAllFlows();
      }
      const mine = aclsByVpc(checked);
      for (const v of vpcs) {
        const list = mine.get(v);
        if (list) this.acls.set(v, list);
        else this.acls.delete(v);
      }
      await this.writeFlowsOf(vpcs);
    });
  }

  setHostVpcs(vpcIds: string[]): void {
    this.hostVpcs = vpcIds.map(n.vpcId);
  }

  async serveDhcp(lookup: DhcpOptionsLookup | null): Promise<void> {
    return this.locked(() => this.dhcp.serve(lookup, this.vpcs.values()));
  }

  async serveMetadata(accept: MetadataAcceptor | null): Promise<void> {
    return this.locked(() => this.metadata.serve(accept, this.vpcs.values()));
  }

  async serveDns(respond: DnsResponder | null): Promise<void> {
    return this.locked(() => this.dns.serve(respond, this.vpcs.values()));
  }

  /**
   * One iptables rule in the router namespace's mangle OUTPUT chain per limited connection (the metadata answers
   * come from a local socket there): the exact 4-tuple, TTL set to `hops`. Rules live as long as their connection
   * (a token request is rare: SDKs keep a token for hours); a namespace made anew starts without any.
   */
  async limitMetadataHops(vpcId: string, peer: { address: string; port: number }, hops: number): Promise<() => Promise<void>> {
    n.vpcId(vpcId);
    n.ipv4('peer address', peer.address);
    if (!Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535) throw new TypeError(`invalid peer port ${peer.port}`);
    if (!Number.isInteger(hops) || hops < 1 || hops > 64) throw new TypeError(`invalid hop limit ${hops}`);
    const ns = n.routerNetns(this.cloudId, vpcId);
    const rule = ['-t', 'mangle', '?', 'OUTPUT', '-s', `${METADATA_ADDRESS}/32`, '-d', `${peer.address}/32`, '-p', 'tcp', '--sport', String(METADATA_PORT), '--dport', String(peer.port), '-j', 'TTL', '--ttl-set', String(hops)];
    const iptables = (op: '-A' | '-D') => this.host.ip(['netns', 'exec', ns, 'iptables', '-w', '5', ...rule.map((w) => (w === '?' ? op : w))], { allowFailure: op === '-D' });
    await iptables('-A');
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (this.host.netnsExists(ns)) await iptables('-D');
    };
  }

  vmInterface(port: PortSpec): VmInterface {
    n.portSpec(port);
    return {
      bridge: n.bridgeName(this.cloudId, port.vpcId),
      portName: n.vmTap(this.cloudId, port.eniId),
      interfaceId: n.interfaceUuid(this.cloudId, port.eniId),
      mac: port.mac,
    };
  }

  async setRouting(routing: VpcRouting): Promise<void> {
    checkRouting(routing);
    return this.locked(async () => {
      this.routing.set(routing.vpcId, routing);
      await this.applyRoutingOf(routing.vpcId, { delta: true });
    });
  }

  /**
   * Applies the VPC's routing: whole (applyRouting converges everything), or only the public-address delta when
   * that is all that changed since this process last applied it whole with success (a launch's or a stop's public
   * IP). The delta failing falls back to the whole; sync and every VPC or subnet change apply it whole.
   */
  private async applyRoutingOf(vpcId: string, opts: { delta?: boolean } = {}): Promise<void> {
    const vpc = this.vpcs.get(vpcId);
    const r = this.routing.get(vpcId);
    if (!vpc || !r) return;
    const applied = this.appliedRouting.get(vpcId);
    this.appliedRouting.delete(vpcId);
    if (opts.delta && applied && applied.vpc === vpc && onlyPublicIpsChanged(applied.routing, r)) {
      try {
        await applyPublicIps(this.host, this.cloudId, vpc, applied.routing, r);
        this.appliedRouting.set(vpcId, { vpc, routing: r });
        return;
      } catch {
        // The whole routing below converges whatever the delta found different.
      }
    }
    await applyRouting(this.host, this.cloudId, vpc, [...this.subnets.values()].filter((s) => s.vpcId === vpcId), r);
    this.appliedRouting.set(vpcId, { vpc, routing: r });
  }

  // --- reconciliation -----------------------------------------------------------------------------------------

  async list(): Promise<NetworkInventory> {
    const [bridges, ifaces] = await Promise.all([this.host.bridges(), this.host.interfaces()]);
    const mine = ifaces.filter((i) => i.ext[EXT.cloud] === this.cloudId);
    return {
      vpcs: bridges.filter((b) => b.ext[EXT.cloud] === this.cloudId && b.ext[EXT.vpc]).map((b) => b.ext[EXT.vpc]!),
      subnets: mine.filter((i) => i.ext[EXT.kind] === 'router').map((i) => i.ext[EXT.subnet]!),
      ports: mine
        .filter((i) => i.ext[EXT.kind] === 'container' || i.ext[EXT.kind] === 'vm')
        .map((i) => ({ eniId: i.ext[EXT.eni]!, vpcId: i.ext[EXT.vpc]!, kind: i.ext[EXT.kind] as 'container' | 'vm', name: i.name, attached: i.ofport !== undefined })),
    };
  }

  async sync(desired: DesiredNetwork): Promise<SyncReport> {
    desired.vpcs.forEach(n.vpcSpec);
    desired.subnets.forEach(n.subnetSpec);
    for (const p of desired.ports) {
      n.portSpec(p.port);
      checkSandbox(p.sandbox);
    }
    const groups = checkGroups(desired.security);
    const acls = checkAcls(desired.acls ?? []);
    desired.routing?.forEach(checkRouting);
    return this.locked(async () => {
      this.acls = aclsByVpc(acls);
      if (desired.routing) {
        this.routing.clear();
        for (const r of desired.routing) this.routing.set(r.vpcId, r);
      }
      this.vpcs.clear();
      this.subnets.clear();
      this.ports.clear();
      this.written.clear();
      this.appliedRouting.clear();
      this.groups = groups;
      for (const v of desired.vpcs) this.vpcs.set(v.vpcId, v);
      for (const l of this.listeners()) l.closeOthers(this.vpcs);
      for (const s of desired.subnets) if (this.vpcs.has(s.vpcId)) this.subnets.set(s.subnetId, s);
      const removed = await this.removeOrphans(desired);
      const errors: Error[] = [];
      const attempt = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (e) {
          errors.push(new Error(`${what}: ${(e as Error).message}`, { cause: e }));
        }
      };
      for (const v of this.vpcs.values()) await attempt(v.vpcId, () => this.realiseVpc(v));
      for (const s of this.subnets.values()) await attempt(s.subnetId, () => ensureLeg(this.host, this.cloudId, s));
      for (const v of this.vpcs.keys()) await attempt(`routing of ${v}`, () => this.applyRoutingOf(v));
      const ifaces = await this.host.interfaces();
      const zones = this.zones(ifaces);
      for (const { port, sandbox } of desired.ports) {
        if (!this.vpcs.has(port.vpcId)) {
          errors.push(new Error(`${port.eniId}: its VPC ${port.vpcId} is not in the desired network`));
          continue;
        }
        await attempt(port.eniId, () => this.plugOne(port, sandbox, zones, ifaces));
      }
      for (const v of this.vpcs.keys()) await attempt(`flows of ${v}`, () => this.writeFlows(v));
      this.synced = true;
      if (errors.length) throw new AggregateError(errors, `network sync left ${errors.length} problem(s): ${errors.map((e) => e.message).join('; ')}`);
      return { removed };
    });
  }

  async probe(): Promise<ProbeResult> {
    try {
      await this.host.vsctl(['--timeout=3', 'show']);
    } catch (e) {
      return { ok: false, detail: `ovs-vsctl does not answer: ${(e as Error).message.split('\n')[0]}` };
    }
    let version: string;
    try {
      version = await this.host.switchVersion();
    } catch (e) {
      return { ok: false, detail: `ovsdb-server answers but ovs-vswitchd does not (scripts/setup-ovs.sh starts it): ${(e as Error).message.split('\n')[0]}` };
    }
    for (const tool of [['ip', '-V'], ['ethtool', '--version'], ['nsenter', '--version'], ['ovs-ofctl', '--version'], ['iptables', '--version']] as const) {
      if (!(await this.host.has(tool[0], [tool[1]]))) return { ok: false, detail: `${tool[0]} is not installed (scripts/setup-ovs.sh installs it)` };
    }
    return { ok: true, detail: `ovsdb-server and ovs-vswitchd answer (${version})` };
  }

  // --- internals --------------------------------------------------------------------------------------------------

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private requireSynced(): void {
    if (!this.synced) throw new NetworkNotSyncedError();
  }

  private async realiseVpc(vpc: VpcSpec): Promise<void> {
    await ensureBridge(this.host, this.cloudId, vpc);
    await ensureRouterNetns(this.host, this.cloudId, vpc.vpcId);
    const index = this.hostVpcs.indexOf(vpc.vpcId);
    if (index >= 0) await ensureHostLink(this.host, this.cloudId, vpc, index);
    await ensureResolverAddresses(this.host, this.cloudId, vpc);
    for (const l of this.listeners()) await l.ensure(vpc);
  }

  /** The router's services, in the order a VPC gets them. */
  private listeners() {
    return [this.metadata, this.dns, this.dhcp];
  }

  /**
   * The answer to a DHCP request in the VPC's router namespace. The sender address names the port (flows.ts); the
   * answer goes back to that address, on the subnet's leg, to the port's MAC (a neighbour entry written first: a
   * client without its address yet answers no ARP).
   */
  private async answerDhcp(vpcId: string, ns: string, socket: DgramSocket, message: Buffer, from: string, lookup: DhcpOptionsLookup): Promise<void> {
    const port = this.ports.byAddress(vpcId, from)?.spec;
    if (!port) return;
    const options = await lookup(vpcId);
    if (!options) return;
    const reply = dhcpAnswer(message, port, options);
    if (!reply) return;
    const to = port.ips[0]!;
    const leg = n.routerLegInside(this.cloudId, port.subnetId);
    await this.host.ip(['-n', ns, 'neigh', 'replace', to, 'lladdr', n.mac(port.mac), 'dev', leg, 'nud', 'stale'], { allowFailure: true });
    socket.send(reply, DHCP_CLIENT_PORT, to);
  }

  /** Zones in use on the host (by any installation) and in the model: a new port takes the lowest free one. */
  private zones(ifaces: OvsInterface[]): Set<number> {
    const used = new Set<number>();
    for (const i of ifaces) if (i.ext[EXT.zone]) used.add(Number(i.ext[EXT.zone]));
    for (const p of this.ports.values()) used.add(p.zone);
    return used;
  }

  private requireNetwork(port: PortSpec): void {
    if (!this.vpcs.has(port.vpcId)) throw new Error(`VPC ${port.vpcId} of ${port.eniId} is not on this host: ensureVpc first`);
    if (!this.subnets.has(port.subnetId)) throw new Error(`subnet ${port.subnetId} of ${port.eniId} is not on this host: ensureSubnet first`);
  }

  /** The port's conntrack zone: the one it has (in the model, or on the host), else the lowest free one. */
  private zoneFor(port: PortSpec, used: Set<number>, ifaces: OvsInterface[]): number {
    const existing = this.ports.get(port.eniId);
    const onHost = ifaces.find((i) => i.ext[EXT.cloud] === this.cloudId && i.ext[EXT.eni] === port.eniId);
    let zone = existing?.zone ?? (onHost?.ext[EXT.zone] ? Number(onHost.ext[EXT.zone]) : 0);
    if (!zone) {
      zone = 1;
      while (used.has(zone)) zone++;
      if (zone > 65535) throw new Error('no conntrack zone left on this host');
    }
    used.add(zone);
    return zone;
  }

  private async plugOne(port: PortSpec, sandbox: Sandbox, used: Set<number>, ifaces: OvsInterface[]): Promise<void> {
    this.requireNetwork(port);
    const existing = this.ports.get(port.eniId);
    const zone = this.zoneFor(port, used, ifaces);
    if (sandbox.kind === 'netns') {
      const veth = n.containerVeth(this.cloudId, port.eniId);
      await plugContainer(this.host, this.cloudId, port, sandbox.pid, zone, ifaces.some((i) => i.name === veth));
    }
    else await plugVm(this.host, this.cloudId, port, sandbox.name, zone, this.vmTapWaitMs);
    // An address new to a plugged port (AssignPrivateIpAddresses, maybe moved from another port): the router
    // forgets where it last found it, so that it asks again instead of sending to the old MAC.
    const added = existing ? port.ips.filter((ip) => !existing.spec.ips.includes(ip)) : [];
    const ns = n.routerNetns(this.cloudId, port.vpcId);
    for (const ip of added) await this.host.ip(['-n', ns, 'neigh', 'flush', 'to', ip], { allowFailure: true });
    this.ports.set(port.eniId, { spec: port, sandbox, zone });
  }

  /** Every VPC's flows, on one listing of the interfaces (nothing is plugged meanwhile: all under the lock). */
  private async writeAllFlows(): Promise<void> {
    await this.writeFlowsOf(this.vpcs.keys());
  }

  /** These VPCs' flows (those on this host), on one listing of the interfaces. */
  private async writeFlowsOf(vpcIds: Iterable<string>): Promise<void> {
    const here = [...vpcIds].filter((v) => this.vpcs.has(v));
    if (!here.length) return;
    const listed = await this.host.interfaces();
    for (const v of here) await this.writeFlows(v, listed);
  }

  /**
   * Recomputes the VPC bridge's flows from the model and the ports' current OpenFlow numbers (from `listed`, an
   * interface listing made under the same lock hold, or a fresh one).
   */
  private async writeFlows(vpcId: string, listed?: OvsInterface[]): Promise<void> {
    if (!this.vpcs.has(vpcId)) return;
    const br = n.bridgeName(this.cloudId, vpcId);
    const ifaces = new Map<string, OvsInterface>((listed ?? (await this.host.interfaces())).map((i) => [i.name, i]));
    const subnets = [...this.subnets.values()].filter((s) => s.vpcId === vpcId).sort((a, b) => a.subnetId.localeCompare(b.subnetId));
    const vpc = this.vpcs.get(vpcId)!;
    const model: BridgeModel = {
      routerAddresses: resolverAddresses(vpc),
      subnets: subnets.map((s, i) => ({
        spec: s,
        tag: i + 1,
        legMac: n.routerMac(this.cloudId, s.subnetId),
        legOfport: ifaces.get(n.routerLeg(this.cloudId, s.subnetId))?.ofport,
      })),
      ports: [...this.ports.values()]
        .filter((p) => p.spec.vpcId === vpcId)
        .map((p) => {
          const name = p.sandbox?.kind === 'ovs-port' ? p.sandbox.name : n.containerVeth(this.cloudId, p.spec.eniId);
          const i = ifaces.get(name);
          return { spec: p.spec, zone: p.zone, ofport: i && i.ext[EXT.eni] === p.spec.eniId ? i.ofport : undefined };
        }),
      groups: this.groups,
      acls: this.acls.get(vpcId) ?? [],
    };
    const flows = bridgeFlows(model);
    if (this.written.get(br) === flows) return;
    await this.host.replaceFlows(br, flows);
    this.written.set(br, flows);
  }

  /** Removes every object of this installation that `desired` does not name; returns their names. */
  private async removeOrphans(desired: DesiredNetwork): Promise<string[]> {
    const removed: string[] = [];
    const wantVpcs = new Set(desired.vpcs.map((v) => v.vpcId));
    const wantSubnets = new Set(desired.subnets.filter((s) => wantVpcs.has(s.vpcId)).map((s) => s.subnetId));
    const wantPorts = new Map(desired.ports.map((p) => [p.port.eniId, p]));
    const bridges = await this.host.bridges();
    for (const b of bridges) {
      const vpc = b.ext[EXT.vpc];
      if (b.ext[EXT.cloud] !== this.cloudId || !vpc || wantVpcs.has(vpc)) continue;
      await removeVpc(this.host, this.cloudId, vpc);
      removed.push(b.name);
    }
    for (const ns of this.host.netnsList()) {
      const m = n.ROUTER_NETNS.exec(ns);
      if (!m || m[1] !== this.cloudId || wantVpcs.has(m[2]!)) continue;
      await removeVpc(this.host, this.cloudId, m[2]!);
      removed.push(ns);
    }
    for (const i of await this.host.interfaces()) {
      if (i.ext[EXT.cloud] !== this.cloudId) continue;
      const kind = i.ext[EXT.kind];
      if (kind === 'router' && !wantSubnets.has(i.ext[EXT.subnet] ?? '')) {
        await removeLeg(this.host, this.cloudId, i.ext[EXT.vpc]!, i.ext[EXT.subnet]!);
        removed.push(i.name);
      } else if ((kind === 'container' || kind === 'vm') && !wantPorts.has(i.ext[EXT.eni] ?? '')) {
        await unplugPort(this.host, i.name, kind);
        removed.push(i.name);
      }
    }
    // Veths of ours that no OVS port holds any more (a kill mid-plug, a bridge deleted by hand) and that the
    // desired state does not name; the desired ones are rebuilt or re-added below.
    const wantLinks = new Set<string>([
      ...[...wantPorts.keys()].map((e) => n.containerVeth(this.cloudId, e)),
      ...[...wantSubnets].map((s) => n.routerLeg(this.cloudId, s)),
      ...this.hostVpcs.filter((v) => wantVpcs.has(v)).map((v) => n.hostLink(this.cloudId, v)),
      ...[...this.routing.values()].filter((r) => r.internet && wantVpcs.has(r.vpcId)).map((r) => n.uplink(this.cloudId, r.vpcId)),
    ]);
    for (const v of await hostRuleVpcs(this.host, this.cloudId)) {
      if (wantVpcs.has(v) && this.routing.get(v)?.internet) continue;
      removed.push(...(await removeHostRules(this.host, (c) => c === `thecloud:${this.cloudId}:${v}`)));
    }
    for (const l of await this.host.links()) {
      if (!n.OWN_IFNAME.test(l.name) || !n.ownAlias(this.cloudId, l.alias) || wantLinks.has(l.name)) continue;
      await this.host.ip(['link', 'del', l.name], { allowFailure: true });
      removed.push(l.name);
    }
    return removed;
  }
}

function checkSandbox(s: Sandbox): void {
  if (s.kind === 'netns') {
    if (!Number.isInteger(s.pid) || s.pid < 2) throw new TypeError(`invalid sandbox pid ${s.pid}`);
  } else if (s.kind === 'ovs-port') {
    n.ifname(s.name);
  } else {
    throw new TypeError(`unknown sandbox kind ${JSON.stringify((s as { kind: unknown }).kind)}`);
  }
}

/**
 * The scope's VPC ids (undefined: no scope), refusing an unsafe id, and an item of a VPC outside the scope: its part
 * would be left half replaced.
 */
function checkScope(scope: VpcScope | undefined, items: Iterable<{ vpcId: string }>, what: string): Set<string> | undefined {
  if (!scope) return undefined;
  const vpcs = new Set(scope.vpcIds.map(n.vpcId));
  for (const i of items) if (!vpcs.has(i.vpcId)) throw new TypeError(`${what} of ${i.vpcId} outside the scope (${[...vpcs].join(', ')})`);
  return vpcs;
}

function aclsByVpc(acls: NetworkAclSpec[]): Map<string, NetworkAclSpec[]> {
  const byVpc = new Map<string, NetworkAclSpec[]>();
  for (const a of acls) {
    const list = byVpc.get(a.vpcId);
    if (list) list.push(a);
    else byVpc.set(a.vpcId, [a]);
  }
  return byVpc;
}

function checkGroups(model: SecurityModel): Map<string, SecurityGroupSpec> {
  const groups = new Map<string, SecurityGroupSpec>();
  for (const g of model.groups) {
    n.groupId(g.groupId);
    n.vpcId(g.vpcId);
    g.ingress.forEach(n.rule);
    g.egress.forEach(n.rule);
    g.memberIps.forEach((ip) => n.ipv4('member IP', ip));
    groups.set(g.groupId, g);
  }
  return groups;
}
