/**
 * Network ACLs' EC2 semantics over the records (migration 012), and their model for the data plane. As
 * elsewhere: every check runs before anything is written (DryRun runs them too), records first, then the
 * backend; a backend failure is logged and left to the next sync.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { NetworkRepository, VpcRow } from '../../db/repositories/network.js';
import type { AclAssociationRow, AclEntryRow, AclRepository, AclRow } from '../../db/repositories/acls.js';
import type { NetworkAclEntrySpec, NetworkAclSpec, NetworkBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import { groupBy } from './group-by.js';

/** AWS's default quota of entries per direction of one ACL. */
export const MAX_ACL_ENTRIES_PER_DIRECTION = 20;

/** An entry as the API gives it (CreateNetworkAclEntry / ReplaceNetworkAclEntry). */
export interface AclEntryInput {
  RuleNumber?: number;
  Protocol?: string;
  RuleAction?: string;
  Egress?: boolean;
  CidrBlock?: string;
  Ipv6CidrBlock?: string;
  IcmpTypeCode?: { Type?: number; Code?: number };
  PortRange?: { From?: number; To?: number };
}

const PROTOCOL_NAMES: Record<string, string> = { all: '-1', tcp: '6', udp: '17', icmp: '1' };

/** A CIDR as AWS keeps it: its network address (10.0.0.5/24 -> 10.0.0.0/24). */
function checkCidr(c: string, param: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c.trim());
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) {
    throw new Ec2Error('InvalidParameterValue', `Value (${c}) for parameter ${param} is invalid. This is not a valid CIDR block.`);
  }
  const bits = Number(m[5]);
  const n = m.slice(1, 5).reduce((a, x) => a * 256 + Number(x), 0);
  const net = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
  return `${[24, 16, 8, 0].map((b) => (net >>> b) & 255).join('.')}/${bits}`;
}

/** Checks and normalises an entry as AWS does (the protocol as its number; ports only for tcp/udp...). */
export function aclEntry(aclId: string, e: AclEntryInput): AclEntryRow {
  const rn = e.RuleNumber;
  if (rn === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ruleNumber');
  if (!Number.isInteger(rn) || rn < 1 || rn > 32766) throw new Ec2Error('InvalidParameterValue', `Value (${rn}) for parameter ruleNumber is invalid. Must be between 1 and 32766.`);
  if (e.Egress === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter egress');
  const action = e.RuleAction?.toLowerCase();
  if (!action) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ruleAction');
  if (action !== 'allow' && action !== 'deny') throw new Ec2Error('InvalidParameterValue', `Value (${e.RuleAction}) for parameter ruleAction is invalid.`);
  if (e.Protocol === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter protocol');
  const p = PROTOCOL_NAMES[e.Protocol.toLowerCase()] ?? e.Protocol;
  if (!/^(-1|\d{1,3})$/.test(p) || Number(p) > 255) throw new Ec2Error('InvalidParameterValue', `Invalid value '${e.Protocol}' for protocol. Must be an integer protocol number or one of tcp, udp, icmp, all.`);
  if (e.Ipv6CidrBlock) throw new Ec2Error('UnsupportedOperation', 'IPv6 blocks are not supported.');
  if (!e.CidrBlock) throw new Ec2Error('MissingParameter', 'The request must contain the parameter cidrBlock');
  const cidr = checkCidr(e.CidrBlock, 'cidrBlock');
  const row: AclEntryRow = { acl_id: aclId, egress: e.Egress, rule_number: rn, protocol: p, rule_action: action, cidr_block: cidr, from_port: null, to_port: null, icmp_type: null, icmp_code: null };
  if (p === '6' || p === '17') {
    const from = e.PortRange?.From;
    const to = e.PortRange?.To;
    if (from === undefined || to === undefined) throw new Ec2Error('InvalidParameterValue', 'TCP/UDP entries require a port range (portRange.from and portRange.to).');
    if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > 65535 || from > to) {
      throw new Ec2Error('InvalidParameterValue', `Invalid port range ${from}-${to}.`);
    }
    row.from_port = from;
    row.to_port = to;
  } else if (p === '1') {
    const type = e.IcmpTypeCode?.Type;
    const code = e.IcmpTypeCode?.Code;
    if (type === undefined || code === undefined) throw new Ec2Error('InvalidParameterValue', 'ICMP entries require a type and a code (icmpTypeCode.type and icmpTypeCode.code; -1 for any).');
    if (![type, code].every((x) => Number.isInteger(x) && x >= -1 && x <= 255)) throw new Ec2Error('InvalidParameterValue', `Invalid ICMP type/code ${type}/${code}.`);
    row.icmp_type = type;
    row.icmp_code = code;
  }
  return row;
}

/** An entry record as the data plane's entry. */
export function aclEntrySpec(r: AclEntryRow): NetworkAclEntrySpec {
  const p = r.protocol;
  const base = { ruleNumber: r.rule_number, egress: r.egress, action: r.rule_action, cidr: r.cidr_block };
  if (p === '-1') return { ...base, protocol: 'all' };
  if (p === '6' || p === '17') {
    const protocol = p === '6' ? 'tcp' : 'udp';
    const all = r.from_port === null || (r.from_port === 0 && r.to_port === 65535);
    return all ? { ...base, protocol } : { ...base, protocol, ports: { from: r.from_port!, to: r.to_port! } };
  }
  if (p === '1') return r.icmp_type === null || r.icmp_type === -1 ? { ...base, protocol: 'icmp' } : { ...base, protocol: 'icmp', icmp: { type: r.icmp_type, code: r.icmp_code ?? -1 } };
  return { ...base, protocol: Number(p) };
}

/** Every ACL with its entries and explicitly or implicitly associated subnets (grouped by ACL once: linear). */
export function aclModel(acls: AclRow[], entries: AclEntryRow[], assocs: AclAssociationRow[]): NetworkAclSpec[] {
  const assocsOf = groupBy(assocs, (x) => x.acl_id);
  const entriesOf = groupBy(entries, (e) => e.acl_id);
  return acls.map((a) => ({
    aclId: a.id,
    vpcId: a.vpc_id,
    isDefault: a.is_default,
    subnetIds: (assocsOf.get(a.id) ?? []).map((x) => x.subnet_id),
    entries: (entriesOf.get(a.id) ?? []).map(aclEntrySpec),
  }));
}

export class AclAdmin {
  constructor(
    private readonly network: NetworkRepository,
    private readonly backend: NetworkBackend,
    private readonly log: Pick<Logger, 'warn'>,
    private readonly onBackendFailure: () => void,
  ) {}

  private get repo(): AclRepository {
    return this.network.acls;
  }

  /** The whole ACL model from the records (sync). */
  async model(): Promise<NetworkAclSpec[]> {
    return aclModel(await this.repo.all(), await this.repo.allEntries(), await this.repo.associations());
  }

  /** The ACLs of one VPC, read by VPC. */
  async modelOf(vpcId: string): Promise<NetworkAclSpec[]> {
    const ids = [vpcId];
    const [acls, entries, assocs] = await Promise.all([this.repo.ofVpcs(ids), this.repo.entriesOfVpcs(ids), this.repo.associationsOfVpcs(ids)]);
    return aclModel(acls, entries, assocs);
  }

  /**
   * Gives the data plane the ACLs of the VPC a change was made in (its ACLs filter its subnets alone), not with
   * NETWORK_BACKEND=noop: nothing filters.
   */
  async apply(vpcId: string): Promise<void> {
    if (this.backend.name === 'noop') return;
    try {
      await this.backend.setNetworkAcls(await this.modelOf(vpcId), { vpcIds: [vpcId] });
    } catch (e) {
      this.onBackendFailure();
      this.log.warn('network backend could not apply the network ACLs; will retry', { vpcId, error: (e as Error).message });
    }
  }

  async acl(accountId: string, id: string): Promise<AclRow> {
    const a = await this.repo.acl(accountId, id);
    if (!a) throw new Ec2Error('InvalidNetworkAclID.NotFound', `The networkAcl ID '${id}' does not exist`);
    return a;
  }

  async vpc(accountId: string, vpcId: string): Promise<VpcRow> {
    const v = (await this.network.vpcs(accountId)).find((x) => x.id === vpcId);
    if (!v) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    return v;
  }

  async create(accountId: string, vpc: VpcRow): Promise<string> {
    const id = newId('networkAcl');
    await this.repo.insert({ id, account_id: accountId, vpc_id: vpc.id, is_default: false });
    // No subnet is associated yet: nothing on the switch changes.
    return id;
  }

  async checkDelete(accountId: string, id: string): Promise<AclRow> {
    const a = await this.acl(accountId, id);
    if (a.is_default) throw new Ec2Error('InvalidParameterValue', `cannot delete default network ACL ${id}`);
    if ((await this.repo.associations(accountId)).some((x) => x.acl_id === id)) {
      throw new Ec2Error('DependencyViolation', `The networkAcl '${id}' has dependencies and cannot be deleted.`);
    }
    return a;
  }

  async delete(a: AclRow): Promise<void> {
    await this.repo.delete(a.id);
    await this.apply(a.vpc_id);
  }

  /** CreateNetworkAclEntry: NetworkAclEntryAlreadyExists for a taken (direction, rule number); AWS's quota. */
  async checkCreateEntry(accountId: string, aclId: string, input: AclEntryInput): Promise<{ acl: AclRow; row: AclEntryRow }> {
    const row = aclEntry(aclId, input);
    const acl = await this.acl(accountId, aclId);
    const have = (await this.repo.entries(aclId)).filter((e) => e.egress === row.egress);
    if (have.some((e) => e.rule_number === row.rule_number)) {
      throw new Ec2Error('NetworkAclEntryAlreadyExists', `The network acl entry identified by ${row.rule_number} already exists.`);
    }
    if (have.length >= MAX_ACL_ENTRIES_PER_DIRECTION) throw new Ec2Error('NetworkAclEntryLimitExceeded', 'The maximum number of network acl entries has been reached.');
    return { acl, row };
  }

  async createEntry(acl: AclRow, row: AclEntryRow): Promise<void> {
    await this.repo.insertEntry(row);
    await this.apply(acl.vpc_id);
  }

  /** Replace/DeleteNetworkAclEntry: the entry must exist (InvalidNetworkAclEntry.NotFound); the ACL. */
  async checkEntryExists(accountId: string, aclId: string, egress: boolean | undefined, ruleNumber: number | undefined): Promise<AclRow> {
    if (ruleNumber === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ruleNumber');
    if (egress === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter egress');
    const acl = await this.acl(accountId, aclId);
    if (!(await this.repo.entries(aclId)).some((e) => e.egress === egress && e.rule_number === ruleNumber)) {
      throw new Ec2Error('InvalidNetworkAclEntry.NotFound', `The network acl entry identified by ${ruleNumber} does not exist.`);
    }
    return acl;
  }

  async replaceEntry(acl: AclRow, row: AclEntryRow): Promise<void> {
    await this.repo.replaceEntry(row);
    await this.apply(acl.vpc_id);
  }

  async deleteEntry(acl: AclRow, egress: boolean, ruleNumber: number): Promise<void> {
    await this.repo.deleteEntry(acl.id, egress, ruleNumber);
    await this.apply(acl.vpc_id);
  }

  /** ReplaceNetworkAclAssociation: the association (InvalidAssociationID.NotFound) and an ACL of the same VPC. */
  async checkReplaceAssociation(accountId: string, assocId: string, aclId: string): Promise<{ subnetId: string; aclId: string; vpcId: string }> {
    const assoc = (await this.repo.associations(accountId)).find((x) => x.assoc_id === assocId);
    if (!assoc) throw new Ec2Error('InvalidAssociationID.NotFound', `The association ID '${assocId}' does not exist`);
    const acl = await this.acl(accountId, aclId);
    if (acl.vpc_id !== assoc.vpc_id) {
      throw new Ec2Error('InvalidParameterValue', `Network ACL ${aclId} and subnet ${assoc.subnet_id} belong to different networks`);
    }
    return { subnetId: assoc.subnet_id, aclId, vpcId: acl.vpc_id };
  }

  async replaceAssociation(p: { subnetId: string; aclId: string; vpcId: string }): Promise<string> {
    const id = await this.repo.associate(p.subnetId, p.aclId);
    await this.apply(p.vpcId);
    return id;
  }
}
