/**
 * The VPC API's semantics over the records, driving the network backend as src/ports/network.ts says: records
 * first (committed), then the backend; a backend failure is logged and left to the next sync, since the records
 * say what must be true. Every check that can fail runs before anything is written (so DryRun can run it too).
 */
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import { cidrContains, cidrsOverlap } from '../../domain/ipv4.js';
import type { NetworkRepository, SecurityGroupRow, SubnetRow, VpcRow } from '../../db/repositories/network.js';
import type { NetworkBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import { MAX_RULES_PER_DIRECTION, describeRule, sameRule, type RuleDraft } from './rules.js';
import { subnetSpec, vpcBlocks, vpcSpec } from './dataplane.js';
import { LIVE_CIDR_STATES } from '../../db/repositories/vpc-cidrs.js';
import type { EdgeAdmin } from './routes.js';

/** A CIDR as AWS wants it for a VPC or subnet: a network address with a /16../28 mask. */
export function checkBlock(cidr: string | undefined, what: 'vpc' | 'subnet'): string {
  if (!cidr) throw new Ec2Error('MissingParameter', 'The request must contain the parameter CidrBlock');
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) {
    throw new Ec2Error('InvalidParameterValue', `Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
  }
  const bits = Number(m[5]);
  if (bits < 16 || bits > 28) {
    throw new Ec2Error(what === 'vpc' ? 'InvalidVpc.Range' : 'InvalidSubnet.Range', `The CIDR '${cidr}' is invalid.`);
  }
  const n = m.slice(1, 5).reduce((a, x) => a * 256 + Number(x), 0);
  const net = (n & (0xffffffff << (32 - bits))) >>> 0;
  return `${[24, 16, 8, 0].map((b) => (net >>> b) & 255).join('.')}/${bits}`;
}

export class VpcAdmin {
  constructor(
    private readonly repo: NetworkRepository,
    private readonly backend: NetworkBackend,
    private readonly log: Pick<Logger, 'warn'>,
    private readonly onBackendFailure: () => void,
    /** Gives the data plane these VPCs' security model (NetworkService.applySecurity). */
    private readonly applySecurity: (vpcIds: string[]) => Promise<void>,
    private readonly edge: EdgeAdmin,
  ) {}

  private async backendDo(what: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.onBackendFailure();
      this.log.warn(`network backend could not ${what}; will retry`, { error: (e as Error).message });
    }
  }

  async vpc(accountId: string, id: string): Promise<VpcRow> {
    const v = (await this.repo.vpcs(accountId)).find((x) => x.id === id);
    if (!v) throw notFound('InvalidVpcID', 'vpc ID', [id]);
    return v;
  }

  async subnet(accountId: string, id: string): Promise<SubnetRow> {
    const s = await this.repo.subnet(accountId, id);
    if (!s) throw notFound('InvalidSubnetID', 'subnet ID', [id]);
    return s;
  }

  async group(accountId: string, id: string): Promise<SecurityGroupRow> {
    const g = await this.repo.securityGroup(accountId, id);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
    return g;
  }

  // ---- VPCs

  /** CreateVpc: the VPC with its default security group (as AWS), then its segment on the switch. */
  async createVpc(accountId: string, cidr: string, tenancy: string): Promise<VpcRow> {
    const id = newId('vpc');
    await this.repo.tx(async (t) => {
      await this.repo.insertVpc({ id, account_id: accountId, cidr_block: cidr, is_default: false, state: 'available', instance_tenancy: tenancy }, t);
      await this.insertDefaultGroup(accountId, id, 'default VPC security group', t);
      await this.repo.acls.insertDefault(accountId, id, t);
      await this.edge.insertMainTable(accountId, id, cidr, t);
    });
    const vpc = await this.vpc(accountId, id);
    await this.backendDo('make the VPC', () => this.backend.ensureVpc(vpcSpec(vpc)));
    await this.applySecurity([id]);
    return vpc;
  }

  /** AWS's default group: all traffic from its own members, all traffic out. */
  async insertDefaultGroup(accountId: string, vpcId: string, description: string, t: Parameters<NetworkRepository['insertVpc']>[1]): Promise<string> {
    const sgId = newId('securityGroup');
    await this.repo.insertSecurityGroup({ id: sgId, account_id: accountId, vpc_id: vpcId, group_name: 'default', description }, t);
    await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: sgId, account_id: accountId, is_egress: false, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: null, referenced_group_id: sgId, description: null }, t);
    await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: sgId, account_id: accountId, is_egress: true, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: '0.0.0.0/0', referenced_group_id: null, description: null }, t);
    return sgId;
  }

  async checkDeleteVpc(accountId: string, id: string): Promise<VpcRow> {
    const vpc = await this.vpc(accountId, id);
    const d = await this.repo.admin.vpcDependents(id);
    if (d.subnets || d.groups || d.enis || (await this.repo.acls.nonDefaultCount(id))) {
      throw new Ec2Error('DependencyViolation', `The vpc '${id}' has dependencies and cannot be deleted.`);
    }
    await this.edge.checkDeleteVpc(id);
    return vpc;
  }

  async deleteVpc(vpc: VpcRow): Promise<void> {
    await this.repo.tx(async (t) => {
      await this.edge.deleteVpcTables(vpc.id, t);
      await this.repo.admin.deleteVpc(vpc.id, t);
    });
    await this.backendDo('remove the VPC', () => this.backend.deleteVpc(vpc.id));
    await this.applySecurity([vpc.id]);
  }

  async setVpcAttribute(vpc: VpcRow, attr: 'enable_dns_support' | 'enable_dns_hostnames', value: boolean): Promise<void> {
    await this.repo.admin.setVpcAttribute(vpc.id, attr, value);
  }

  // ---- subnets

  async checkCreateSubnet(accountId: string, vpcId: string, cidrIn: string | undefined, zone: string | undefined, zones: string[]): Promise<{ vpc: VpcRow; cidr: string; zone: string }> {
    const vpc = await this.vpc(accountId, vpcId);
    const cidr = checkBlock(cidrIn, 'subnet');
    const [base] = cidr.split('/') as [string];
    // Inside one of the VPC's blocks (the primary or an associated secondary one).
    const blocks = vpcBlocks(vpc);
    if (!blocks.some((b) => cidrContains(b, base) && cidrContains(b, lastAddress(cidr)))) {
      throw new Ec2Error('InvalidSubnet.Range', `The CIDR '${cidrIn}' is invalid.`);
    }
    const others = (await this.repo.subnets(accountId)).filter((s) => s.vpc_id === vpcId);
    if (others.some((s) => cidrsOverlap(s.cidr_block, cidr))) throw new Ec2Error('InvalidSubnet.Conflict', `The CIDR '${cidrIn}' conflicts with another subnet`);
    const z = zone ?? zones[0]!;
    if (!zones.includes(z)) throw new Ec2Error('InvalidParameterValue', `Value (${z}) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: ${zones.join(', ')}.`);
    return { vpc, cidr, zone: z };
  }

  async createSubnet(accountId: string, p: { vpc: VpcRow; cidr: string; zone: string }): Promise<SubnetRow> {
    const id = newId('subnet');
    await this.repo.tx(async (t) => {
      // Checked again under the VPC's lock, which DisassociateVpcCidrBlock and AssociateVpcCidrBlock take too: a
      // block going away, or another CreateSubnet of an overlapping range at the same moment, is seen here.
      await this.repo.cidrs.lockVpc(p.vpc.id, t);
      const blocks = (await this.repo.cidrs.ofVpc(p.vpc.id, t)).filter((b) => LIVE_CIDR_STATES.includes(b.state)).map((b) => b.cidr_block);
      const [base] = p.cidr.split('/') as [string];
      if (!blocks.some((b) => cidrContains(b, base) && cidrContains(b, lastAddress(p.cidr)))) throw new Ec2Error('InvalidSubnet.Range', `The CIDR '${p.cidr}' is invalid.`);
      if ((await this.repo.subnetCidrsOfVpc(p.vpc.id, t)).some((c) => cidrsOverlap(c, p.cidr))) throw new Ec2Error('InvalidSubnet.Conflict', `The CIDR '${p.cidr}' conflicts with another subnet`);
      await this.repo.insertSubnet({ id, account_id: accountId, vpc_id: p.vpc.id, cidr_block: p.cidr, availability_zone: p.zone, default_for_az: false, map_public_ip_on_launch: false, state: 'available' }, t);
    });
    await this.backendDo('make the subnet', async () => {
      await this.backend.ensureVpc(vpcSpec(p.vpc));
      await this.backend.ensureSubnet(subnetSpec({ id, vpc_id: p.vpc.id, cidr_block: p.cidr }));
    });
    await this.edge.refresh(p.vpc.id);
    return (await this.repo.subnet(accountId, id))!;
  }

  async checkDeleteSubnet(accountId: string, id: string): Promise<SubnetRow> {
    const s = await this.subnet(accountId, id);
    if (await this.repo.admin.subnetDependents(id)) throw new Ec2Error('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted.`);
    return s;
  }

  async deleteSubnet(s: SubnetRow): Promise<void> {
    await this.repo.admin.deleteSubnet(s.id);
    await this.backendDo('remove the subnet', () => this.backend.deleteSubnet(s.vpc_id, s.id));
    await this.edge.refresh(s.vpc_id);
  }

  async setMapPublicIp(s: SubnetRow, value: boolean): Promise<void> {
    await this.repo.admin.setMapPublicIp(s.id, value);
  }

  // ---- security groups

  async checkCreateGroup(accountId: string, name: string | undefined, description: string | undefined, vpcId: string | undefined): Promise<VpcRow> {
    if (!name) throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupName');
    if (description === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupDescription');
    if (name.length > 255 || description.length > 255) throw new Ec2Error('InvalidParameterValue', 'Group name and description are limited to 255 characters.');
    if (/^sg-/i.test(name)) throw new Ec2Error('InvalidParameterValue', `Group names may not be in the format sg-*.`);
    const vpc = vpcId ? await this.vpc(accountId, vpcId) : (await this.repo.vpcs(accountId)).find((v) => v.is_default);
    if (!vpc) throw new Ec2Error('VPCIdNotSpecified', 'No default VPC for this user');
    if (name === 'default' || (await this.repo.securityGroupsIn(accountId, vpc.id)).some((g) => g.group_name === name)) {
      throw new Ec2Error('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpc.id}'`);
    }
    return vpc;
  }

  /** A new group: no ingress, all egress (as AWS). */
  async createGroup(accountId: string, vpc: VpcRow, name: string, description: string): Promise<string> {
    const id = newId('securityGroup');
    await this.repo.tx(async (t) => {
      await this.repo.insertSecurityGroup({ id, account_id: accountId, vpc_id: vpc.id, group_name: name, description }, t);
      await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: id, account_id: accountId, is_egress: true, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: '0.0.0.0/0', referenced_group_id: null, description: null }, t);
    });
    await this.applySecurity([vpc.id]);
    return id;
  }

  async checkDeleteGroup(accountId: string, id: string): Promise<SecurityGroupRow> {
    const g = await this.group(accountId, id);
    if (g.group_name === 'default') throw new Ec2Error('CannotDelete', `the specified group: "${id}" name: "default" cannot be deleted by a user`);
    const d = await this.repo.admin.groupDependents(id);
    if (d.enis || d.referencing) throw new Ec2Error('DependencyViolation', `resource ${id} has a dependent object`);
    return g;
  }

  async deleteGroup(g: SecurityGroupRow): Promise<void> {
    await this.repo.admin.deleteGroup(g.id);
    await this.applySecurity([g.vpc_id]);
  }

  /** Authorize*: refuses a rule the group has (InvalidPermission.Duplicate) or one past AWS's limit. */
  async checkAuthorize(g: SecurityGroupRow, egress: boolean, drafts: RuleDraft[]): Promise<void> {
    const have = (await this.repo.admin.groupRules(g.id)).filter((r) => r.is_egress === egress);
    for (const [i, d] of drafts.entries()) {
      if (have.some((r) => sameRule(r, d)) || drafts.slice(0, i).some((o) => sameRule(o, d))) {
        throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${describeRule(d)}" already exists`);
      }
    }
    if (have.length + drafts.length > MAX_RULES_PER_DIRECTION) {
      throw new Ec2Error('RulesPerSecurityGroupLimitExceeded', 'The maximum number of rules per security group has been reached.');
    }
  }

  async authorize(g: SecurityGroupRow, egress: boolean, drafts: RuleDraft[]) {
    const rows = drafts.map((d) => ({ ...d, id: newId('securityGroupRule'), group_id: g.id, account_id: g.account_id, is_egress: egress }));
    await this.repo.tx(async (t) => {
      for (const r of rows) await this.repo.insertRule(r, t);
    });
    await this.applySecurity([g.vpc_id]);
    return rows;
  }

  /** Revoke*: the ids of the group's rules named (InvalidPermission.NotFound when one is not there). */
  async checkRevoke(g: SecurityGroupRow, egress: boolean, drafts: RuleDraft[] | undefined, ruleIds: string[] | undefined): Promise<string[]> {
    const have = (await this.repo.admin.groupRules(g.id)).filter((r) => r.is_egress === egress);
    if (ruleIds?.length) {
      const missing = ruleIds.filter((id) => !have.some((r) => r.id === id));
      if (missing.length) throw new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${missing[0]}' does not exist`);
      return ruleIds;
    }
    return (drafts ?? []).map((d) => {
      const r = have.find((x) => sameRule(x, d));
      if (!r) throw new Ec2Error('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
      return r.id;
    });
  }

  /**
   * ModifySecurityGroupRules: each named rule of the group (InvalidSecurityGroupRuleId.NotFound) becomes `rule`,
   * unless that duplicates another rule of its direction (InvalidPermission.Duplicate).
   */
  async checkModifyRules(g: SecurityGroupRow, changes: { id: string; rule: RuleDraft }[]): Promise<void> {
    const have = await this.repo.admin.groupRules(g.id);
    for (const [i, c] of changes.entries()) {
      const r = have.find((x) => x.id === c.id);
      if (!r) throw new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${c.id}' does not exist`);
      const others = [
        ...have.filter((x) => x.is_egress === r.is_egress && x.id !== c.id && !changes.some((o) => o.id === x.id)),
        ...changes.slice(0, i).filter((o) => have.find((x) => x.id === o.id)?.is_egress === r.is_egress).map((o) => o.rule),
      ];
      if (others.some((o) => sameRule(o, c.rule))) throw new Ec2Error('InvalidPermission.Duplicate', `the specified rule "${describeRule(c.rule)}" already exists`);
    }
  }

  /** ModifySecurityGroupRules on the records (rules of `g`), then the data plane (running ports' flows follow). */
  async modifyRules(g: SecurityGroupRow, changes: { id: string; rule: RuleDraft }[]): Promise<void> {
    await this.repo.admin.replaceRules(changes);
    await this.applySecurity([g.vpc_id]);
  }

  /** UpdateSecurityGroupRuleDescriptions*: records only (descriptions do not reach the data plane). */
  async setRuleDescriptions(changes: { id: string; description: string | null }[]): Promise<void> {
    await this.repo.admin.setRuleDescriptions(changes);
  }

  /** Revoke*: these rules of `g` go. */
  async revoke(g: SecurityGroupRow, ids: string[]): Promise<void> {
    await this.repo.admin.deleteRules(ids);
    await this.applySecurity([g.vpc_id]);
  }
}

function lastAddress(cidr: string): string {
  const [base, bits] = cidr.split('/') as [string, string];
  const n = base.split('.').reduce((a, x) => a * 256 + Number(x), 0) + 2 ** (32 - Number(bits)) - 1;
  return [24, 16, 8, 0].map((b) => (n >>> b) & 255).join('.');
}
