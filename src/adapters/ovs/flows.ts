/**
 * The OpenFlow program of one VPC's bridge, computed from the model alone (pure: the adapter writes it with
 * `ovs-ofctl --bundle replace-flows`, so a change is atomic and only the differing flows are touched).
 *
 * Pipeline (registers: reg5 = the subnet tag of where a packet came from, reg7 = the destination port):
 *   table 0   admission: a port's traffic only with its own MAC and IPs (ARP too), else dropped; with its
 *             source/destination check off, IP from any source address (a NAT instance's forwarded traffic); a
 *             router leg's traffic is trusted. Unknown ports (a tap not plugged yet) are dropped.
 *   table 10  egress security of the source port: to a VPC router address, not filtered (as on AWS); else
 *             conntrack in the source port's own zone, then table 11.
 *   table 11  established/related pass; new connections pass when an egress rule matches (committed); else drop.
 *   table 20  layer 2 within the subnet only: unicast to a known MAC of the same subnet (an instance port, or the
 *             subnet's router leg), ARP broadcast to the subnet's ports. Across subnets, only through the router.
 *             An IP packet for an address the port does not hold (a route through it) only with its
 *             source/destination check off.
 *             An IP packet to an address of a port of the subnet goes to that port by its address, whatever MAC
 *             the sender put on it (rewritten to the port's): a secondary address moved to another interface is
 *             reached at once, not when the senders' ARP caches expire (the VPC fabric delivers by address on
 *             AWS too).
 *   table 30  ingress security of the destination port: ARP and the router's own addresses pass; else conntrack
 *             in the destination port's zone (table 31): established/related pass, new ones when an ingress
 *             rule matches; else drop.
 * Each port has its own conntrack zone, so the egress check of one port and the ingress check of the other are
 * separate states (an egress commit never admits a packet the receiver's groups deny), and VPCs with the same
 * CIDR never share a connection entry.
 */
import { aclOfSubnet, naclFlows, T_NACL_IN, T_NACL_OUT } from './acl-flows.js';
import { METADATA_ADDRESS, type NetworkAclSpec, type PortSpec, type SecurityGroupSpec, type SecurityRule, type SubnetSpec } from '../../ports/index.js';

export interface FlowSubnet {
  spec: SubnetSpec;
  /** 1.. within the bridge */
  tag: number;
  legMac: string;
  legOfport?: number;
}

export interface FlowPort {
  spec: PortSpec;
  /** Undefined while the port is not on the bridge (a VM not started): it then gets no flows. */
  ofport?: number;
  zone: number;
}

export interface BridgeModel {
  subnets: FlowSubnet[];
  /** More addresses of the VPC router that are never filtered (its DNS resolver's, as on AWS). */
  routerAddresses?: string[];
  ports: FlowPort[];
  groups: ReadonlyMap<string, SecurityGroupSpec>;
  /** The network ACLs of this VPC (acl-flows.ts); absent or empty: no subnet is filtered. */
  acls?: readonly NetworkAclSpec[];
}

const T_ADMIT = 0;
const T_EGRESS = 10;
const T_EGRESS_CT = 11;
const T_L2 = 20;
const T_INGRESS = 30;
const T_INGRESS_CT = 31;

const EST = 'ct_state=-new+est-inv+trk';
const REL = 'ct_state=-new+rel-inv+trk';
const NEW = 'ct_state=+new-inv+trk';

/** The flows of the bridge, one per line, sorted (so that equal models give equal text). */
export function bridgeFlows(model: BridgeModel): string {
  const flows: string[] = [];
  const add = (table: number, priority: number, match: string, actions: string) =>
    flows.push(`table=${table},priority=${priority}${match ? ',' + match : ''},actions=${actions}`);
  // The router's own addresses: each subnet's gateway, the metadata service's and the resolver's (never filtered, as on AWS).
  const gateways = [...model.subnets.map((s) => s.spec.gateway), METADATA_ADDRESS, ...(model.routerAddresses ?? [])];
  const subnetOf = new Map(model.subnets.map((s) => [s.spec.subnetId, s]));

  for (const t of [T_ADMIT, T_EGRESS, T_EGRESS_CT, T_L2, T_INGRESS, T_INGRESS_CT]) add(t, 0, '', 'drop');
  for (const t of [T_EGRESS_CT, T_INGRESS_CT]) add(t, 300, 'ct_state=+inv+trk', 'drop');
  add(T_EGRESS_CT, 200, `${EST},ip`, `resubmit(,${T_L2})`);
  add(T_EGRESS_CT, 200, `${REL},ip`, `resubmit(,${T_L2})`);

  for (const s of model.subnets) {
    if (s.legOfport === undefined) continue;
    // Through the leg a packet crosses the subnet boundary: the subnet's network ACL (if any) decides.
    const acl = aclOfSubnet(s.spec.subnetId, s.spec.vpcId, model.acls ?? []);
    add(T_ADMIT, 100, `in_port=${s.legOfport}`, `set_field:${s.tag}->reg5,resubmit(,${acl ? T_NACL_IN : T_L2})`);
    add(T_L2, 100, `reg5=${s.tag},dl_dst=${s.legMac}`, acl ? `resubmit(,${T_NACL_OUT})` : `output:${s.legOfport}`);
  }
  if (model.acls?.length) flows.push(...naclFlows(model.subnets, model.acls, gateways));

  const plugged = model.ports.filter((p) => p.ofport !== undefined && subnetOf.has(p.spec.subnetId));
  for (const p of plugged) {
    const { spec, ofport, zone } = p;
    const tag = subnetOf.get(spec.subnetId)!.tag;
    const from = `in_port=${ofport},dl_src=${spec.mac}`;
    // DHCP from the port goes straight to its subnet's router leg with the port's primary address as source,
    // whatever address it came from (0.0.0.0 before it has one): the router knows the port by that alone.
    const leg = subnetOf.get(spec.subnetId)!;
    if (leg.legOfport !== undefined) {
      add(
        T_ADMIT, 110, `${from},udp,tp_src=68,tp_dst=67`,
        `set_field:${spec.ips[0]}->nw_src,set_field:${spec.gateway}->nw_dst,set_field:${leg.legMac}->dl_dst,output:${leg.legOfport}`,
      );
    }
    for (const ip of spec.ips) {
      add(T_ADMIT, 100, `${from},arp,arp_sha=${spec.mac},arp_spa=${ip}`, `set_field:${tag}->reg5,resubmit(,${T_L2})`);
      add(T_ADMIT, 100, `${from},ip,nw_src=${ip}`, `set_field:${tag}->reg5,resubmit(,${T_EGRESS})`);
    }
    // Source/destination check off: IP from any address (forwarded traffic), still only with the port's MAC and
    // through its egress rules; ARP still only for its own addresses.
    if (spec.sourceDestCheck === false) add(T_ADMIT, 90, `${from},ip`, `set_field:${tag}->reg5,resubmit(,${T_EGRESS})`);
    // Egress: the VPC router's own addresses are not filtered; the rest goes through conntrack.
    for (const gw of gateways) add(T_EGRESS, 200, `in_port=${ofport},ip,nw_dst=${gw}`, `resubmit(,${T_L2})`);
    add(T_EGRESS, 100, `in_port=${ofport},ip`, `ct(zone=${zone},table=${T_EGRESS_CT})`);
    for (const m of ruleMatches(spec, 'egress', model.groups)) {
      add(T_EGRESS_CT, 100, `in_port=${ofport},${NEW},${m}`, `ct(commit,zone=${zone}),resubmit(,${T_L2})`);
    }
    // Layer 2: this port's MAC, reached from its own subnet only; its addresses, whatever MAC a stale ARP cache put on.
    add(T_L2, 100, `reg5=${tag},dl_dst=${spec.mac}`, `set_field:${ofport}->reg7,resubmit(,${T_INGRESS})`);
    // Destination check (on unless turned off): an IP packet sent to its MAC for an address that is not its own (a
    // route through it) is dropped; its own addresses are matched above this, by address.
    if (spec.sourceDestCheck !== false) add(T_L2, 105, `reg5=${tag},ip,dl_dst=${spec.mac}`, 'drop');
    for (const ip of spec.ips) {
      add(T_L2, 110, `reg5=${tag},ip,nw_dst=${ip}`, `set_field:${spec.mac}->eth_dst,set_field:${ofport}->reg7,resubmit(,${T_INGRESS})`);
    }
    // Ingress.
    add(T_INGRESS, 200, `reg7=${ofport},arp`, `output:${ofport}`);
    for (const gw of gateways) add(T_INGRESS, 200, `reg7=${ofport},ip,nw_src=${gw}`, `output:${ofport}`);
    add(T_INGRESS, 100, `reg7=${ofport},ip`, `ct_clear,ct(zone=${zone},table=${T_INGRESS_CT})`);
    add(T_INGRESS_CT, 200, `reg7=${ofport},${EST},ip`, `output:${ofport}`);
    add(T_INGRESS_CT, 200, `reg7=${ofport},${REL},ip`, `output:${ofport}`);
    for (const m of ruleMatches(spec, 'ingress', model.groups)) {
      add(T_INGRESS_CT, 100, `reg7=${ofport},${NEW},${m}`, `ct(commit,zone=${zone}),output:${ofport}`);
    }
  }

  // ARP broadcast: to every port of the sender's subnet (OpenFlow never sends a packet back out of its in_port).
  for (const s of model.subnets) {
    const outs = [
      ...(s.legOfport !== undefined ? [s.legOfport] : []),
      ...plugged.filter((p) => p.spec.subnetId === s.spec.subnetId).map((p) => p.ofport!),
    ];
    if (outs.length) add(T_L2, 90, `reg5=${s.tag},arp,dl_dst=ff:ff:ff:ff:ff:ff`, outs.map((o) => `output:${o}`).join(','));
  }
  return [...new Set(flows)].sort().join('\n') + '\n';
}

/**
 * The OpenFlow matches (without the port part) of every rule of the port's groups in one direction: one per
 * (protocol/port block) x (peer address). Ingress peers are sources (nw_src), egress peers destinations.
 */
export function ruleMatches(port: PortSpec, direction: 'ingress' | 'egress', groups: ReadonlyMap<string, SecurityGroupSpec>): string[] {
  const out = new Set<string>();
  const field = direction === 'ingress' ? 'nw_src' : 'nw_dst';
  for (const g of port.securityGroupIds) {
    const group = groups.get(g);
    if (!group) continue; // an unknown group allows nothing
    for (const rule of group[direction]) {
      const peers = 'cidr' in rule.peer ? [rule.peer.cidr] : (groups.get(rule.peer.groupId)?.memberIps ?? []);
      for (const proto of protocolMatches(rule)) {
        for (const peer of peers) {
          out.add(peer === '0.0.0.0/0' ? proto : `${proto},${field}=${peer.includes('/') ? peer : `${peer}/32`}`);
        }
      }
    }
  }
  return [...out];
}

export function protocolMatches(rule: SecurityRule): string[] {
  switch (rule.protocol) {
    case 'all':
      return ['ip'];
    case 'tcp':
    case 'udp': {
      if (!rule.ports || (rule.ports.from === 0 && rule.ports.to === 65535)) return [rule.protocol];
      return portBlocks(rule.ports.from, rule.ports.to).map((b) => `${rule.protocol},tp_dst=${b}`);
    }
    case 'icmp': {
      const type = rule.icmp?.type ?? -1;
      const code = rule.icmp?.code ?? -1;
      return [`icmp${type >= 0 ? `,icmp_type=${type}` : ''}${type >= 0 && code >= 0 ? `,icmp_code=${code}` : ''}`];
    }
    default:
      if (rule.protocol === 6 || rule.protocol === 17 || rule.protocol === 1) {
        return protocolMatches({ ...rule, protocol: rule.protocol === 6 ? 'tcp' : rule.protocol === 17 ? 'udp' : 'icmp' });
      }
      return [`ip,nw_proto=${rule.protocol}`];
  }
}

/** An inclusive port range as the fewest value/mask blocks: 1000-1999 -> 1000/0xfff8, 1008/0xfff0 ... */
export function portBlocks(from: number, to: number): string[] {
  const blocks: string[] = [];
  let start = from;
  while (start <= to) {
    let size = 1;
    while (size < 65536 && start % (size * 2) === 0 && start + size * 2 - 1 <= to) size *= 2;
    blocks.push(size === 1 ? String(start) : `${start}/0x${(0xffff & ~(size - 1)).toString(16)}`);
    start += size;
  }
  return blocks;
}
