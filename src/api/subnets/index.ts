import { defineHandler } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { SubnetRow } from '../../db/repositories/network.js';
import { subnetCapacity } from '../../services/network/index.js';
import { describeRequest, parseIds, tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = SubnetRow & { tags: Tag[]; zoneId: string; region: string };

export const subnetSpec: DescribeSpec<Row> = {
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

const arn = (s: Row) => `arn:aws:ec2:${s.region}:${s.account_id}:subnet/${s.id}`;

function toSubnet(s: Row): Ec2.Subnet {
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

export const describeSubnets = defineHandler('DescribeSubnets', {
  validate(input) {
    validateDescribe(subnetSpec, describeRequest(input, parseIds('subnet', input.SubnetIds)));
  },
  async handle(input, ctx) {
    const [rows, tags] = await Promise.all([ctx.services.network.subnets(ctx.accountId), ctx.services.tags.byResource(ctx.accountId)]);
    const zones = new Map(ctx.services.catalog.zones().map((z) => [z.name, z.zoneId]));
    const page = describe(
      subnetSpec,
      rows.map((s) => ({ ...s, tags: tags.get(s.id) ?? [], zoneId: zones.get(s.availability_zone) ?? '', region: ctx.region })),
      describeRequest(input, input.SubnetIds),
    );
    return { Subnets: page.items.map(toSubnet), NextToken: page.nextToken };
  },
});
