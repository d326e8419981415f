/**
 * The VPC router: one network namespace per VPC whose kernel routes between the VPC's subnets, keeping every
 * packet's own source address, and answers ARP and ping for each subnet's gateway (base + 1), as AWS's VPC
 * router does. Each subnet is one veth leg: `tcr…` on the VPC's bridge, `gw…` inside the namespace with the
 * gateway address and a stable MAC. The metadata address 169.254.169.254 sits on the router's lo; the
 * metadata listener is bound to it inside the namespace (router-listeners.ts). DHCP is answered on UDP 67 inside
 * the namespace too (router-listeners.ts; backend.ts, answerDhcp; dhcp-server.ts).
 *
 * Host access (optional, per VPC): a veth `tch…` from the host into the router namespace, a /30 of
 * 169.254.252.0/22 (never a VPC range), and host routes for the VPC's CIDRs through it. Instances see the host
 * as that link address, so their security groups must admit it.
 */
import { AMAZON_DNS_ADDRESS, METADATA_ADDRESS, type SubnetSpec, type VpcSpec } from '../../ports/index.js';
import { EXT, type Host } from './host.js';
import { bridgeName, fromInt, hostLink, ifalias, prefixOf, routerLeg, routerLegInside, routerMac, routerNetns, toInt } from './names.js';

const ROUTER_SYSCTLS = [
  'net.ipv4.ip_forward=1',
  'net.ipv4.conf.all.rp_filter=0',
  'net.ipv4.conf.default.rp_filter=0',
  'net.ipv4.conf.all.send_redirects=0',
  'net.ipv4.conf.default.send_redirects=0',
];

export async function ensureBridge(host: Host, cloud: string, vpc: VpcSpec): Promise<string> {
  const br = bridgeName(cloud, vpc.vpcId);
  await host.vsctl([
    '--may-exist', 'add-br', br, '--',
    'set', 'Bridge', br, 'datapath_type=netdev', 'fail_mode=secure', 'protocols=OpenFlow10,OpenFlow13,OpenFlow14',
    'other_config:disable-in-band=true', 'mcast_snooping_enable=false',
    `external_ids:${EXT.cloud}=${cloud}`, `external_ids:${EXT.vpc}=${vpc.vpcId}`, `external_ids:${EXT.vni}=${vpc.vni}`,
  ]);
  return br;
}

export async function ensureRouterNetns(host: Host, cloud: string, vpcId: string): Promise<string> {
  const ns = routerNetns(cloud, vpcId);
  if (!host.netnsExists(ns)) await host.ip(['netns', 'add', ns]);
  await host.ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  // The metadata service's address is the router's own: the metadata listener is bound to it in here.
  await host.ip(['-n', ns, 'addr', 'replace', `${METADATA_ADDRESS}/32`, 'dev', 'lo']);
  await host.ip(['netns', 'exec', ns, 'sysctl', '-q', '-w', ...ROUTER_SYSCTLS]);
  return ns;
}

/**
 * The router's DNS addresses on its lo: the link-local AMAZON_DNS_ADDRESS and the VPC's resolver (base + 2),
 * where the DNS listeners are bound (router-listeners.ts). An instance in the subnet that holds base + 2 finds it
 * by ARP: the router's leg answers for every address of the namespace.
 */
export function resolverAddresses(vpc: VpcSpec): string[] {
  return vpc.resolver ? [AMAZON_DNS_ADDRESS, vpc.resolver] : [AMAZON_DNS_ADDRESS];
}

export async function ensureResolverAddresses(host: Host, cloud: string, vpc: VpcSpec): Promise<void> {
  const ns = routerNetns(cloud, vpc.vpcId);
  await host.ipBatch(resolverAddresses(vpc).map((a) => ['addr', 'replace', `${a}/32`, 'dev', 'lo']), { netns: ns });
}

/** The subnet's leg: made when missing, (re)configured always, plugged into the bridge. */
export async function ensureLeg(host: Host, cloud: string, subnet: SubnetSpec): Promise<void> {
  const ns = routerNetns(cloud, subnet.vpcId);
  const outside = routerLeg(cloud, subnet.subnetId);
  const inside = routerLegInside(cloud, subnet.subnetId);
  const br = bridgeName(cloud, subnet.vpcId);
  const out = await host.link(outside);
  const inn = await host.link(inside, { netns: ns });
  if (!out || !inn || out.linkIndex !== inn.ifindex || inn.linkIndex !== out.ifindex) {
    if (out) await host.ip(['link', 'del', outside], { allowFailure: true });
    if (inn) await host.ip(['-n', ns, 'link', 'del', inside], { allowFailure: true });
    await host.ipBatch([
      ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', ns],
      ['link', 'set', outside, 'alias', ifalias(cloud, subnet.subnetId)],
    ]);
    await host.noTxOffload(outside);
    await host.noTxOffload(inside, { netns: ns });
  }
  await host.ipBatch([['link', 'set', outside, 'up']]);
  await host.ipBatch(
    [
      ['link', 'set', inside, 'address', routerMac(cloud, subnet.subnetId)],
      ['addr', 'replace', `${subnet.gateway}/${prefixOf(subnet.cidr)}`, 'dev', inside],
      ['link', 'set', inside, 'up'],
    ],
    { netns: ns },
  );
  await host.vsctl([
    '--may-exist', 'add-port', br, outside, '--',
    'set', 'Interface', outside,
    `external_ids:${EXT.cloud}=${cloud}`, `external_ids:${EXT.vpc}=${subnet.vpcId}`, `external_ids:${EXT.kind}=router`,
    `external_ids:${EXT.subnet}=${subnet.subnetId}`,
  ]);
}

export async function removeLeg(host: Host, cloud: string, vpcId: string, subnetId: string): Promise<void> {
  const outside = routerLeg(cloud, subnetId);
  await host.vsctl(['--if-exists', 'del-port', bridgeName(cloud, vpcId), outside]);
  await host.ip(['link', 'del', outside], { allowFailure: true });
}

/** The /30 of host link number `index`: the host's address and the router's. */
export function hostLinkAddresses(index: number): { host: string; router: string } {
  if (!Number.isInteger(index) || index < 0 || index > 255) throw new RangeError(`host link index ${index} out of range`);
  const base = toInt('169.254.252.0') + index * 4;
  return { host: fromInt(base + 1), router: fromInt(base + 2) };
}

export async function ensureHostLink(host: Host, cloud: string, vpc: VpcSpec, index: number): Promise<void> {
  const ns = routerNetns(cloud, vpc.vpcId);
  const outside = hostLink(cloud, vpc.vpcId);
  const { host: hostIp, router } = hostLinkAddresses(index);
  const out = await host.link(outside);
  const inn = await host.link('host0', { netns: ns });
  if (!out || !inn || out.linkIndex !== inn.ifindex) {
    if (out) await host.ip(['link', 'del', outside], { allowFailure: true });
    if (inn) await host.ip(['-n', ns, 'link', 'del', 'host0'], { allowFailure: true });
    await host.ipBatch([
      ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'host0', 'netns', ns],
      ['link', 'set', outside, 'alias', ifalias(cloud, vpc.vpcId)],
    ]);
    await host.noTxOffload(outside);
    await host.noTxOffload('host0', { netns: ns });
  }
  await host.ipBatch([
    ['addr', 'replace', `${hostIp}/30`, 'dev', outside],
    ['link', 'set', outside, 'up'],
    ...vpc.cidrs.map((c) => ['route', 'replace', c, 'via', router, 'dev', outside]),
  ]);
  // A block the VPC no longer has (DisassociateVpcCidrBlock) loses its host route.
  const routes = JSON.parse((await host.ip(['-j', 'route', 'show', 'dev', outside])).stdout || '[]') as { dst: string; protocol?: string }[];
  const stale = routes.filter((x) => x.protocol !== 'kernel' && !vpc.cidrs.includes(x.dst));
  if (stale.length) await host.ipBatch(stale.map((x) => ['route', 'del', x.dst, 'dev', outside]));
  await host.ipBatch([['addr', 'replace', `${router}/30`, 'dev', 'host0'], ['link', 'set', 'host0', 'up']], { netns: ns });
}

/** Removes the VPC's bridge, router namespace and host link (each only if there). */
export async function removeVpc(host: Host, cloud: string, vpcId: string): Promise<void> {
  await host.vsctl(['--if-exists', 'del-br', bridgeName(cloud, vpcId)]);
  await host.ip(['link', 'del', hostLink(cloud, vpcId)], { allowFailure: true });
  const ns = routerNetns(cloud, vpcId);
  if (host.netnsExists(ns)) await host.ip(['netns', 'del', ns]);
}
