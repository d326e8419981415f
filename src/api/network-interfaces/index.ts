/** Describe/Create/Delete NetworkInterfaces and ModifyNetworkInterfaceAttribute over the ENI records. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { column, list, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId, parseId } from '../../ids/index.js';
import { randomMac } from '../../services/instances/launch.js';
import { validateTags } from '../../services/tags/index.js';
import type { EniRow } from '../../db/repositories/enis.js';
import { tagSetOrNone, tagsFromSpecs } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { privateDnsName } from '../../domain/dns.js';
import { checkSecondaryRequest, MAX_IPS_UNATTACHED, type SecondaryRequest } from '../../services/network/private-ips.js';
import { describeAction } from '../describe-action.js';
import { eniOf, setSourceDestCheck } from './private-ips.js';

type Row = EniRow & { tags: Tag[]; group_names: string[] };

/** DescribeNetworkInterfaces over the network_interfaces table (addresses and group names joined). */
export const eniResource: Resource<Row> = {
  from: `(SELECT n.*, COALESCE((SELECT array_agg(host(a.ip) ORDER BY a.is_primary DESC, a.allocated_at, a.ip) FROM ip_allocations a WHERE a.owner_id = n.id), '{}') AS ips,
    COALESCE((SELECT array_agg(g.group_name ORDER BY array_position(n.security_group_ids, g.id)) FROM security_groups g WHERE g.id = ANY(n.security_group_ids)), '{}') AS group_names
    FROM network_interfaces n)`,
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: 'network-interface' },
  filters: {
    'network-interface-id': column('id'),
    'subnet-id': column('subnet_id'),
    'vpc-id': column('vpc_id'),
    'availability-zone': column('availability_zone'),
    'mac-address': column('mac_address'),
    description: column('description'),
    'owner-id': text('r.account_id::text'),
    'private-ip-address': list('ips'),
    'addresses.private-ip-address': list('ips'),
    'group-id': list('security_group_ids'),
    'group-name': list('group_names'),
    'attachment.instance-id': column('instance_id'),
    'attachment.device-index': text('r.device_index::text'),
    'attachment.attachment-id': column('attachment_id'),
    'source-dest-check': text('r.source_dest_check::text'),
    status: text(`CASE WHEN r.instance_id IS NULL THEN 'available' ELSE 'in-use' END`),
    'interface-type': column('interface_type'),
  },
  notFound: (ids) => notFound('InvalidNetworkInterfaceID', 'network interface ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export function toNetworkInterface(e: Row, region: string): Ec2.NetworkInterface {
  const dns = (ip: string) => privateDnsName(ip, region);
  return {
    NetworkInterfaceId: e.id,
    SubnetId: e.subnet_id,
    VpcId: e.vpc_id,
    AvailabilityZone: e.availability_zone,
    Description: e.description,
    OwnerId: e.account_id,
    RequesterManaged: e.interface_type === 'nat_gateway',
    Status: e.instance_id || e.interface_type === 'nat_gateway' ? 'in-use' : 'available',
    MacAddress: e.mac_address,
    PrivateIpAddress: e.ips[0],
    PrivateDnsName: e.ips[0] ? dns(e.ips[0]) : undefined,
    SourceDestCheck: e.source_dest_check,
    InterfaceType: e.interface_type,
    Groups: e.security_group_ids.map((id, i) => ({ GroupId: id, GroupName: e.group_names[i] })),
    Attachment: e.instance_id
      ? { AttachmentId: e.attachment_id ?? undefined, InstanceId: e.instance_id, InstanceOwnerId: e.account_id, DeviceIndex: e.device_index ?? 0, Status: 'attached', DeleteOnTermination: e.delete_on_termination, AttachTime: e.attached_at ?? undefined, NetworkCardIndex: 0 }
      : undefined,
    PrivateIpAddresses: e.ips.map((ip, i) => ({ PrivateIpAddress: ip, PrivateDnsName: dns(ip), Primary: i === 0 })),
    Ipv6Addresses: [],
    TagSet: tagSetOrNone(e.tags),
  };
}

async function oneEni(id: string, ctx: RequestContext): Promise<Ec2.NetworkInterface> {
  const page = await ctx.services.describe.page(eniResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return toNetworkInterface(batch[0], ctx.region);
  throw new Error(`network interface ${id} vanished`);
}

export const describeNetworkInterfaces = describeAction('DescribeNetworkInterfaces', {
  resource: eniResource, idKind: 'networkInterface', ids: (i) => i.NetworkInterfaceIds, list: 'NetworkInterfaces', render: (r, ctx) => toNetworkInterface(r, ctx.region),
});

export const createNetworkInterface = defineHandler('CreateNetworkInterface', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'network-interface'));
    if (input.Ipv6Addresses?.length || input.Ipv6AddressCount) throw new Ec2Error('UnsupportedOperation', 'IPv6 addresses are not supported yet.');
    const addresses = requestedAddresses(input);
    if (addresses.secondary) checkSecondaryRequest(addresses.secondary, 1, MAX_IPS_UNATTACHED);
    const subnet = await ctx.services.network.admin.subnet(ctx.accountId, parseId('subnet', input.SubnetId));
    let groups = input.Groups?.length ? await ctx.services.network.checkGroupsIn(ctx.accountId, subnet.vpc_id, input.Groups.map((g) => parseId('securityGroup', g))) : undefined;
    if (!groups) {
      const dflt = (await ctx.services.network.securityGroupsIn(ctx.accountId, subnet.vpc_id)).find((g) => g.group_name === 'default');
      groups = dflt ? [dflt.id] : [];
    }
    return { subnet, groups, addresses };
  },
  async handle(input, ctx, { subnet, groups, addresses }) {
    const id = newId('networkInterface');
    await ctx.services.network.createEni(
      { id, account_id: ctx.accountId, vpc_id: subnet.vpc_id, subnet_id: subnet.id, availability_zone: subnet.availability_zone, mac_address: randomMac(), description: input.Description ?? '', security_group_ids: groups, instance_id: null, device_index: null, attachment_id: null },
      subnet,
      addresses.primary,
      undefined,
      addresses.secondary,
    );
    const tags = tagsFromSpecs(input.TagSpecifications, 'network-interface');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'network-interface' }], tags);
    await ctx.services.network.applySecurity([subnet.vpc_id]);
    return { NetworkInterface: await oneEni(id, ctx) };
  },
});

/**
 * The addresses CreateNetworkInterface asks for: PrivateIpAddress and/or the PrivateIpAddresses list (the entry
 * with Primary, else the first, is the primary address: Terraform's private_ips = [x] is one), and
 * SecondaryPrivateIpAddressCount.
 */
function requestedAddresses(input: Ec2.CreateNetworkInterfaceRequest): { primary?: string; secondary?: SecondaryRequest } {
  const listed = (input.PrivateIpAddresses ?? []).filter((a) => a.PrivateIpAddress);
  const marked = listed.filter((a) => a.Primary);
  if (marked.length > 1) throw new Ec2Error('InvalidParameterValue', 'Only one primary private IP address may be specified.');
  if (input.PrivateIpAddress && marked[0] && marked[0].PrivateIpAddress !== input.PrivateIpAddress) {
    throw new Ec2Error('InvalidParameterCombination', 'The primary private IP address is specified twice with different values.');
  }
  const primary = input.PrivateIpAddress ?? marked[0]?.PrivateIpAddress ?? listed[0]?.PrivateIpAddress;
  const ips = listed.map((a) => a.PrivateIpAddress!).filter((ip) => ip !== primary);
  if (ips.length && input.SecondaryPrivateIpAddressCount) {
    throw new Ec2Error('InvalidParameterCombination', 'Specify either secondary PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.');
  }
  const secondary = ips.length ? { ips } : input.SecondaryPrivateIpAddressCount ? { count: input.SecondaryPrivateIpAddressCount } : undefined;
  return { primary, secondary };
}

export const deleteNetworkInterface = defineHandler('DeleteNetworkInterface', {
  async validate(input, ctx) {
    const e = await eniOf(ctx, input.NetworkInterfaceId);
    if (e.instance_id || e.interface_type === 'nat_gateway') throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${e.id}] in use.`);
    return e;
  },
  async handle(_input, ctx, e) {
    await ctx.services.network.deleteEni(e.id, e.vpc_id);
    await ctx.services.network.applySecurity([e.vpc_id]);
    return {};
  },
});

export const modifyNetworkInterfaceAttribute = defineHandler('ModifyNetworkInterfaceAttribute', {
  async validate(input, ctx) {
    const e = await eniOf(ctx, input.NetworkInterfaceId);
    const n = [input.Groups?.length, input.SourceDestCheck, input.Description].filter((x) => x !== undefined && x !== 0).length;
    if (n !== 1) throw new Ec2Error('InvalidParameterCombination', 'Exactly one attribute can be modified at a time.');
    if (input.Attachment || input.AssociatePublicIpAddress !== undefined) throw new Ec2Error('UnsupportedOperation', 'Modifying this attribute is not supported.');
    const groups = input.Groups?.length ? await ctx.services.network.checkGroupsIn(ctx.accountId, e.vpc_id, input.Groups) : undefined;
    return { e, groups };
  },
  async handle(input, ctx, { e, groups }) {
    if (groups) {
      const row = e.instance_id ? (await ctx.services.instances.byIds(ctx.accountId, [e.instance_id]))[0] : undefined;
      await ctx.services.network.setEniGroups({ id: e.id, vpcId: e.vpc_id }, groups, { instanceId: e.device_index === 0 ? row?.id : undefined, running: row?.state === 'running' });
    }
    if (input.SourceDestCheck?.Value !== undefined) await setSourceDestCheck(ctx, e.id, input.SourceDestCheck.Value);
    if (input.Description) await ctx.services.network.enis.update(e.id, { description: input.Description.Value ?? '' });
    return {};
  },
});

const ENI_ATTRIBUTES = ['description', 'groupSet', 'sourceDestCheck', 'attachment', 'associatePublicIpAddress'];

/** DescribeNetworkInterfaceAttribute: one attribute of the interface, as DescribeNetworkInterfaces shows it. */
export const describeNetworkInterfaceAttribute = defineHandler('DescribeNetworkInterfaceAttribute', {
  async validate(input, ctx) {
    if (input.Attribute === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter attribute');
    if (!ENI_ATTRIBUTES.includes(input.Attribute)) throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Unknown network interface attribute`);
    return eniOf(ctx, input.NetworkInterfaceId);
  },
  async handle(input, ctx, e) {
    const n = await oneEni(e.id, ctx);
    const out: Ec2.DescribeNetworkInterfaceAttributeResult = { NetworkInterfaceId: e.id };
    switch (input.Attribute) {
      case 'description': out.Description = { Value: n.Description ?? '' }; break;
      case 'groupSet': out.Groups = n.Groups ?? []; break;
      case 'sourceDestCheck': out.SourceDestCheck = { Value: n.SourceDestCheck ?? true }; break;
      case 'attachment': out.Attachment = n.Attachment; break;
      case 'associatePublicIpAddress': out.AssociatePublicIpAddress = e.public_ip_on_launch ?? false; break;
    }
    return out;
  },
});

/** ResetNetworkInterfaceAttribute: the source/destination check back on (the only attribute it resets), live. */
export const resetNetworkInterfaceAttribute = defineHandler('ResetNetworkInterfaceAttribute', {
  async validate(input, ctx) {
    if (input.SourceDestCheck === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter sourceDestCheck');
    return eniOf(ctx, input.NetworkInterfaceId);
  },
  async handle(_input, ctx, e) {
    await setSourceDestCheck(ctx, e.id, true);
    return {};
  },
});
