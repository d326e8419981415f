/**
 * UpdateSecurityGroupRuleDescriptionsIngress / Egress: a rule's description changes, nothing else (the data plane
 * does not see descriptions). Rules are named as Revoke* names them: by IpPermissions (each peer's Description is
 * the new one; InvalidPermission.NotFound when the group has no such rule) or by SecurityGroupRuleDescriptions
 * (rule id + description; InvalidSecurityGroupRuleId.NotFound).
 */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { rulesOf } from '../../services/network/rules.js';
import type * as Ec2 from '../../protocol/generated/types.js';

function descriptionsHandler<Op extends 'UpdateSecurityGroupRuleDescriptionsIngress' | 'UpdateSecurityGroupRuleDescriptionsEgress'>(op: Op, egress: boolean) {
  return defineHandler(op, {
    async validate(input: Ec2.UpdateSecurityGroupRuleDescriptionsIngressRequest, ctx: RequestContext) {
      const network = ctx.services.network;
      if (!input.GroupId && !input.GroupName) throw new Ec2Error('MissingParameter', 'The request must contain the parameter GroupId or GroupName');
      const dflt = input.GroupId ? undefined : (await network.vpcs(ctx.accountId)).find((v) => v.is_default);
      const g = input.GroupId
        ? await network.admin.group(ctx.accountId, parseId('securityGroup', input.GroupId))
        : (await network.securityGroups(ctx.accountId)).find((x) => x.group_name === input.GroupName && x.vpc_id === dflt?.id);
      if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${input.GroupName}' does not exist in default VPC '${dflt?.id ?? 'none'}'`);
      const byId = input.SecurityGroupRuleDescriptions ?? [];
      if (byId.length && input.IpPermissions?.length) throw new Ec2Error('InvalidParameterCombination', 'Specify either IpPermissions or SecurityGroupRuleDescriptions, not both.');
      if (byId.length) {
        const ids = byId.map((d) => parseId('securityGroupRule', d.SecurityGroupRuleId ?? ''));
        await network.admin.checkRevoke(g, egress, undefined, ids);
        return byId.map((d, i) => ({ id: ids[i]!, description: d.Description ?? null }));
      }
      const peers = await network.securityGroupsIn(ctx.accountId, g.vpc_id);
      const drafts = await rulesOf({ IpPermissions: input.IpPermissions }, async (pair) => {
        const found = pair.GroupId ? peers.find((x) => x.id === pair.GroupId) : peers.find((x) => x.group_name === pair.GroupName);
        if (!found) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${pair.GroupId ?? pair.GroupName}' does not exist in VPC '${g.vpc_id}'`);
        return found.id;
      }, { revoking: true });
      const ids = await network.admin.checkRevoke(g, egress, drafts, undefined);
      return drafts.map((d, i) => ({ id: ids[i]!, description: d.description ?? null }));
    },
    async handle(_input: unknown, ctx: RequestContext, changes: { id: string; description: string | null }[]) {
      await ctx.services.network.admin.setRuleDescriptions(changes);
      return { Return: true };
    },
  } as never);
}

export const updateSecurityGroupRuleDescriptionsIngress = descriptionsHandler('UpdateSecurityGroupRuleDescriptionsIngress', false);
export const updateSecurityGroupRuleDescriptionsEgress = descriptionsHandler('UpdateSecurityGroupRuleDescriptionsEgress', true);

/**
 * ModifySecurityGroupRules: rules replaced in place by id (their id and direction stay), checked as Authorize*
 * checks a new rule; running instances' flows follow before the call answers (as for Authorize/Revoke).
 */
export const modifySecurityGroupRules = defineHandler('ModifySecurityGroupRules', {
  async validate(input, ctx) {
    const network = ctx.services.network;
    const g = await network.admin.group(ctx.accountId, parseId('securityGroup', input.GroupId));
    if (!input.SecurityGroupRules?.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter SecurityGroupRules');
    const peers = await network.securityGroupsIn(ctx.accountId, g.vpc_id);
    const changes = [];
    for (const u of input.SecurityGroupRules) {
      const id = parseId('securityGroupRule', u.SecurityGroupRuleId ?? '');
      const r = u.SecurityGroupRule;
      if (!r) throw new Ec2Error('MissingParameter', 'The request must contain the parameter SecurityGroupRule');
      const [rule] = await rulesOf({ IpPermissions: [{
        IpProtocol: r.IpProtocol, FromPort: r.FromPort, ToPort: r.ToPort,
        IpRanges: r.CidrIpv4 ? [{ CidrIp: r.CidrIpv4, Description: r.Description }] : [],
        Ipv6Ranges: r.CidrIpv6 ? [{ CidrIpv6: r.CidrIpv6 }] : [],
        PrefixListIds: r.PrefixListId ? [{ PrefixListId: r.PrefixListId }] : [],
        UserIdGroupPairs: r.ReferencedGroupId ? [{ GroupId: r.ReferencedGroupId, Description: r.Description }] : [],
      }] }, async (pair) => {
        const found = peers.find((x) => x.id === pair.GroupId);
        if (!found) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${pair.GroupId}' does not exist in VPC '${g.vpc_id}'`);
        return found.id;
      });
      changes.push({ id, rule: rule! });
    }
    await network.admin.checkModifyRules(g, changes);
    return { g, changes };
  },
  async handle(_input, ctx, { g, changes }) {
    await ctx.services.network.admin.modifyRules(g, changes);
    return { Return: true };
  },
});
