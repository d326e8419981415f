/** Elastic IPs: Allocate/Associate/Disassociate/Release/DescribeAddresses. */
import { defineHandler } from '../../server/registry.js';
import { column, text, constant, sql, validateRequest, type Resource, type Tag } from '../../describe/index.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { describeRequest, parseIds, tagsFromSpecs, toTagList } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = { id: string; account_id: string; ip: string; ptr_record: string | null; private: string | null; association_id: string | null; network_interface_id: string | null; instance_id: string | null; tags: Tag[] };

export const addressResource: Resource<Row> = {
  from: 'addresses',
  id: 'id',
  // Public IPv4 addresses on launch are rows too, but not Elastic IPs: not shown.
  scope: (c) => sql`r.account_id = ${c.accountId} AND NOT r.auto`,
  columns: `r.id, r.account_id, host(r.public_ip) AS ip, r.ptr_record, host(r.private_ip) AS private, r.association_id, r.network_interface_id,
    (SELECT n.instance_id FROM network_interfaces n WHERE n.id = r.network_interface_id) AS instance_id`,
  tags: { type: 'elastic-ip' },
  filters: {
    'allocation-id': column('id'),
    'association-id': column('association_id'),
    domain: constant('vpc'),
    'public-ip': text('host(r.public_ip)'),
    'private-ip-address': text('host(r.private_ip)'),
    'network-interface-id': column('network_interface_id'),
    'network-interface-owner-id': text('CASE WHEN r.network_interface_id IS NULL THEN NULL ELSE r.account_id::text END'),
    'instance-id': text('(SELECT n.instance_id FROM network_interfaces n WHERE n.id = r.network_interface_id)'),
  },
  notFound: (ids) => notFound('InvalidAllocationID', 'allocation ID', ids),
};

function toAddress(a: Row): Ec2.Address {
  return {
    AllocationId: a.id,
    PublicIp: a.ip,
    Domain: 'vpc',
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: undefined,
    AssociationId: a.association_id ?? undefined,
    NetworkInterfaceId: a.network_interface_id ?? undefined,
    NetworkInterfaceOwnerId: a.network_interface_id ? a.account_id.trim() : undefined,
    PrivateIpAddress: a.private ?? undefined,
    InstanceId: a.instance_id ?? undefined,
    Tags: toTagList(a.tags),
  };
}

export const describeAddresses = defineHandler('DescribeAddresses', {
  validate(input) {
    validateRequest(addressResource, describeRequest(input, parseIds('address', input.AllocationIds)));
  },
  async handle(input, ctx) {
    const filters = [...(input.Filters ?? []), ...(input.PublicIps?.length ? [{ Name: 'public-ip', Values: input.PublicIps }] : [])];
    const page = await ctx.services.describe.page(addressResource, { ...describeRequest(input, input.AllocationIds), filters }, ctx);
    const rows: Ec2.Address[] = [];
    for await (const batch of page.rows) rows.push(...batch.map(toAddress));
    for (const ip of input.PublicIps ?? []) {
      if (!rows.some((r) => r.PublicIp === ip)) throw new Ec2Error('InvalidAddress.NotFound', `Address '${ip}' not found.`);
    }
    return { Addresses: rows };
  },
});

export const allocateAddress = defineHandler('AllocateAddress', {
  validate(input) {
    if (input.Domain !== undefined && input.Domain !== 'vpc') throw new Ec2Error('InvalidParameterValue', `Value (${input.Domain}) for parameter domain is invalid.`);
    if (input.Address || input.PublicIpv4Pool || input.CustomerOwnedIpv4Pool || input.IpamPoolId) throw new Ec2Error('UnsupportedOperation', 'Addresses come from the operator-configured pool only.');
    const tags = tagsFromSpecs(input.TagSpecifications, 'elastic-ip');
    validateTags(tags);
    return tags;
  },
  async handle(_input, ctx, tags) {
    const a = await ctx.services.network.addresses.allocate(ctx.accountId);
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: a.id, type: 'elastic-ip' }], tags);
    return { AllocationId: a.id, PublicIp: a.public_ip, Domain: 'vpc', PublicIpv4Pool: 'amazon', NetworkBorderGroup: ctx.region };
  },
});

export const associateAddress = defineHandler('AssociateAddress', {
  validate(input, ctx) {
    return ctx.services.network.addresses.checkAssociate(
      ctx.accountId,
      { allocationId: input.AllocationId === undefined ? undefined : parseId('address', input.AllocationId), publicIp: input.PublicIp },
      {
        instanceId: input.InstanceId === undefined ? undefined : parseId('instance', input.InstanceId),
        eniId: input.NetworkInterfaceId === undefined ? undefined : parseId('networkInterface', input.NetworkInterfaceId),
        privateIp: input.PrivateIpAddress,
        allowReassociation: input.AllowReassociation ?? (input.InstanceId !== undefined ? true : false),
      },
    );
  },
  async handle(_input, ctx, p) {
    return { AssociationId: await ctx.services.network.addresses.associate(p) };
  },
});

export const disassociateAddress = defineHandler('DisassociateAddress', {
  validate(input, ctx) {
    const associationId = input.AssociationId === undefined ? undefined : parseId('addressAssociation', input.AssociationId);
    if (!associationId && !input.PublicIp) throw new Ec2Error('MissingParameter', 'Either AssociationId or PublicIp must be specified.');
    return ctx.services.network.addresses.checkDisassociate(ctx.accountId, { associationId, publicIp: input.PublicIp });
  },
  async handle(_input, ctx, a) {
    await ctx.services.network.addresses.disassociate(a);
    return {};
  },
});

export const releaseAddress = defineHandler('ReleaseAddress', {
  validate(input, ctx) {
    const allocationId = input.AllocationId === undefined ? undefined : parseId('address', input.AllocationId);
    return ctx.services.network.addresses.checkRelease(ctx.accountId, { allocationId, publicIp: input.PublicIp });
  },
  async handle(_input, ctx, a) {
    await ctx.services.network.addresses.release(a);
    return {};
  },
});
