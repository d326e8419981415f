import { defineHandler } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { VpcRow } from '../../db/repositories/network.js';
import { describeRequest, parseIds, tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = VpcRow & { tags: Tag[] };

export const vpcSpec: DescribeSpec<Row> = {
  id: (v) => v.id,
  tags: (v) => v.tags,
  filters: {
    'vpc-id': (v) => v.id,
    cidr: (v) => v.cidr_block,
    'cidr-block-association.cidr-block': (v) => v.cidr_block,
    'cidr-block-association.state': () => 'associated',
    'is-default': (v) => v.is_default,
    isDefault: (v) => v.is_default,
    state: (v) => v.state,
    'owner-id': (v) => v.account_id,
    'dhcp-options-id': () => 'default',
  },
  notFound: (ids) => notFound('InvalidVpcID', 'vpc ID', ids),
  maxResults: { min: 5, max: 1000 },
};

export function toVpc(v: Row): Ec2.Vpc {
  return {
    VpcId: v.id,
    OwnerId: v.account_id,
    State: v.state,
    CidrBlock: v.cidr_block,
    DhcpOptionsId: 'default',
    InstanceTenancy: v.instance_tenancy,
    IsDefault: v.is_default,
    CidrBlockAssociationSet: [
      { AssociationId: v.id.replace(/^vpc-/, 'vpc-cidr-assoc-'), CidrBlock: v.cidr_block, CidrBlockState: { State: 'associated' } },
    ],
    Ipv6CidrBlockAssociationSet: [],
    Tags: tagSetOrNone(v.tags),
  };
}

export const describeVpcs = defineHandler('DescribeVpcs', {
  validate(input) {
    validateDescribe(vpcSpec, describeRequest(input, parseIds('vpc', input.VpcIds)));
  },
  async handle(input, ctx) {
    const [rows, tags] = await Promise.all([ctx.services.network.vpcs(ctx.accountId), ctx.services.tags.byResource(ctx.accountId)]);
    const page = describe(vpcSpec, rows.map((v) => ({ ...v, tags: tags.get(v.id) ?? [] })), describeRequest(input, input.VpcIds));
    return { Vpcs: page.items.map(toVpc), NextToken: page.nextToken };
  },
});
