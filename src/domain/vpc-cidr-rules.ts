/**
 * AWS's rules for a VPC's secondary IPv4 CIDR blocks (AssociateVpcCidrBlock), pure. From the Amazon VPC User
 * Guide, "IPv4 CIDR block association restrictions": which blocks a VPC may add depends on the range its primary
 * block is in.
 *
 * | primary in        | restricted                                                                 |
 * |-------------------|----------------------------------------------------------------------------|
 * | 10.0.0.0/8        | 172.16.0.0/12, 192.168.0.0/16, 198.19.0.0/16; and 10.0.0.0/16 when the primary is in 10.0.0.0/15 |
 * | 172.16.0.0/12     | 10.0.0.0/8, 192.168.0.0/16, 172.31.0.0/16, 198.19.0.0/16                    |
 * | 192.168.0.0/16    | 10.0.0.0/8, 172.16.0.0/12, 198.19.0.0/16                                    |
 * | 198.19.0.0/16     | every RFC 1918 range                                                        |
 * | anything else (publicly routable, or 100.64.0.0/10) | every RFC 1918 range, 198.19.0.0/16       |
 *
 * Anything else is permitted (publicly routable blocks and 100.64.0.0/10 from any primary, the primary's own
 * RFC 1918 range). Besides: at most MAX_IPV4_CIDRS_PER_VPC blocks (AWS's default quota), no overlap with a block
 * the VPC has, and not the same as or larger than the destination of a (non-local) route of its route tables.
 */
import { cidrContains, cidrsOverlap } from './ipv4.js';

/** AWS's default quota of IPv4 CIDR blocks per VPC (the primary included). */
export const MAX_IPV4_CIDRS_PER_VPC = 5;

const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];
const BENCHMARK = '198.19.0.0/16';

/** Whether CIDR `outer` holds all of CIDR `inner`. */
export function cidrCovers(outer: string, inner: string): boolean {
  return Number(outer.split('/')[1]) <= Number(inner.split('/')[1]) && cidrContains(outer, inner.split('/')[0]!);
}

/** Why `cidr` may not be added to a VPC whose primary block is `primary` (undefined: it may). */
export function restrictedBy(primary: string, cidr: string): string | undefined {
  const rangeOf = (c: string) => RFC1918.find((r) => cidrCovers(r, c)) ?? (cidrCovers(BENCHMARK, c) ? BENCHMARK : undefined);
  const home = rangeOf(primary);
  const want = rangeOf(cidr);
  if (want && want !== home) return want;
  if (home === '172.16.0.0/12' && cidrCovers('172.31.0.0/16', cidr)) return '172.31.0.0/16';
  if (cidrCovers('10.0.0.0/15', primary) && cidrCovers('10.0.0.0/16', cidr)) return '10.0.0.0/16';
  return undefined;
}

export type CidrRefusal =
  | { reason: 'restricted'; range: string }
  | { reason: 'overlap'; with: string }
  | { reason: 'route'; destination: string }
  | { reason: 'limit' };

/**
 * Checks a block to add to a VPC: `blocks` are its live blocks (the primary first), `routes` the destinations of
 * the non-local routes of its route tables.
 */
export function checkSecondaryCidr(cidr: string, blocks: string[], routes: string[]): CidrRefusal | undefined {
  if (blocks.length >= MAX_IPV4_CIDRS_PER_VPC) return { reason: 'limit' };
  const overlapping = blocks.find((b) => cidrsOverlap(b, cidr));
  if (overlapping) return { reason: 'overlap', with: overlapping };
  const range = restrictedBy(blocks[0]!, cidr);
  if (range) return { reason: 'restricted', range };
  const route = routes.find((d) => cidrCovers(cidr, d));
  if (route) return { reason: 'route', destination: route };
  return undefined;
}
