/** Create/Attach/Detach/Delete/DescribeInternetGateways. */
import { defineHandler } from '../../server/registry.js';
import { column, text, sql, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import type { GatewayRow } from '../../db/repositories/routes.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = GatewayRow & { tags: Tag[] };

export const internetGatewayResource: Resource<Row> = {
  from: 'internet_gateways',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: 'internet-gateway' },
  filters: {
    'internet-gateway-id': column('id'),
    'attachment.vpc-id': column('vpc_id'),
    'attachment.state': text(`CASE WHEN r.vpc_id IS NULL THEN NULL ELSE 'available' END`),
    'owner-id': text('r.account_id::text'),
  },
  notFound: (ids) => notFound('InvalidInternetGatewayID', 'internetGateway ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export function toInternetGateway(g: Row): Ec2.InternetGateway {
  return {
    InternetGatewayId: g.id,
    OwnerId: g.account_id.trim(),
    Attachments: g.vpc_id ? [{ State: 'available', VpcId: g.vpc_id }] : [],
    Tags: toTagList(g.tags),
  };
}

export const describeInternetGateways = describeAction('DescribeInternetGateways', {
  resource: internetGatewayResource, idKind: 'internetGateway', ids: (i) => i.InternetGatewayIds, list: 'InternetGateways', render: toInternetGateway,
});

export const createInternetGateway = defineHandler('CreateInternetGateway', {
  validate(input) {
    const tags = tagsFromSpecs(input.TagSpecifications, 'internet-gateway');
    validateTags(tags);
    return tags;
  },
  async handle(_input, ctx, tags) {
    const id = await ctx.services.network.edge.createGateway(ctx.accountId);
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'internet-gateway' }], tags);
    return { InternetGateway: { InternetGatewayId: id, OwnerId: ctx.accountId, Attachments: [], Tags: tags.map((t) => ({ Key: t.key, Value: t.value })) } };
  },
});

export const attachInternetGateway = defineHandler('AttachInternetGateway', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkAttach(ctx.accountId, parseId('internetGateway', input.InternetGatewayId), parseId('vpc', input.VpcId));
  },
  async handle(_input, ctx, p) {
    await ctx.services.network.edge.attach(p);
    return {};
  },
});

export const detachInternetGateway = defineHandler('DetachInternetGateway', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkDetach(ctx.accountId, parseId('internetGateway', input.InternetGatewayId), parseId('vpc', input.VpcId));
  },
  async handle(input, ctx, g) {
    await ctx.services.network.edge.detach(g, input.VpcId);
    return {};
  },
});

export const deleteInternetGateway = defineHandler('DeleteInternetGateway', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkDeleteGateway(ctx.accountId, parseId('internetGateway', input.InternetGatewayId));
  },
  async handle(_input, ctx, g) {
    await ctx.services.network.edge.deleteGateway(g);
    return {};
  },
});
