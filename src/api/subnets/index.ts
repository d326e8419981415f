import { column, joinSql, sql, text, type DescribeContext, type Resource, type Tag } from '../../describe/index.js';
import { CatalogService } from '../../services/catalog/index.js';
import { notFound } from '../../errors/index.js';
import type { SubnetRow } from '../../db/repositories/network.js';
import { subnetCapacity } from '../../services/network/index.js';
import { tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = SubnetRow & { tags: Tag[]; zoneId: string; region: string };

/** Addresses handed out in the subnet. */
const USED = '(SELECT count(*) FROM ip_allocations a WHERE a.subnet_id = r.id)::int';

/** The zone's id, from the catalogue of this server's region. */
const zoneIdOf = (c: DescribeContext) => {
  const zones = new CatalogService(c.region).zones();
  return sql`CASE r.availability_zone ${joinSql(zones.map((z) => sql`WHEN ${z.name}::text THEN ${z.zoneId}::text`), ' ')} ELSE '' END`;
};

/** DescribeSubnets over the subnets table. */
export const subnetResource: Resource<SubnetRow & { tags: Tag[] }> = {
  from: 'subnets',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `r.*, ${USED} AS used`,
  tags: { type: 'subnet' },
  filters: {
    'subnet-id': column('id'),
    'vpc-id': column('vpc_id'),
    'cidr-block': text('r.cidr_block::text'),
    cidr: text('r.cidr_block::text'),
    cidrBlock: text('r.cidr_block::text'),
    'availability-zone': column('availability_zone'),
    availabilityZone: column('availability_zone'),
    'availability-zone-id': text(zoneIdOf),
    'default-for-az': text('r.default_for_az::text'),
    defaultForAz: text('r.default_for_az::text'),
    'map-public-ip-on-launch': text('r.map_public_ip_on_launch::text'),
    state: column('state'),
    'owner-id': text('r.account_id::text'),
    'available-ip-address-count': text(`((2::bigint ^ (32 - masklen(r.cidr_block)))::bigint - 5 - ${USED})::text`),
    'subnet-arn': text((c) => sql`'arn:aws:ec2:' || ${c.region}::text || ':' || r.account_id::text || ':subnet/' || r.id`),
  },
  notFound: (ids) => notFound('InvalidSubnetID', 'subnet ID', ids),
  maxResults: { min: 5, max: 1000 },
};

const arn = (s: Row) => `arn:aws:ec2:${s.region}:${s.account_id}:subnet/${s.id}`;

export function toSubnet(s: Row): Ec2.Subnet {
  return {
    SubnetId: s.id,
    SubnetArn: arn(s),
    VpcId: s.vpc_id,
    OwnerId: s.account_id,
    State: s.state,
    CidrBlock: s.cidr_block,
    AvailabilityZone: s.availability_zone,
    AvailabilityZoneId: s.zoneId,
    AvailableIpAddressCount: subnetCapacity(s.cidr_block) - s.used,
    DefaultForAz: s.default_for_az,
    MapPublicIpOnLaunch: s.map_public_ip_on_launch,
    MapCustomerOwnedIpOnLaunch: false,
    AssignIpv6AddressOnCreation: false,
    Ipv6CidrBlockAssociationSet: [],
    EnableDns64: false,
    Ipv6Native: false,
    PrivateDnsNameOptionsOnLaunch: { HostnameType: 'ip-name', EnableResourceNameDnsARecord: false, EnableResourceNameDnsAAAARecord: false },
    Tags: tagSetOrNone(s.tags),
  };
}

export const describeSubnets = describeAction('DescribeSubnets', {
  resource: subnetResource, idKind: 'subnet', ids: (i) => i.SubnetIds, list: 'Subnets',
  render: (s, ctx) => toSubnet({ ...s, zoneId: ctx.services.catalog.zone(s.availability_zone)?.zoneId ?? '', region: ctx.region }),
});
