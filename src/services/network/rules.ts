/** Security group rules from the API's IpPermissions: AWS's validation, normal form, and identity. */
import { Ec2Error, invalidParameterValue } from '../../errors/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import type { SecurityGroupRuleRow } from '../../db/repositories/network.js';

/** A rule in normal form (one peer), before it has an id. */
export type RuleDraft = Pick<SecurityGroupRuleRow, 'ip_protocol' | 'from_port' | 'to_port' | 'cidr_ipv4' | 'referenced_group_id' | 'description'>;

export const MAX_RULES_PER_DIRECTION = 60;

const NAMES: Record<string, string> = { '-1': '-1', all: '-1', tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp', icmp: 'icmp', '1': 'icmp' };

function protocolOf(p: string | undefined): string {
  const v = (p ?? '').trim().toLowerCase();
  if (NAMES[v]) return NAMES[v]!;
  if (/^\d+$/.test(v) && Number(v) <= 255) return String(Number(v));
  throw new Ec2Error('InvalidParameterValue', `Invalid value '${p ?? ''}' for IP protocol. Unknown protocol.`);
}

function cidrOf(c: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(c.trim());
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) {
    throw new Ec2Error('InvalidParameterValue', `CIDR block ${c} is malformed`);
  }
  // AWS keeps the block as given only when it is a network address; it answers with the network.
  const bits = Number(m[5]);
  const n = m.slice(1, 5).reduce((a, x) => a * 256 + Number(x), 0);
  const net = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
  return `${[24, 16, 8, 0].map((b) => (net >>> b) & 255).join('.')}/${bits}`;
}

function portsOf(protocol: string, from: number | undefined, to: number | undefined): { from_port: number | null; to_port: number | null } {
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) throw new Ec2Error('MissingParameter', `The request must contain the parameter ${from === undefined ? 'FromPort' : 'ToPort'} for protocol ${protocol}`);
    if (from === -1 && to === -1) return { from_port: 0, to_port: 65535 };
    if (from < 0 || from > 65535 || to < 0 || to > 65535 || from > to) {
      throw invalidParameterValue('port', `${from}-${to}`, `Invalid ${protocol} port range: ${from}-${to}.`);
    }
    return { from_port: from, to_port: to };
  }
  if (protocol === 'icmp') {
    const type = from ?? -1;
    const code = to ?? -1;
    if (type < -1 || type > 255 || code < -1 || code > 255) throw invalidParameterValue('icmp', `${type}/${code}`, `Invalid ICMP type/code: ${type}/${code}.`);
    return { from_port: type, to_port: code };
  }
  return { from_port: null, to_port: null };
}

/**
 * The rules an Authorize/Revoke call names, one per peer, in normal form. `groupIdOf` resolves a source group
 * (by id or name) in the group's VPC, or throws InvalidGroup.NotFound.
 */
export async function rulesOf(
  input: { IpPermissions?: Ec2.IpPermission[]; IpProtocol?: string; FromPort?: number; ToPort?: number; CidrIp?: string; SourceSecurityGroupName?: string },
  groupIdOf: (pair: { GroupId?: string; GroupName?: string }) => Promise<string>,
  opts: { revoking?: boolean } = {},
): Promise<RuleDraft[]> {
  const perms: Ec2.IpPermission[] = [...(input.IpPermissions ?? [])];
  if (input.IpProtocol || input.CidrIp || input.SourceSecurityGroupName) {
    perms.push({
      IpProtocol: input.IpProtocol ?? '-1',
      FromPort: input.FromPort,
      ToPort: input.ToPort,
      IpRanges: input.CidrIp ? [{ CidrIp: input.CidrIp }] : [],
      UserIdGroupPairs: input.SourceSecurityGroupName ? [{ GroupName: input.SourceSecurityGroupName }] : [],
    });
  }
  if (!perms.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter IpPermissions');
  const out: RuleDraft[] = [];
  for (const p of perms) {
    const protocol = protocolOf(p.IpProtocol);
    const ports = portsOf(protocol, p.FromPort, p.ToPort);
    if ((p.Ipv6Ranges ?? []).length || (p.PrefixListIds ?? []).length) {
      // No group has such a rule, so revoking one finds nothing (Terraform revokes the default ::/0 egress rule).
      if (opts.revoking) throw new Ec2Error('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
      throw new Ec2Error('UnsupportedOperation', 'IPv6 ranges and prefix lists in security group rules are not supported.');
    }
    const peers = [
      ...(p.IpRanges ?? []).map((r) => ({ cidr_ipv4: cidrOf(r.CidrIp ?? ''), referenced_group_id: null, description: r.Description ?? null })),
      ...(await Promise.all((p.UserIdGroupPairs ?? []).map(async (g) => ({ cidr_ipv4: null, referenced_group_id: await groupIdOf(g), description: g.Description ?? null })))),
    ];
    if (!peers.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter IpRanges or UserIdGroupPairs');
    for (const peer of peers) out.push({ ip_protocol: protocol, ...ports, ...peer });
  }
  return out;
}

/** Two rules are the same when all but the description match (AWS's duplicate test). */
export function sameRule(a: RuleDraft, b: RuleDraft): boolean {
  return a.ip_protocol === b.ip_protocol && a.from_port === b.from_port && a.to_port === b.to_port &&
    (a.cidr_ipv4 ?? null) === (b.cidr_ipv4 ?? null) && (a.referenced_group_id ?? null) === (b.referenced_group_id ?? null);
}

export function describeRule(r: RuleDraft): string {
  const peer = r.cidr_ipv4 ?? r.referenced_group_id;
  const proto = r.ip_protocol === '-1' ? 'ALL' : r.ip_protocol.toUpperCase();
  return `peer: ${peer}, ${proto}${r.from_port !== null ? `, from port: ${r.from_port}, to port: ${r.to_port}` : ''}, ALLOW`;
}
