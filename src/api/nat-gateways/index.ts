/** Create/Delete/DescribeNatGateways. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { column, sql, type Resource, type Tag } from '../../describe/index.js';
import { parseId } from '../../ids/index.js';
import { Ec2Error } from '../../errors/index.js';
import { validateTags } from '../../services/tags/index.js';
import { natNotFound } from '../../services/network/nat-gateways.js';
import type { NatRow } from '../../db/repositories/nat-gateways.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = NatRow & { tags: Tag[] };


export const natGatewayResource: Resource<Row> = {
  from: 'nat_gateways',
  id: 'id',
  // Deleted and failed gateways stay visible for an hour, as AWS's do.
  // Deleted and failed gateways stay visible for an hour, as AWS's do.
  scope: (c) => sql`r.account_id = ${c.accountId} AND (r.deleted_at IS NULL OR r.deleted_at > now() - interval '1 hour')`,
  columns: `r.id, r.account_id, r.vpc_id, r.subnet_id, r.connectivity_type, r.state, r.allocation_id, r.association_id, host(r.public_ip) AS public_ip,
    r.network_interface_id, host(r.private_ip) AS private_ip, r.failure_code, r.failure_message, r.client_token, r.created_at, r.deleted_at`,
  tags: { type: 'natgateway' },
  filters: {
    'nat-gateway-id': column('id'),
    state: column('state'),
    'subnet-id': column('subnet_id'),
    'vpc-id': column('vpc_id'),
  },
  notFound: (ids) => natNotFound(ids.join(', ')),
  maxResults: { min: 5, max: 1000 },
};

export function toNatGateway(g: Omit<Row, 'tags'> & { tags?: Tag[] }): Ec2.NatGateway {
  const live = g.state === 'pending' || g.state === 'available' || g.state === 'deleting';
  const addresses: Ec2.NatGatewayAddress[] = g.network_interface_id || g.allocation_id
    ? [{
        AllocationId: g.allocation_id ?? undefined,
        NetworkInterfaceId: g.network_interface_id ?? undefined,
        PrivateIp: g.private_ip ?? undefined,
        PublicIp: g.public_ip ?? undefined,
        AssociationId: live ? (g.association_id ?? undefined) : undefined,
        IsPrimary: true,
        Status: g.state === 'failed' ? 'failed' : 'succeeded',
        FailureMessage: g.state === 'failed' ? (g.failure_message ?? undefined) : undefined,
      }]
    : [];
  return {
    NatGatewayId: g.id,
    CreateTime: g.created_at,
    DeleteTime: g.state === 'deleted' ? (g.deleted_at ?? undefined) : undefined,
    FailureCode: g.failure_code ?? undefined,
    FailureMessage: g.failure_message ?? undefined,
    NatGatewayAddresses: addresses,
    State: g.state,
    SubnetId: g.subnet_id,
    VpcId: g.vpc_id,
    ConnectivityType: g.connectivity_type,
    Tags: toTagList(g.tags),
  };
}

export const describeNatGateways = describeAction('DescribeNatGateways', {
  resource: natGatewayResource, idKind: 'natGateway', ids: (i) => i.NatGatewayIds, list: 'NatGateways', render: toNatGateway,
  filters: (i) => i.Filter, // this action's filters are `Filter`, not `Filters`
});

async function oneNat(id: string, ctx: RequestContext): Promise<Row | undefined> {
  const page = await ctx.services.describe.page(natGatewayResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return batch[0];
  return undefined;
}

export const createNatGateway = defineHandler('CreateNatGateway', {
  async validate(input, ctx) {
    const tags = tagsFromSpecs(input.TagSpecifications, 'natgateway');
    validateTags(tags);
    if (input.SubnetId === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter SubnetId');
    const plan = await ctx.services.network.nats.checkCreate(ctx.accountId, {
      subnetId: parseId('subnet', input.SubnetId),
      allocationId: input.AllocationId === undefined ? undefined : parseId('address', input.AllocationId),
      connectivityType: input.ConnectivityType,
      privateIpAddress: input.PrivateIpAddress,
      clientToken: input.ClientToken,
    });
    return { plan, tags };
  },
  async handle(input, ctx, { plan, tags }) {
    const made = await ctx.services.network.nats.create(ctx.accountId, plan);
    if (tags.length && !plan.existing) await ctx.services.tags.create(ctx.accountId, [{ id: made.id, type: 'natgateway' }], tags);
    const row = (await oneNat(made.id, ctx)) ?? { ...made, tags: [] };
    // AWS answers with the gateway as it was made: pending (or failed), whatever it has become since.
    return { ClientToken: input.ClientToken, NatGateway: toNatGateway({ ...row, state: made.state }) };
  },
});

export const deleteNatGateway = defineHandler('DeleteNatGateway', {
  validate(input, ctx) {
    return ctx.services.network.nats.checkDelete(ctx.accountId, parseId('natGateway', input.NatGatewayId));
  },
  async handle(_input, ctx, n) {
    await ctx.services.network.nats.delete(n);
    return { NatGatewayId: n.id };
  },
});
