/**
 * Every name and value the OVS adapter puts on a command line is checked here first, and every host object's
 * name is derived here. Linux interface names are at most 15 characters, so they are a prefix and 12 hex digits
 * of a hash of (installation id, EC2 id): unique per installation, stable across restarts, and found again by
 * `sync` without any state. Ownership is never read from a name alone: OVS objects carry external_ids, veths an
 * ifalias, router namespaces the installation id in their (long) name.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { assertSafeName } from '../exec/index.js';
import type { PortSpec, SecurityRule, SubnetSpec, VpcSpec } from '../../ports/index.js';

const HEX_ID = (prefix: string) => new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`);
const VPC_ID = HEX_ID('vpc');
const SUBNET_ID = HEX_ID('subnet');
const ENI_ID = HEX_ID('eni');
const GROUP_ID = HEX_ID('sg');
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

function check(kind: string, value: unknown, re: RegExp): string {
  if (typeof value !== 'string' || !re.test(value)) throw new TypeError(`invalid ${kind}: ${JSON.stringify(value)}`);
  return assertSafeName(kind, value);
}

export const vpcId = (v: string) => check('vpc id', v, VPC_ID);
export const subnetId = (v: string) => check('subnet id', v, SUBNET_ID);
export const eniId = (v: string) => check('network interface id', v, ENI_ID);
export const groupId = (v: string) => check('security group id', v, GROUP_ID);
export const ifname = (v: string) => check('interface name', v, IFNAME);

export function cloudId(v: string): string {
  if (typeof v !== 'string' || !/^[0-9a-f]{8,64}$/.test(v)) throw new TypeError(`unsafe cloud id: ${JSON.stringify(v)}`);
  return v;
}

export function mac(v: string): string {
  if (typeof v !== 'string' || !MAC.test(v)) throw new TypeError(`invalid MAC address: ${JSON.stringify(v)}`);
  const first = parseInt(v.slice(0, 2), 16);
  if (first & 1) throw new TypeError(`a multicast MAC address cannot be an interface's: ${v}`);
  return v;
}

export function ipv4(kind: string, v: string): string {
  if (typeof v !== 'string' || isIP(v) !== 4 || !/^[\d.]+$/.test(v)) throw new TypeError(`invalid ${kind}: ${JSON.stringify(v)}`);
  return v;
}

/** A CIDR with its host bits clear (10.0.1.0/24, not 10.0.1.5/24), prefix 0..32. */
export function cidr(v: string): string {
  const [addr, bits, ...rest] = typeof v === 'string' ? v.split('/') : [];
  if (rest.length || !addr || !bits || !/^\d{1,2}$/.test(bits) || Number(bits) > 32) throw new TypeError(`invalid IPv4 CIDR: ${JSON.stringify(v)}`);
  ipv4('CIDR address', addr);
  if ((toInt(addr) & ~maskOf(Number(bits))) >>> 0 !== 0) throw new TypeError(`CIDR ${v} has host bits set`);
  return v;
}

export function toInt(ip: string): number {
  return ip.split('.').reduce((a, o) => ((a << 8) + Number(o)) >>> 0, 0);
}
export function fromInt(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}
export function maskOf(bits: number): number {
  return bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
}
export function prefixOf(c: string): number {
  return Number(c.split('/')[1]);
}
export function inCidr(c: string, ip: string): boolean {
  const m = maskOf(prefixOf(c));
  return ((toInt(c.split('/')[0]!) & m) >>> 0) === ((toInt(ip) & m) >>> 0);
}

export function vpcSpec(v: VpcSpec): VpcSpec {
  vpcId(v.vpcId);
  if (!Array.isArray(v.cidrs) || v.cidrs.length === 0) throw new TypeError(`VPC ${v.vpcId} has no CIDR`);
  v.cidrs.forEach(cidr);
  if (!Number.isInteger(v.vni) || v.vni < 1 || v.vni > 0xffffff) throw new TypeError(`invalid VNI: ${v.vni}`);
  if (v.resolver !== undefined) ipv4('resolver', v.resolver);
  return v;
}

export function subnetSpec(s: SubnetSpec): SubnetSpec {
  vpcId(s.vpcId);
  subnetId(s.subnetId);
  cidr(s.cidr);
  ipv4('gateway', s.gateway);
  if (prefixOf(s.cidr) > 28 || !inCidr(s.cidr, s.gateway)) throw new TypeError(`gateway ${s.gateway} is not in subnet ${s.cidr} (/16../28)`);
  return s;
}

export function portSpec(p: PortSpec): PortSpec {
  eniId(p.eniId);
  vpcId(p.vpcId);
  subnetId(p.subnetId);
  mac(p.mac);
  cidr(p.subnetCidr);
  ipv4('gateway', p.gateway);
  if (!Array.isArray(p.ips) || p.ips.length === 0) throw new TypeError(`port ${p.eniId} has no IP address`);
  for (const ip of p.ips) {
    ipv4('private IP', ip);
    if (!inCidr(p.subnetCidr, ip)) throw new TypeError(`IP ${ip} of ${p.eniId} is not in its subnet ${p.subnetCidr}`);
  }
  p.securityGroupIds.forEach(groupId);
  if (!Number.isInteger(p.deviceIndex) || p.deviceIndex < 0 || p.deviceIndex > 31) throw new TypeError(`invalid device index: ${p.deviceIndex}`);
  if (p.sourceDestCheck !== undefined && typeof p.sourceDestCheck !== 'boolean') throw new TypeError(`invalid source/destination check of ${p.eniId}`);
  return p;
}

export function rule(r: SecurityRule): SecurityRule {
  const port = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof r.protocol === 'number') {
    if (!Number.isInteger(r.protocol) || r.protocol < 0 || r.protocol > 255) throw new TypeError(`invalid IP protocol ${r.protocol}`);
  } else if (!['tcp', 'udp', 'icmp', 'all'].includes(r.protocol)) {
    throw new TypeError(`invalid protocol ${JSON.stringify(r.protocol)}`);
  }
  if (r.ports && (!port(r.ports.from) || !port(r.ports.to) || r.ports.from > r.ports.to)) {
    throw new TypeError(`invalid port range ${r.ports.from}-${r.ports.to}`);
  }
  const icmpField = (n: number) => Number.isInteger(n) && n >= -1 && n <= 255;
  if (r.icmp && (!icmpField(r.icmp.type) || !icmpField(r.icmp.code))) throw new TypeError(`invalid ICMP type/code ${r.icmp.type}/${r.icmp.code}`);
  if ('cidr' in r.peer) cidr(r.peer.cidr);
  else groupId(r.peer.groupId);
  return r;
}

// --- derived names ----------------------------------------------------------------------------------------------

function hash12(cloud: string, id: string): string {
  return createHash('sha256').update(`${cloud}/${id}`).digest('hex').slice(0, 12);
}

/** The VPC's bridge: `tcb` + 12 hex. */
export const bridgeName = (cloud: string, vpc: string) => `tcb${hash12(cloudId(cloud), vpcId(vpc))}`;
/** The VPC router's network namespace (names of /run/netns files may be long: the installation id is in it). */
export const routerNetns = (cloud: string, vpc: string) => `thecloud-${cloudId(cloud)}-${vpcId(vpc)}`;
export const ROUTER_NETNS = /^thecloud-([0-9a-f]{8,64})-(vpc-[0-9a-f]+)$/;
/** A subnet's router leg: `tcr` + 12 hex on the bridge, `gw` + 12 hex inside the router namespace. */
export const routerLeg = (cloud: string, subnet: string) => `tcr${hash12(cloudId(cloud), subnetId(subnet))}`;
export const routerLegInside = (cloud: string, subnet: string) => `gw${hash12(cloudId(cloud), subnetId(subnet))}`;
/** The host's link into a router (host access): `tch` + 12 hex on the host, `host0` inside. */
export const hostLink = (cloud: string, vpc: string) => `tch${hash12(cloudId(cloud), vpcId(vpc))}`;
/** The router's uplink to the host (an internet gateway is attached): `tcu` + 12 hex on the host, `up0` inside. */
export const uplink = (cloud: string, vpc: string) => `tcu${hash12(cloudId(cloud), vpcId(vpc))}`;
/** A container port's host end: `tcv` + 12 hex. */
export const containerVeth = (cloud: string, eni: string) => `tcv${hash12(cloudId(cloud), eniId(eni))}`;
/**
 * A prepared container port's far end while it waits on the host for its container (`tcp` + 12 hex): no alias
 * (it goes into the container), and it goes with its pair whenever the host end is deleted.
 */
export const containerPeer = (cloud: string, eni: string) => `tcp${hash12(cloudId(cloud), eniId(eni))}`;
/** A VM port's tap (libvirt makes it): `tct` + 12 hex. */
export const vmTap = (cloud: string, eni: string) => `tct${hash12(cloudId(cloud), eniId(eni))}`;
/** Every host interface this adapter makes starts with one of these. */
export const OWN_IFNAME = /^tc[bvrhtu][0-9a-f]{12}$/;

/** The router leg's MAC: locally administered, derived from the subnet (stable across rebuilds). */
export function routerMac(cloud: string, subnet: string): string {
  const h = createHash('sha256').update(`mac/${cloudId(cloud)}/${subnetId(subnet)}`).digest('hex');
  return ['0a', ...[0, 2, 4, 6, 8].map((i) => h.slice(i, i + 2))].join(':');
}

/** libvirt takes a UUID as an OVS port's interfaceid: a name-based one from (installation, ENI). */
export function interfaceUuid(cloud: string, eni: string): string {
  const h = createHash('sha256').update(`iface/${cloudId(cloud)}/${eniId(eni)}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The interface a port has inside a container: eth0 for device index 0 ... */
export const insideName = (deviceIndex: number) => `eth${deviceIndex}`;

/** The ifalias written on every veth this adapter makes: who owns it, and for what. */
export const ifalias = (cloud: string, what: string) => `thecloud:${cloudId(cloud)}:${assertSafeName('object', what)}`;
export const ownAlias = (cloud: string, alias: string | undefined) => !!alias && alias.startsWith(`thecloud:${cloudId(cloud)}:`);
