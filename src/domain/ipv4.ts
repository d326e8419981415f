/** IPv4 address and CIDR arithmetic. Pure: no I/O. */

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => ((acc << 8) + Number(o)) >>> 0, 0);
}

export function isIpv4(s: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(s);
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/') as [string, string];
  const m = mask(Number(bits));
  return ((ipToInt(base) & m) >>> 0) === ((ipToInt(ip) & m) >>> 0);
}

/** Whether two IPv4 CIDRs share an address; false when either is not a CIDR. */
export function cidrsOverlap(a: string, b: string): boolean {
  const range = (c: string): [number, number] | undefined => {
    const [addr, bits] = c.split('/');
    if (!addr || !isIpv4(addr) || !/^\d{1,2}$/.test(bits ?? '') || Number(bits) > 32) return undefined;
    const start = (ipToInt(addr) & mask(Number(bits))) >>> 0;
    return [start, start + 2 ** (32 - Number(bits)) - 1];
  };
  const x = range(a);
  const y = range(b);
  return !!x && !!y && x[0] <= y[1] && y[0] <= x[1];
}
