/**
 * Network ACLs in OpenFlow: stateless filters on the subnet boundary, i.e. on the two ways a packet crosses it,
 * both through the subnet's router leg (traffic within a subnet never reaches the leg, so it is not filtered, as
 * on AWS):
 *   table 40  leaving the subnet: a packet of the subnet's ports addressed to the leg's MAC (flows.ts sends it
 *             here instead of straight out of the leg): the ACL's outbound entries decide on its destination.
 *   table 41  entering the subnet: a packet the router sends out of the leg (flows.ts sends it here before
 *             layer 2): the inbound entries decide on its source.
 * An entry is a flow at priority 40000 - rule number (lower numbers first, the first match wins); allow goes on,
 * deny drops; what matches no entry is dropped (AWS's `*` rule, the table's miss). Nothing is tracked: return
 * traffic needs its own entry. ARP and traffic to or from the router's own addresses (each gateway, metadata)
 * pass unfiltered, as AWS does not filter its router's services.
 */
import type { NetworkAclEntrySpec, NetworkAclSpec } from '../../ports/index.js';
import * as n from './names.js';
import type { FlowSubnet } from './flows.js';
import { protocolMatches } from './flows.js';

export const T_NACL_OUT = 40;
export const T_NACL_IN = 41;
const PRIO_ROUTER = 50000;
const PRIO_BASE = 40000;

/** The ACL that governs each subnet of one VPC (the one naming it, else the VPC's default one). */
export function aclOfSubnet(subnetId: string, vpcId: string, acls: readonly NetworkAclSpec[]): NetworkAclSpec | undefined {
  const mine = acls.filter((a) => a.vpcId === vpcId);
  return mine.find((a) => a.subnetIds.includes(subnetId)) ?? mine.find((a) => a.isDefault);
}

/**
 * The ACL flows of the subnets that have one. `routerAddrs` are the router's own addresses in the VPC.
 */
export function naclFlows(subnets: FlowSubnet[], acls: readonly NetworkAclSpec[], routerAddrs: string[]): string[] {
  const flows: string[] = [];
  const add = (table: number, priority: number, match: string, actions: string) =>
    flows.push(`table=${table},priority=${priority}${match ? ',' + match : ''},actions=${actions}`);
  add(T_NACL_OUT, 0, '', 'drop');
  add(T_NACL_IN, 0, '', 'drop');
  for (const s of subnets) {
    if (s.legOfport === undefined) continue;
    const acl = aclOfSubnet(s.spec.subnetId, s.spec.vpcId, acls);
    if (!acl) continue;
    const sub = `reg5=${s.tag}`;
    const out = `output:${s.legOfport}`;
    const inward = 'resubmit(,20)'; // flows.ts's layer 2 table
    add(T_NACL_OUT, PRIO_ROUTER, `${sub},arp`, out);
    add(T_NACL_IN, PRIO_ROUTER, `${sub},arp`, inward);
    for (const a of routerAddrs) {
      add(T_NACL_OUT, PRIO_ROUTER, `${sub},ip,nw_dst=${a}`, out);
      add(T_NACL_IN, PRIO_ROUTER, `${sub},ip,nw_src=${a}`, inward);
    }
    for (const e of acl.entries) {
      const table = e.egress ? T_NACL_OUT : T_NACL_IN;
      const action = e.action === 'allow' ? (e.egress ? out : inward) : 'drop';
      for (const m of entryMatches(e)) add(table, PRIO_BASE - e.ruleNumber, `${sub},${m}`, action);
    }
  }
  return flows;
}

/** The OpenFlow matches of one entry: protocol (and ports / ICMP) x the peer CIDR on the right side. */
export function entryMatches(e: NetworkAclEntrySpec): string[] {
  const field = e.egress ? 'nw_dst' : 'nw_src';
  const peer = e.cidr === '0.0.0.0/0' ? '' : `,${field}=${e.cidr}`;
  return protocolMatches({ protocol: e.protocol, ports: e.ports, icmp: e.icmp, peer: { cidr: e.cidr } }).map((p) => `${p}${peer}`);
}

/** Refuses a malformed model before any host command (TypeError). */
export function checkAcls(acls: readonly NetworkAclSpec[]): NetworkAclSpec[] {
  for (const a of acls) {
    if (!/^acl-([0-9a-f]{8}|[0-9a-f]{17})$/.test(a.aclId)) throw new TypeError(`invalid network ACL id: ${JSON.stringify(a.aclId)}`);
    n.vpcId(a.vpcId);
    a.subnetIds.forEach(n.subnetId);
    for (const e of a.entries) {
      if (!Number.isInteger(e.ruleNumber) || e.ruleNumber < 1 || e.ruleNumber > 32766) throw new TypeError(`invalid rule number ${e.ruleNumber}`);
      if (e.action !== 'allow' && e.action !== 'deny') throw new TypeError(`invalid rule action ${JSON.stringify(e.action)}`);
      n.rule({ protocol: e.protocol, ports: e.ports, icmp: e.icmp, peer: { cidr: e.cidr } });
    }
  }
  return [...acls];
}
