/**
 * EC2's private DNS: the names AWS gives private addresses (`ip-10-0-1-5.ec2.internal` in us-east-1,
 * `ip-10-0-1-5.eu-west-1.compute.internal` elsewhere) and where a VPC's resolver sits (the base of the VPC's
 * primary CIDR plus two, besides the link-local 169.254.169.253 that every VPC reaches).
 */

/** The domain of private names in `region`. */
export function privateDnsSuffix(region: string): string {
  return region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`;
}

/** The host part of a private name: `ip-a-b-c-d`. */
export function privateHostname(ip: string): string {
  return `ip-${ip.replace(/\./g, '-')}`;
}

/** The fully qualified private name of `ip` in `region`. */
export function privateDnsName(ip: string, region: string): string {
  return `${privateHostname(ip)}.${privateDnsSuffix(region)}`;
}

/** The address a private name stands for, or undefined when `name` is not one of `region` (any case, a final dot). */
export function addressOfPrivateName(name: string, region: string): string | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  const suffix = `.${privateDnsSuffix(region)}`;
  if (!lower.endsWith(suffix)) return undefined;
  const m = /^ip-(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$/.exec(lower.slice(0, -suffix.length));
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return parts.join('.');
}

/** The address a reverse name (`d.c.b.a.in-addr.arpa`) stands for, or undefined. */
export function addressOfReverseName(name: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa\.?$/i.exec(name);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number).reverse();
  if (parts.some((p) => p > 255)) return undefined;
  return parts.join('.');
}

/** The VPC's resolver: the base of its primary CIDR plus two (AWS's "AmazonProvidedDNS" inside the VPC). */
export function vpcResolverAddress(primaryCidr: string): string {
  const [base, len] = primaryCidr.split('/') as [string, string];
  const n = base.split('.').reduce((a, p) => a * 256 + Number(p), 0);
  const r = n + 2;
  if (Number(len) > 30 || !Number.isFinite(r)) throw new RangeError(`no resolver address in ${primaryCidr}`);
  return [r >>> 24, (r >>> 16) & 255, (r >>> 8) & 255, r & 255].join('.');
}
