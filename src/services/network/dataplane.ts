/**
 * From the network records to the data plane's terms (src/ports/network.ts): an ENI as a port, the security
 * groups with their rules and members as the security model, and the whole desired network for sync.
 */
import type { EniRow } from '../../db/repositories/enis.js';
import type { SecurityGroupRow, SecurityGroupRuleRow, SubnetRow, VpcRow } from '../../db/repositories/network.js';
import { vpcResolverAddress } from '../../domain/dns.js';
import type { PortSpec, SecurityModel, SecurityRule, SubnetSpec, VpcSpec } from '../../ports/index.js';
import { groupBy } from './group-by.js';

/** The VPC router's address in a subnet: its base + 1, as on AWS. */
export function subnetGateway(cidr: string): string {
  const parts = cidr.split('/')[0]!.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}

/** The VPC's live IPv4 blocks, the primary first (a row read without its blocks: the primary alone). */
export function vpcBlocks(v: Pick<VpcRow, 'cidr_block' | 'cidr_blocks'>): string[] {
  return v.cidr_blocks?.length ? v.cidr_blocks : [v.cidr_block];
}

/** The VPC as the data plane's network: every live IPv4 block (the primary first, its resolver in the primary). */
export function vpcSpec(v: VpcRow): VpcSpec {
  return { vpcId: v.id, cidrs: vpcBlocks(v), vni: v.vni, resolver: vpcResolverAddress(v.cidr_block) };
}

export function subnetSpec(s: Pick<SubnetRow, 'id' | 'vpc_id' | 'cidr_block'>): SubnetSpec {
  return { vpcId: s.vpc_id, subnetId: s.id, cidr: s.cidr_block, gateway: subnetGateway(s.cidr_block) };
}

export function portSpec(eni: EniRow, subnet: Pick<SubnetRow, 'cidr_block'>): PortSpec {
  return {
    eniId: eni.id,
    vpcId: eni.vpc_id,
    subnetId: eni.subnet_id,
    mac: eni.mac_address,
    ips: eni.ips,
    gateway: subnetGateway(subnet.cidr_block),
    subnetCidr: subnet.cidr_block,
    securityGroupIds: eni.security_group_ids,
    deviceIndex: eni.device_index ?? 0,
    sourceDestCheck: eni.source_dest_check,
  };
}

/** A rule record as the data plane's rule (AWS's -1 is every protocol; icmp ports are type and code). */
export function securityRule(r: SecurityGroupRuleRow): SecurityRule {
  const peer = r.referenced_group_id ? { groupId: r.referenced_group_id } : { cidr: r.cidr_ipv4 ?? '0.0.0.0/0' };
  const p = r.ip_protocol.toLowerCase();
  if (p === '-1' || p === 'all') return { protocol: 'all', peer };
  if (p === 'tcp' || p === 'udp' || p === '6' || p === '17') {
    const protocol = p === '6' ? 'tcp' : p === '17' ? 'udp' : p;
    const all = r.from_port === null || (r.from_port === -1 && r.to_port === -1) || (r.from_port === 0 && r.to_port === 65535);
    return all ? { protocol, peer } : { protocol, ports: { from: r.from_port!, to: r.to_port ?? r.from_port! }, peer };
  }
  if (p === 'icmp' || p === '1') {
    if (r.from_port === null || r.from_port === -1) return { protocol: 'icmp', peer };
    return { protocol: 'icmp', icmp: { type: r.from_port, code: r.to_port ?? -1 }, peer };
  }
  return { protocol: Number(p), peer };
}

/**
 * Every group with its rules and the addresses of its member ENIs. Rules and members are grouped by group id in
 * one pass each, so the model costs what the records hold (sync hands it the whole installation's).
 */
export function securityModel(groups: SecurityGroupRow[], rules: SecurityGroupRuleRow[], enis: EniRow[]): SecurityModel {
  const rulesOf = groupBy(rules, (r) => r.group_id);
  // An ENI is a member of each of its groups once.
  const membersOf = groupBy(enis.flatMap((e) => [...new Set(e.security_group_ids)].map((groupId) => ({ groupId, ips: e.ips }))), (m) => m.groupId);
  return {
    groups: groups.map((g) => {
      const own = rulesOf.get(g.id) ?? [];
      return {
        groupId: g.id,
        vpcId: g.vpc_id,
        ingress: own.filter((r) => !r.is_egress).map(securityRule),
        egress: own.filter((r) => r.is_egress).map(securityRule),
        memberIps: (membersOf.get(g.id) ?? []).flatMap((m) => m.ips),
      };
    }),
  };
}
