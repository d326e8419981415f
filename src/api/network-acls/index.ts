/** DescribeNetworkAcls over the network_acls table (entries and effective subnet associations joined). */
import { column, join, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import { EFFECTIVE_ASSOCIATIONS, type AclEntryRow, type AclRow } from '../../db/repositories/acls.js';
import { tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = AclRow & { tags: Tag[]; entries: AclEntryRow[]; associations: { subnet_id: string; assoc_id: string }[] };

const ENTRIES = `COALESCE((SELECT json_agg(x ORDER BY x.egress, x.rule_number) FROM (SELECT acl_id, egress, rule_number, protocol, rule_action,
  cidr_block::text AS cidr_block, from_port, to_port, icmp_type, icmp_code FROM network_acl_entries WHERE acl_id = r.id) x), '[]')`;
const ASSOCIATIONS = `COALESCE((SELECT json_agg(x ORDER BY x.subnet_id) FROM (SELECT subnet_id, assoc_id FROM ${EFFECTIVE_ASSOCIATIONS} ea
  WHERE ea.acl_id = r.id) x), '[]')`;

const entry = (value: string) => join<Row>('network_acl_entries ne', 'ne.acl_id = r.id', value);
const association = (value: string) => join<Row>(`${EFFECTIVE_ASSOCIATIONS} ea`, 'ea.acl_id = r.id', value);

export const networkAclResource: Resource<Row> = {
  from: 'network_acls',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `r.id, r.account_id, r.vpc_id, r.is_default, ${ENTRIES} AS entries, ${ASSOCIATIONS} AS associations`,
  tags: { type: 'network-acl' },
  filters: {
    'network-acl-id': column('id'),
    'vpc-id': column('vpc_id'),
    default: text('r.is_default::text'),
    'owner-id': text('r.account_id::text'),
    'association.association-id': association('ea.assoc_id'),
    'association.network-acl-id': association('ea.acl_id'),
    'association.subnet-id': association('ea.subnet_id'),
    'entry.cidr': entry('ne.cidr_block::text'),
    'entry.egress': entry('ne.egress::text'),
    'entry.protocol': entry('ne.protocol'),
    'entry.rule-action': entry('ne.rule_action'),
    'entry.rule-number': entry('ne.rule_number::text'),
    'entry.port-range.from': entry('ne.from_port::text'),
    'entry.port-range.to': entry('ne.to_port::text'),
    'entry.icmp.type': entry('ne.icmp_type::text'),
    'entry.icmp.code': entry('ne.icmp_code::text'),
  },
  notFound: (ids) => notFound('InvalidNetworkAclID', 'networkAcl ID', ids),
  maxResults: { min: 5, max: 1000 },
};

function toEntry(e: AclEntryRow): Ec2.NetworkAclEntry {
  return {
    RuleNumber: e.rule_number,
    Protocol: e.protocol,
    RuleAction: e.rule_action,
    Egress: e.egress,
    CidrBlock: e.cidr_block,
    PortRange: e.from_port !== null ? { From: e.from_port, To: e.to_port ?? e.from_port } : undefined,
    IcmpTypeCode: e.icmp_type !== null ? { Type: e.icmp_type, Code: e.icmp_code ?? -1 } : undefined,
  };
}

/** AWS's `*` rule of each direction, shown as rule number 32767. */
const STAR = (egress: boolean): Ec2.NetworkAclEntry => ({ RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress: egress, CidrBlock: '0.0.0.0/0' });

export function toNetworkAcl(a: Row): Ec2.NetworkAcl {
  const entries = a.entries.map(toEntry);
  return {
    NetworkAclId: a.id,
    VpcId: a.vpc_id,
    OwnerId: a.account_id,
    IsDefault: a.is_default,
    Associations: a.associations.map((x) => ({ NetworkAclAssociationId: x.assoc_id, NetworkAclId: a.id, SubnetId: x.subnet_id })),
    Entries: [...entries.filter((e) => e.Egress), STAR(true), ...entries.filter((e) => !e.Egress), STAR(false)],
    Tags: tagSetOrNone(a.tags),
  };
}

export const describeNetworkAcls = describeAction('DescribeNetworkAcls', {
  resource: networkAclResource, idKind: 'networkAcl', ids: (i) => i.NetworkAclIds, list: 'NetworkAcls', render: toNetworkAcl,
});
