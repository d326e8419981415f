/** Create/Describe/Delete/AssociateDhcpOptions. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { column, jsonPath, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { checkConfigurations } from '../../services/network/dhcp.js';
import type { DhcpOptionsRow } from '../../db/repositories/dhcp.js';
import { tagSetOrNone, tagsFromSpecs } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = DhcpOptionsRow & { tags: Tag[] };

export const dhcpOptionsResource: Resource<Row> = {
  from: 'dhcp_options',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: 'dhcp-options' },
  filters: {
    'dhcp-options-id': column('id'),
    'owner-id': text('r.account_id::text'),
    key: jsonPath('configurations', '$[*].key'),
    value: jsonPath('configurations', '$[*].values[*]'),
  },
  notFound: (ids) => notFound('InvalidDhcpOptionID', 'dhcpOption ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export function toDhcpOptions(d: Row): Ec2.DhcpOptions {
  return {
    DhcpOptionsId: d.id,
    OwnerId: d.account_id,
    DhcpConfigurations: d.configurations.map((c) => ({ Key: c.key, Values: c.values.map((v) => ({ Value: v })) })),
    Tags: tagSetOrNone(d.tags),
  };
}

async function one(id: string, ctx: RequestContext): Promise<Ec2.DhcpOptions> {
  const page = await ctx.services.describe.page(dhcpOptionsResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return toDhcpOptions(batch[0]);
  throw new Error(`DHCP options ${id} vanished`);
}

export const describeDhcpOptions = describeAction('DescribeDhcpOptions', {
  resource: dhcpOptionsResource, idKind: 'dhcpOptions', ids: (i) => i.DhcpOptionsIds, list: 'DhcpOptions', render: toDhcpOptions,
  prepare: (ctx) => ctx.services.network.dhcp.ensureDefault(ctx.accountId, ctx.region),
});

export const createDhcpOptions = defineHandler('CreateDhcpOptions', {
  validate(input) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'dhcp-options'));
    return checkConfigurations(input.DhcpConfigurations);
  },
  async handle(input, ctx, configurations) {
    const id = await ctx.services.network.dhcp.create(ctx.accountId, configurations);
    const tags = tagsFromSpecs(input.TagSpecifications, 'dhcp-options');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'dhcp-options' }], tags);
    return { DhcpOptions: await one(id, ctx) };
  },
});

export const deleteDhcpOptions = defineHandler('DeleteDhcpOptions', {
  validate(input, ctx) {
    return ctx.services.network.dhcp.checkDelete(ctx.accountId, parseId('dhcpOptions', input.DhcpOptionsId), ctx.region);
  },
  async handle(_input, ctx, d) {
    await ctx.services.network.dhcp.delete(d);
    return {};
  },
});

export const associateDhcpOptions = defineHandler('AssociateDhcpOptions', {
  async validate(input, ctx) {
    if (!input.DhcpOptionsId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter DhcpOptionsId');
    const id = input.DhcpOptionsId === 'default' ? 'default' : parseId('dhcpOptions', input.DhcpOptionsId);
    const vpc = await ctx.services.network.dhcp.checkAssociate(ctx.accountId, parseId('vpc', input.VpcId), id, ctx.region);
    return { vpc, id };
  },
  async handle(_input, ctx, { vpc, id }) {
    await ctx.services.network.dhcp.associate(vpc, id);
    return {};
  },
});
