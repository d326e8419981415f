import { column, constant, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { VpcRow } from '../../db/repositories/network.js';
import { VPC_DHCP_OPTIONS_ID } from '../../db/repositories/dhcp.js';
import { tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

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

export const describeVpcs = describeAction('DescribeVpcs', {
  resource: vpcResource, idKind: 'vpc', ids: (i) => i.VpcIds, list: 'Vpcs', render: toVpc,
});
