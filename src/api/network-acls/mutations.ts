/** Create/DeleteNetworkAcl, Create/Replace/DeleteNetworkAclEntry, ReplaceNetworkAclAssociation. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { aclEntry } from '../../services/network/acls.js';
import { tagsFromSpecs } from '../common.js';
import { networkAclResource, toNetworkAcl } from './index.js';
import type * as Ec2 from '../../protocol/generated/types.js';

async function oneAcl(id: string, ctx: RequestContext): Promise<Ec2.NetworkAcl> {
  const page = await ctx.services.describe.page(networkAclResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return toNetworkAcl(batch[0]);
  throw new Error(`network ACL ${id} vanished`);
}

export const createNetworkAcl = defineHandler('CreateNetworkAcl', {
  validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'network-acl'));
    if (!input.VpcId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter VpcId');
    return ctx.services.network.acls.vpc(ctx.accountId, parseId('vpc', input.VpcId));
  },
  async handle(input, ctx, vpc) {
    const id = await ctx.services.network.acls.create(ctx.accountId, vpc);
    const tags = tagsFromSpecs(input.TagSpecifications, 'network-acl');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'network-acl' }], tags);
    return { NetworkAcl: await oneAcl(id, ctx), ClientToken: input.ClientToken };
  },
});

export const deleteNetworkAcl = defineHandler('DeleteNetworkAcl', {
  validate(input, ctx) {
    return ctx.services.network.acls.checkDelete(ctx.accountId, parseId('networkAcl', input.NetworkAclId));
  },
  async handle(_input, ctx, acl) {
    await ctx.services.network.acls.delete(acl);
    return {};
  },
});

export const createNetworkAclEntry = defineHandler('CreateNetworkAclEntry', {
  validate(input, ctx) {
    return ctx.services.network.acls.checkCreateEntry(ctx.accountId, parseId('networkAcl', input.NetworkAclId), input);
  },
  async handle(_input, ctx, { acl, row }) {
    await ctx.services.network.acls.createEntry(acl, row);
    return {};
  },
});

export const replaceNetworkAclEntry = defineHandler('ReplaceNetworkAclEntry', {
  async validate(input, ctx) {
    const id = parseId('networkAcl', input.NetworkAclId);
    const row = aclEntry(id, input);
    const acl = await ctx.services.network.acls.checkEntryExists(ctx.accountId, id, row.egress, row.rule_number);
    return { acl, row };
  },
  async handle(_input, ctx, { acl, row }) {
    await ctx.services.network.acls.replaceEntry(acl, row);
    return {};
  },
});

export const deleteNetworkAclEntry = defineHandler('DeleteNetworkAclEntry', {
  async validate(input, ctx) {
    const id = parseId('networkAcl', input.NetworkAclId);
    const acl = await ctx.services.network.acls.checkEntryExists(ctx.accountId, id, input.Egress, input.RuleNumber);
    return { acl, egress: input.Egress, ruleNumber: input.RuleNumber };
  },
  async handle(_input, ctx, { acl, egress, ruleNumber }) {
    await ctx.services.network.acls.deleteEntry(acl, egress, ruleNumber);
    return {};
  },
});

export const replaceNetworkAclAssociation = defineHandler('ReplaceNetworkAclAssociation', {
  validate(input, ctx) {
    if (!input.AssociationId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter AssociationId');
    return ctx.services.network.acls.checkReplaceAssociation(ctx.accountId, parseId('networkAclAssociation', input.AssociationId), parseId('networkAcl', input.NetworkAclId));
  },
  async handle(_input, ctx, p) {
    return { NewAssociationId: await ctx.services.network.acls.replaceAssociation(p) };
  },
});
