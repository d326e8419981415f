import { defineHandler } from '../../server/registry.js';
import { column, join, sql, text, validateRequest, type Resource, type Tag } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { vpcResource } from '../vpcs/index.js';
import { Ec2Error } from '../../errors/index.js';
import type { SecurityGroupRow, SecurityGroupRuleRow } from '../../db/repositories/network.js';
import { describeRequest, parseIds, tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = SecurityGroupRow & { tags: Tag[]; rules: SecurityGroupRuleRow[] };

const ingress = (g: Row) => g.rules.filter((r) => !r.is_egress);
const egress = (g: Row) => g.rules.filter((r) => r.is_egress);

/** A group's rules as the rule repository reads them (ordered by id), for the answer. */
const RULES = `COALESCE((SELECT json_agg(x ORDER BY x.id) FROM (SELECT id, group_id, account_id, is_egress, ip_protocol, from_port,
  to_port, cidr_ipv4, referenced_group_id, description
  FROM security_group_rules WHERE group_id = r.id AND account_id = r.account_id) x), '[]')`;

/** A filter on the group's ingress (or egress) rules. */
const rule = (egress: boolean, value: string) =>
  join<Row>('security_group_rules sr', `sr.group_id = r.id AND sr.account_id = r.account_id AND ${egress ? '' : 'NOT '}sr.is_egress`, value);

/** DescribeSecurityGroups over the security_groups table. */
export const securityGroupResource: Resource<Row> = {
  from: 'security_groups',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `r.*, ${RULES} AS rules`,
  tags: { type: 'security-group' },
  filters: {
    'group-id': column('id'),
    'group-name': column('group_name'),
    description: column('description'),
    'vpc-id': column('vpc_id'),
    'owner-id': text('r.account_id::text'),
    'ip-permission.protocol': rule(false, 'sr.ip_protocol'),
    'ip-permission.from-port': rule(false, 'sr.from_port::text'),
    'ip-permission.to-port': rule(false, 'sr.to_port::text'),
    'ip-permission.cidr': rule(false, 'sr.cidr_ipv4::text'),
    'ip-permission.group-id': rule(false, 'sr.referenced_group_id'),
    'egress.ip-permission.protocol': rule(true, 'sr.ip_protocol'),
    'egress.ip-permission.cidr': rule(true, 'sr.cidr_ipv4::text'),
    'egress.ip-permission.from-port': rule(true, 'sr.from_port::text'),
    'egress.ip-permission.to-port': rule(true, 'sr.to_port::text'),
  },
  notFound: (ids) =>
    new Ec2Error('InvalidGroup.NotFound', `The security group${ids.length > 1 ? 's' : ''} '${ids.join("', '")}' ${ids.length > 1 ? 'do' : 'does'} not exist`),
  maxResults: { min: 5, max: 1000 },
};

/** The rules as AWS answers them: one IpPermission per protocol and port range, holding every peer of it. */
function toPermissions(rules: SecurityGroupRuleRow[], accountId: string): Ec2.IpPermission[] {
  const out = new Map<string, Ec2.IpPermission>();
  for (const r of rules) {
    const key = `${r.ip_protocol}/${r.from_port}/${r.to_port}`;
    let p = out.get(key);
    if (!p) {
      p = { IpProtocol: r.ip_protocol, FromPort: r.from_port ?? undefined, ToPort: r.to_port ?? undefined, IpRanges: [], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] };
      out.set(key, p);
    }
    if (r.cidr_ipv4) p.IpRanges!.push({ CidrIp: r.cidr_ipv4, Description: r.description ?? undefined });
    if (r.referenced_group_id) p.UserIdGroupPairs!.push({ GroupId: r.referenced_group_id, UserId: accountId, Description: r.description ?? undefined });
  }
  return [...out.values()];
}

export function toSecurityGroup(g: Row, region: string): Ec2.SecurityGroup {
  return {
    GroupId: g.id,
    GroupName: g.group_name,
    Description: g.description,
    OwnerId: g.account_id,
    VpcId: g.vpc_id,
    SecurityGroupArn: `arn:aws:ec2:${region}:${g.account_id}:security-group/${g.id}`,
    IpPermissions: toPermissions(ingress(g), g.account_id),
    IpPermissionsEgress: toPermissions(egress(g), g.account_id),
    Tags: tagSetOrNone(g.tags),
  };
}

export const describeSecurityGroups = defineHandler('DescribeSecurityGroups', {
  validate(input) {
    validateRequest(securityGroupResource, describeRequest(input, parseIds('securityGroup', input.GroupIds)));
  },
  async handle(input, ctx) {
    const engine = ctx.services.describe;
    let where;
    if (input.GroupNames?.length) {
      // Names are looked up in the default VPC, as on AWS.
      const vpc = (await engine.select(vpcResource, { filters: [{ Name: 'is-default', Values: ['true'] }] }, ctx)).keys[0]?.key[0];
      const missing = await engine.missing(securityGroupResource, input.GroupNames, ctx, { column: 'group_name', where: sql`r.vpc_id = ${vpc ?? null}` });
      if (missing.length) {
        throw new Ec2Error('InvalidGroup.NotFound', `The security group '${missing[0]}' does not exist in default VPC '${vpc ?? 'none'}'`);
      }
      where = sql`r.vpc_id = ${vpc} AND r.group_name = ANY(${input.GroupNames}::text[])`;
    }
    const page = await engine.page(securityGroupResource, describeRequest(input, input.GroupIds), ctx, { where });
    return { SecurityGroups: streamed(page.rows, (rows) => rows.map((g) => toSecurityGroup(g, ctx.region))), NextToken: page.nextToken };
  },
});
