/** CreateSecurityGroup, DeleteSecurityGroup, Authorize/RevokeSecurityGroupIngress/Egress, DescribeSecurityGroupRules. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { rulesOf } from '../../services/network/rules.js';
import type { SecurityGroupRow, SecurityGroupRuleRow } from '../../db/repositories/network.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import { column, sql, type Resource, type Tag } from '../../describe/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

const arn = (ctx: RequestContext, g: { account_id: string; id: string }) => `arn:aws:ec2:${ctx.region}:${g.account_id}:security-group/${g.id}`;

/** The group named by GroupId, or by GroupName in the default VPC (EC2-Classic style, as AWS still accepts). */
async function groupOf(ctx: RequestContext, input: { GroupId?: string; GroupName?: string }): Promise<SecurityGroupRow> {
  if (input.GroupId) return ctx.services.network.admin.group(ctx.accountId, parseId('securityGroup', input.GroupId));
  if (!input.GroupName) throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupId or GroupName');
  const dflt = (await ctx.services.network.vpcs(ctx.accountId)).find((v) => v.is_default);
  const g = (await ctx.services.network.securityGroups(ctx.accountId)).find((x) => x.group_name === input.GroupName && x.vpc_id === dflt?.id);
  if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${input.GroupName}' does not exist in default VPC '${dflt?.id ?? 'none'}'`);
  return g;
}

/** A rule's peer group, by id or name, in the same VPC. */
function peerOf(ctx: RequestContext, g: SecurityGroupRow) {
  return async (pair: { GroupId?: string; GroupName?: string }): Promise<string> => {
    const all = await ctx.services.network.securityGroupsIn(ctx.accountId, g.vpc_id);
    const found = pair.GroupId ? all.find((x) => x.id === parseId('securityGroup', pair.GroupId!)) : all.find((x) => x.group_name === pair.GroupName);
    if (!found) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${pair.GroupId ?? pair.GroupName}' does not exist in VPC '${g.vpc_id}'`);
    return found.id;
  };
}

export function toRule(r: SecurityGroupRuleRow, ctx: RequestContext): Ec2.SecurityGroupRule {
  return {
    SecurityGroupRuleId: r.id,
    GroupId: r.group_id,
    GroupOwnerId: r.account_id,
    IsEgress: r.is_egress,
    IpProtocol: r.ip_protocol,
    FromPort: r.from_port ?? -1,
    ToPort: r.to_port ?? -1,
    CidrIpv4: r.cidr_ipv4 ?? undefined,
    ReferencedGroupInfo: r.referenced_group_id ? { GroupId: r.referenced_group_id, UserId: r.account_id } : undefined,
    Description: r.description ?? undefined,
    SecurityGroupRuleArn: `arn:aws:ec2:${ctx.region}:${r.account_id}:security-group-rule/${r.id}`,
  };
}

export const createSecurityGroup = defineHandler('CreateSecurityGroup', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'security-group'));
    return ctx.services.network.admin.checkCreateGroup(ctx.accountId, input.GroupName, input.Description, input.VpcId && parseId('vpc', input.VpcId));
  },
  async handle(input, ctx, vpc) {
    const id = await ctx.services.network.admin.createGroup(ctx.accountId, vpc, input.GroupName, input.Description);
    const tags = tagsFromSpecs(input.TagSpecifications, 'security-group');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'security-group' }], tags);
    return { GroupId: id, Tags: tags.length ? toTagList(tags) : undefined, SecurityGroupArn: arn(ctx, { account_id: ctx.accountId, id }) };
  },
});

export const deleteSecurityGroup = defineHandler('DeleteSecurityGroup', {
  async validate(input, ctx) {
    const g = await groupOf(ctx, input);
    return ctx.services.network.admin.checkDeleteGroup(ctx.accountId, g.id);
  },
  async handle(_input, ctx, g) {
    await ctx.services.network.admin.deleteGroup(g);
    return { Return: true, GroupId: g.id };
  },
});

function authorizeHandler<Op extends 'AuthorizeSecurityGroupIngress' | 'AuthorizeSecurityGroupEgress'>(op: Op, egress: boolean) {
  return defineHandler(op, {
    async validate(input: Ec2.AuthorizeSecurityGroupIngressRequest, ctx: RequestContext) {
      const g = await groupOf(ctx, input);
      const drafts = await rulesOf(input, peerOf(ctx, g));
      await ctx.services.network.admin.checkAuthorize(g, egress, drafts);
      return { g, drafts };
    },
    async handle(_input: unknown, ctx: RequestContext, { g, drafts }: { g: SecurityGroupRow; drafts: Awaited<ReturnType<typeof rulesOf>> }) {
      const rows = await ctx.services.network.admin.authorize(g, egress, drafts);
      return { Return: true, SecurityGroupRules: rows.map((r) => toRule(r, ctx)) };
    },
  } as never);
}

function revokeHandler<Op extends 'RevokeSecurityGroupIngress' | 'RevokeSecurityGroupEgress'>(op: Op, egress: boolean) {
  return defineHandler(op, {
    async validate(input: Ec2.RevokeSecurityGroupIngressRequest, ctx: RequestContext) {
      const g = await groupOf(ctx, input);
      const byIds = input.SecurityGroupRuleIds?.length ? input.SecurityGroupRuleIds.map((id) => parseId('securityGroupRule', id)) : undefined;
      const drafts = byIds ? undefined : await rulesOf(input, peerOf(ctx, g), { revoking: true });
      return { g, ids: await ctx.services.network.admin.checkRevoke(g, egress, drafts, byIds) };
    },
    async handle(_input: unknown, ctx: RequestContext, { g, ids }: { g: SecurityGroupRow; ids: string[] }) {
      await ctx.services.network.admin.revoke(g, ids);
      return { Return: true };
    },
  } as never);
}

export const authorizeSecurityGroupIngress = authorizeHandler('AuthorizeSecurityGroupIngress', false);
export const authorizeSecurityGroupEgress = authorizeHandler('AuthorizeSecurityGroupEgress', true);
export const revokeSecurityGroupIngress = revokeHandler('RevokeSecurityGroupIngress', false);
export const revokeSecurityGroupEgress = revokeHandler('RevokeSecurityGroupEgress', true);

type RuleRow = SecurityGroupRuleRow & { tags: Tag[] };

/** DescribeSecurityGroupRules over the security_group_rules table. */
export const securityGroupRuleResource: Resource<RuleRow> = {
  from: `(SELECT id, group_id, account_id, is_egress, ip_protocol, from_port, to_port, cidr_ipv4::text AS cidr_ipv4, referenced_group_id, description FROM security_group_rules)`,
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: 'security-group-rule' },
  filters: {
    'group-id': column('group_id'),
    'security-group-rule-id': column('id'),
  },
  notFound: (ids) => new Ec2Error('InvalidSecurityGroupRuleId.NotFound', `The security group rule ID '${ids[0]}' does not exist`),
  maxResults: { min: 5, max: 1000 },
};

export const describeSecurityGroupRules = describeAction('DescribeSecurityGroupRules', {
  resource: securityGroupRuleResource, idKind: 'securityGroupRule', ids: (i) => i.SecurityGroupRuleIds, list: 'SecurityGroupRules', render: (r, ctx) => toRule(r, ctx),
});
