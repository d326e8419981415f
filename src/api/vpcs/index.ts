import { column, join, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { VpcRow } from '../../db/repositories/network.js';
import { VPC_DHCP_OPTIONS_ID } from '../../db/repositories/dhcp.js';
import { tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Association = { id: string; cidr: string; state: string };
type Row = VpcRow & { tags: Tag[]; effective_dhcp_options_id: string; cidr_associations: Association[] };

/** Every association of the VPC's IPv4 blocks still visible (the primary first). */
const ASSOCIATIONS = `(SELECT coalesce(json_agg(json_build_object('id', c.association_id, 'cidr', c.cidr_block::text, 'state', c.state)
    ORDER BY c.is_primary DESC, c.created_at, c.association_id), '[]') FROM vpc_cidr_blocks c WHERE c.vpc_id = r.id) AS cidr_associations`;
const association = (value: string) => join<Row>('vpc_cidr_blocks c', 'c.vpc_id = r.id', value);

/** DescribeVpcs over the vpcs table. */
export const vpcResource: Resource<Row> = {
  from: 'vpcs',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `r.*, ${VPC_DHCP_OPTIONS_ID} AS effective_dhcp_options_id, ${ASSOCIATIONS}`,
  tags: { type: 'vpc' },
  filters: {
    'vpc-id': column('id'),
    cidr: text('r.cidr_block::text'),
    'cidr-block-association.cidr-block': association('c.cidr_block::text'),
    'cidr-block-association.association-id': association('c.association_id'),
    'cidr-block-association.state': association('c.state'),
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
    CidrBlockAssociationSet: v.cidr_associations.map((a) => ({ AssociationId: a.id, CidrBlock: a.cidr, CidrBlockState: { State: a.state } })),
    Ipv6CidrBlockAssociationSet: [],
    Tags: tagSetOrNone(v.tags),
  };
}

export const describeVpcs = describeAction('DescribeVpcs', {
  resource: vpcResource, idKind: 'vpc', ids: (i) => i.VpcIds, list: 'Vpcs', render: toVpc,
});
