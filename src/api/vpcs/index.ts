import { defineHandler } from '../../server/registry.js';
import { column, constant, sql, text, validateRequest, type Resource, type Tag } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { notFound } from '../../errors/index.js';
import type { VpcRow } from '../../db/repositories/network.js';
import { VPC_DHCP_OPTIONS_ID } from '../../db/repositories/dhcp.js';
import { describeRequest, parseIds, tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = VpcRow & { tags: Tag[]; effective_dhcp_options_id: string };

/** DescribeVpcs over the vpcs table. */
export const vpcResource: Resource<Row> = {
  from: 'vpcs',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `r.*, ${VPC_DHCP_OPTIONS_ID} AS effective_dhcp_options_id`,
  tags: { type: 'vpc' },
  filters: {
    'vpc-id': column('id'),
    cidr: text('r.cidr_block::text'),
    'cidr-block-association.cidr-block': text('r.cidr_block::text'),
    'cidr-block-association.state': constant('associated'),
    'is-default': text('r.is_default::text'),
    isDefault: text('r.is_default::text'),
    state: column('state'),
    'owner-id': text('r.account_id::text'),
    'dhcp-options-id': text(VPC_DHCP_OPTIONS_ID),
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
    DhcpOptionsId: v.effective_dhcp_options_id,
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
    validateRequest(vpcResource, describeRequest(input, parseIds('vpc', input.VpcIds)));
  },
  async handle(input, ctx) {
    const page = await ctx.services.describe.page(vpcResource, describeRequest(input, input.VpcIds), ctx);
    return { Vpcs: streamed(page.rows, (rows) => rows.map(toVpc)), NextToken: page.nextToken };
  },
});
