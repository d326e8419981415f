/**
 * The describe filters as they were before the engine moved to SQL (issue 12): every resource's filters as
 * functions of a row loaded in memory, with the rows loaded the way the handlers loaded them (everything of
 * the account). test/describe/reference.test.ts holds the SQL engine to these, on random data.
 * Kept here, verbatim in behaviour, as the reference; nothing in src/ uses them.
 */
import { primaryAssociationId } from '../../src/db/repositories/vpc-cidrs.js';
import { defaultDhcpOptionsId } from '../../src/db/repositories/dhcp.js';
import { type DescribeSpec, type Tag } from '../../src/describe/index.js';
import { Ec2Error, notFound } from '../../src/errors/index.js';
import { stateOf } from '../../src/domain/instance-state.js';
import { subnetCapacity } from '../../src/services/network/index.js';
import { privateDnsName, type InstanceView } from '../../src/api/instances/mappers.js';
import type { ImageRow, KeyPairRow } from '../../src/db/repositories/compute.js';
import type { SecurityGroupRow, SecurityGroupRuleRow, SubnetRow, VpcRow } from '../../src/db/repositories/network.js';
import type { TagRow } from '../../src/db/repositories/tags.js';
import type { Services } from '../../src/services/index.js';

/** The ENIs attached to the instance (loadAll gives every instance its list). */
const enisOf = (i: InstanceView) => i.enis ?? [];

export const instanceSpec: DescribeSpec<InstanceView> = {
  id: (i) => i.id,
  tags: (i) => i.tags,
  filters: {
    'instance-id': (i) => i.id,
    'instance-state-name': (i) => i.state,
    'instance-state-code': (i) => stateOf(i.state).Code,
    'image-id': (i) => i.image_id,
    'instance-type': (i) => i.instance_type,
    'key-name': (i) => i.key_name,
    'private-ip-address': (i) => i.private_ip,
    'network-interface.addresses.private-ip-address': (i) => enisOf(i).flatMap((e) => e.ips),
    'network-interface.private-ip-address': (i) => enisOf(i).flatMap((e) => e.ips.slice(0, 1)),
    'network-interface.addresses.primary': (i) => enisOf(i).flatMap((e) => e.ips.map((_, n) => n === 0)),
    'network-interface.subnet-id': (i) => enisOf(i).map((e) => e.subnet_id),
    'network-interface.vpc-id': (i) => enisOf(i).map((e) => e.vpc_id),
    'network-interface.attachment.device-index': (i) => enisOf(i).map((e) => e.device_index),
    'network-interface.attachment.delete-on-termination': (i) => enisOf(i).map((e) => e.delete_on_termination),
    'private-dns-name': (i) => privateDnsName(i.private_ip, i.region),
    'vpc-id': (i) => i.vpc_id,
    'subnet-id': (i) => i.subnet_id,
    'reservation-id': (i) => i.reservation_id,
    'availability-zone': (i) => i.availability_zone,
    'owner-id': (i) => i.account_id,
    'launch-time': (i) => i.launch_time.toISOString(),
    'ami-launch-index': (i) => i.launch_index,
    architecture: (i) => i.architecture,
    'client-token': (i) => i.client_token,
    'instance.group-id': (i) => i.security_group_ids,
    'instance.group-name': (i) => i.groups.map((g) => g.group_name),
    'group-id': (i) => i.security_group_ids,
    'group-name': (i) => i.groups.map((g) => g.group_name),
    'network-interface.network-interface-id': (i) => enisOf(i).map((e) => e.id),
    'network-interface.mac-address': (i) => enisOf(i).map((e) => e.mac_address),
    'root-device-type': () => 'ebs',
    'root-device-name': () => '/dev/xvda',
    'virtualization-type': () => 'hvm',
    hypervisor: () => 'xen',
    tenancy: () => 'default',
    'platform-details': () => 'Linux/UNIX',
    'state-reason-code': (i) => i.state_reason_code,
    'dns-name': () => '',
    'monitoring-state': () => 'disabled',
  },
  notFound: (ids) => notFound('InvalidInstanceID', 'instance ID', ids),
  maxResults: { min: 5, max: 1000 },
  idsExcludeMaxResults: 'instancesSet',
};

export const instanceStatusSpec: DescribeSpec<InstanceView> = {
  ...instanceSpec,
  filters: {
    ...instanceSpec.filters,
    'instance-status.status': (i) => (i.state === 'running' ? 'ok' : 'not-applicable'),
    'system-status.status': (i) => (i.state === 'running' ? 'ok' : 'not-applicable'),
    'instance-status.reachability': (i) => (i.state === 'running' ? 'passed' : 'not-applicable'),
    'system-status.reachability': (i) => (i.state === 'running' ? 'passed' : 'not-applicable'),
  },
  idsExcludeMaxResults: undefined,
};

export type ImageView = ImageRow & { tags: Tag[] };
export const imageSpec: DescribeSpec<ImageView> = {
  id: (i) => i.id,
  tags: (i) => i.tags,
  filters: {
    'image-id': (i) => i.id,
    name: (i) => i.name,
    description: (i) => i.description,
    state: (i) => i.state,
    'owner-id': (i) => i.owner_id.trim(),
    'owner-alias': (i) => i.owner_alias,
    architecture: (i) => i.architecture,
    'is-public': (i) => i.is_public,
    'image-type': () => 'machine',
    'root-device-type': () => 'ebs',
    'root-device-name': (i) => i.root_device_name,
    'virtualization-type': () => 'hvm',
    hypervisor: () => 'xen',
    'platform-details': () => 'Linux/UNIX',
    'manifest-location': (i) => i.image_location,
    'creation-date': (i) => i.created_at.toISOString(),
    'block-device-mapping.device-name': (i) => i.root_device_name,
    'block-device-mapping.volume-size': (i) => i.size_gib,
  },
  notFound: (ids) => new Ec2Error('InvalidAMIID.NotFound', `The image id '[${ids.join(', ')}]' does not exist`),
  maxResults: { min: 5, max: 1000 },
};

export type KeyPairView = KeyPairRow & { tags: Tag[] };
export const keyPairSpec: DescribeSpec<KeyPairView> = {
  id: (k) => k.name,
  sortKey: (k) => k.name,
  tags: (k) => k.tags,
  filters: {
    'key-name': (k) => k.name,
    'key-pair-id': (k) => k.id,
    fingerprint: (k) => k.fingerprint,
    'key-type': (k) => k.key_type,
  },
  notFound: (ids) => new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${ids[0]}' does not exist`),
};

export type VpcView = VpcRow & { tags: Tag[]; effective_dhcp_options_id: string; cidr_associations: { id: string; cidr: string; state: string }[] };
export const vpcSpec: DescribeSpec<VpcView> = {
  id: (v) => v.id,
  tags: (v) => v.tags,
  filters: {
    'vpc-id': (v) => v.id,
    cidr: (v) => v.cidr_block,
    // The random clouds have no secondary blocks: each VPC's one association is its primary block's.
    'cidr-block-association.cidr-block': (v) => v.cidr_blocks ?? [v.cidr_block],
    'cidr-block-association.association-id': (v) => primaryAssociationId(v.id),
    'cidr-block-association.state': () => 'associated',
    'is-default': (v) => v.is_default,
    isDefault: (v) => v.is_default,
    state: (v) => v.state,
    'owner-id': (v) => v.account_id,
    'dhcp-options-id': (v) => v.effective_dhcp_options_id,
  },
  notFound: (ids) => notFound('InvalidVpcID', 'vpc ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export type SubnetView = SubnetRow & { tags: Tag[]; zoneId: string; region: string };
const arn = (s: SubnetView) => `arn:aws:ec2:${s.region}:${s.account_id}:subnet/${s.id}`;
export const subnetSpec: DescribeSpec<SubnetView> = {
  id: (s) => s.id,
  tags: (s) => s.tags,
  filters: {
    'subnet-id': (s) => s.id,
    'vpc-id': (s) => s.vpc_id,
    'cidr-block': (s) => s.cidr_block,
    cidr: (s) => s.cidr_block,
    cidrBlock: (s) => s.cidr_block,
    'availability-zone': (s) => s.availability_zone,
    availabilityZone: (s) => s.availability_zone,
    'availability-zone-id': (s) => s.zoneId,
    'default-for-az': (s) => s.default_for_az,
    defaultForAz: (s) => s.default_for_az,
    'map-public-ip-on-launch': (s) => s.map_public_ip_on_launch,
    state: (s) => s.state,
    'owner-id': (s) => s.account_id,
    'available-ip-address-count': (s) => subnetCapacity(s.cidr_block) - s.used,
    'subnet-arn': (s) => arn(s),
  },
  notFound: (ids) => notFound('InvalidSubnetID', 'subnet ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export type GroupView = SecurityGroupRow & { tags: Tag[]; rules: SecurityGroupRuleRow[] };
const ingress = (g: GroupView) => g.rules.filter((r) => !r.is_egress);
const egress = (g: GroupView) => g.rules.filter((r) => r.is_egress);
export const securityGroupSpec: DescribeSpec<GroupView> = {
  id: (g) => g.id,
  tags: (g) => g.tags,
  filters: {
    'group-id': (g) => g.id,
    'group-name': (g) => g.group_name,
    description: (g) => g.description,
    'vpc-id': (g) => g.vpc_id,
    'owner-id': (g) => g.account_id,
    'ip-permission.protocol': (g) => ingress(g).map((r) => r.ip_protocol),
    'ip-permission.from-port': (g) => ingress(g).map((r) => r.from_port),
    'ip-permission.to-port': (g) => ingress(g).map((r) => r.to_port),
    'ip-permission.cidr': (g) => ingress(g).map((r) => r.cidr_ipv4),
    'ip-permission.group-id': (g) => ingress(g).map((r) => r.referenced_group_id),
    'egress.ip-permission.protocol': (g) => egress(g).map((r) => r.ip_protocol),
    'egress.ip-permission.cidr': (g) => egress(g).map((r) => r.cidr_ipv4),
    'egress.ip-permission.from-port': (g) => egress(g).map((r) => r.from_port),
    'egress.ip-permission.to-port': (g) => egress(g).map((r) => r.to_port),
  },
  notFound: (ids) =>
    new Ec2Error('InvalidGroup.NotFound', `The security group${ids.length > 1 ? 's' : ''} '${ids.join("', '")}' ${ids.length > 1 ? 'do' : 'does'} not exist`),
  maxResults: { min: 5, max: 1000 },
};

/**
 * DescribeTags' rows. Before issue 12, `tag-key` and `tag-value` saw a resource's tags only when a `tag:`
 * filter was also given (the handler loaded them only then); the reference gives them always, as the SQL
 * engine does (the tags of the row's resource), the one intended change.
 */
export type TagView = TagRow & { resourceTags: Tag[] };
export const tagSpec: DescribeSpec<TagView> = {
  id: (t) => `${t.resource_id}\u0000${t.key}`,
  tags: (t) => t.resourceTags,
  filters: {
    key: (t) => t.key,
    value: (t) => t.value,
    'resource-id': (t) => t.resource_id,
    'resource-type': (t) => t.resource_type,
  },
  notFound: () => new Ec2Error('InvalidParameterValue', 'not found'),
  maxResults: { min: 5, max: 1000 },
};

/** Everything of the account, loaded as the handlers loaded it before issue 12. */
export async function loadAll(s: Services, accountId: string, region: string) {
  const [instances, tags, groups, rules, images, keyPairs, vpcs, subnets, allTags, enis] = await Promise.all([
    s.instances.list(accountId),
    s.tags.byResource(accountId),
    s.network.securityGroups(accountId),
    s.network.rules(accountId),
    s.images.list(accountId),
    s.keyPairs.list(accountId),
    s.network.vpcs(accountId),
    s.network.subnets(accountId),
    s.tags.all(accountId),
    s.network.enis.all(),
  ]);
  const zones = new Map(s.catalog.zones().map((z) => [z.name, z.zoneId]));
  return {
    instances: instances.map((r): InstanceView => ({
      ...r,
      tags: tags.get(r.id) ?? [],
      groups: r.security_group_ids.map((id) => groups.find((g) => g.id === id)).filter((g) => g !== undefined),
      architecture: images.find((im) => im.id === r.image_id)?.architecture ?? 'x86_64',
      region,
      enis: enis.filter((e) => e.instance_id === r.id).map((e) => ({ ...e, device_index: e.device_index ?? 0, groups: [] })),
    })),
    images: images.map((i): ImageView => ({ ...i, tags: tags.get(i.id) ?? [] })),
    keyPairs: keyPairs.map((k): KeyPairView => ({ ...k, tags: tags.get(k.id) ?? [] })),
    vpcs: vpcs.map((v): VpcView => ({
      ...v,
      tags: tags.get(v.id) ?? [],
      effective_dhcp_options_id: v.dhcp_options_id ?? defaultDhcpOptionsId(v.account_id),
      cidr_associations: [{ id: primaryAssociationId(v.id), cidr: v.cidr_block, state: 'associated' }],
    })),
    subnets: subnets.map((x): SubnetView => ({ ...x, tags: tags.get(x.id) ?? [], zoneId: zones.get(x.availability_zone) ?? '', region })),
    groups: groups.map((g): GroupView => ({ ...g, tags: tags.get(g.id) ?? [], rules: rules.filter((r) => r.group_id === g.id) })),
    tags: allTags.map((t): TagView => ({ ...t, resourceTags: tags.get(t.resource_id) ?? [] })),
  };
}
