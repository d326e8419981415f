import { defineHandler } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec, type Tag } from '../../describe/index.js';
import { Ec2Error } from '../../errors/index.js';
import type { SecurityGroupRow, SecurityGroupRuleRow } from '../../db/repositories/network.js';
import { describeRequest, parseIds, tagSetOrNone } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = SecurityGroupRow & { tags: Tag[]; rules: SecurityGroupRuleRow[] };

const ingress = (g: Row) => g.rules.filter((r) => !r.is_egress);
const egress = (g: Row) => g.rules.filter((r) => r.is_egress);

export const securityGroupSpec: DescribeSpec<Row> = {
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

function toPermissions(rules: SecurityGroupRuleRow[], accountId: string): Ec2.IpPermission[] {
  return rules.map((r) => ({
    IpProtocol: r.ip_protocol,
    FromPort: r.from_port ?? undefined,
    ToPort: r.to_port ?? undefined,
    IpRanges: r.cidr_ipv4 ? [{ CidrIp: r.cidr_ipv4, Description: r.description ?? undefined }] : [],
    Ipv6Ranges: [],
    PrefixListIds: [],
    UserIdGroupPairs: r.referenced_group_id ? [{ GroupId: r.referenced_group_id, UserId: accountId, Description: r.description ?? undefined }] : [],
  }));
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
    validateDescribe(securityGroupSpec, describeRequest(input, parseIds('securityGroup', input.GroupIds)));
  },
  async handle(input, ctx) {
    const [groups, rules, tags, vpcs] = await Promise.all([
      ctx.services.network.securityGroups(ctx.accountId),
      ctx.services.network.rules(ctx.accountId),
      ctx.services.tags.byResource(ctx.accountId),
      ctx.services.network.vpcs(ctx.accountId),
    ]);
    let rows: Row[] = groups.map((g) => ({ ...g, tags: tags.get(g.id) ?? [], rules: rules.filter((r) => r.group_id === g.id) }));
    if (input.GroupNames?.length) {
      // Names are looked up in the default VPC, as on AWS.
      const defaultVpc = vpcs.find((v) => v.is_default);
      const inDefault = rows.filter((g) => g.vpc_id === defaultVpc?.id);
      const missing = input.GroupNames.filter((n) => !inDefault.some((g) => g.group_name === n));
      if (missing.length) {
        throw new Ec2Error('InvalidGroup.NotFound', `The security group '${missing[0]}' does not exist in default VPC '${defaultVpc?.id ?? 'none'}'`);
      }
      rows = inDefault.filter((g) => input.GroupNames!.includes(g.group_name));
    }
    const page = describe(securityGroupSpec, rows, describeRequest(input, input.GroupIds));
    return { SecurityGroups: page.items.map((g) => toSecurityGroup(g, ctx.region)), NextToken: page.nextToken };
  },
});
