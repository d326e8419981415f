/**
 * The VPC router's edge: route tables as policy routing, and the internet gateway as an uplink to the host.
 *
 * - Each route table is one kernel table in the router namespace (100 + its index in the VPC's routing, which
 *   the service orders by id), and each subnet following it one rule `iif <its leg> lookup <table>` at
 *   preference 40000+. These rules come after `main`, which holds only connected routes (the subnets, the host
 *   link, the uplink's peer): traffic inside the VPC is routed as before, and only what main does not know goes
 *   by the subnet's table. A destination with no route there is unreachable (ICMP back).
 * - An attached internet gateway: a veth `tcu…` (host) / `up0` (router), the router's end at 169.254.128.1 + VNI
 *   (169.254.128.0/17: link-local, never a VPC's or the host's network), the host's end 169.254.128.1; the router
 *   masquerades what leaves by up0, and the host forwards it (FORWARD rules) and masquerades it again to its own
 *   uplink (nat POSTROUTING). Each host rule carries the comment `thecloud:<installation>:<vpc>`, which is how
 *   removal and reconciliation find them.
 * - A public NAT gateway: a route to it goes by the uplink like an internet route, but carries a routing realm
 *   (1 + the gateway's index in the VPC's routing), and the router translates the source of what leaves by a route
 *   of that realm to the gateway's Elastic IP (`-m realm`: the route taken decides, not the source address; an
 *   instance with its own Elastic IP routed to a NAT gateway leaves with the gateway's address, as on AWS). The
 *   host routes that address to the router for the replies; there is no DNAT for it, so nothing else comes in.
 * The router namespace's nat table is this module's alone: it is rewritten whole with iptables-restore.
 */
import type { SubnetSpec, VpcRouting, VpcSpec } from '../../ports/index.js';
import type { Host } from './host.js';
import * as n from './names.js';

export const UPLINK_HOST = '169.254.128.1';
export const UPLINK_CIDR = '169.254.128.0/17';
const RULE_PREF = 40_000;
const TABLE_BASE = 100;
const MAX_RULES = 1000;
const RTB_ID = /^rtb-([0-9a-f]{8}|[0-9a-f]{17})$/;
const NAT_ID = /^nat-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** The router's uplink address: 169.254.128.1 + VNI (unique per installation). */
export function uplinkAddress(vni: number): string {
  if (!Number.isInteger(vni) || vni < 1 || vni > 32_765) throw new RangeError(`VNI ${vni} has no uplink address (1..32765)`);
  return n.fromInt(n.toInt(UPLINK_HOST) + vni);
}

export function checkRouting(r: VpcRouting): VpcRouting {
  n.vpcId(r.vpcId);
  if (r.tables.length > MAX_RULES) throw new TypeError(`too many route tables in ${r.vpcId}`);
  for (const t of r.tables) {
    if (!RTB_ID.test(t.routeTableId)) throw new TypeError(`invalid route table id ${JSON.stringify(t.routeTableId)}`);
    t.subnetIds.forEach(n.subnetId);
    for (const x of t.routes) {
      n.cidr(x.destination);
      if (x.target.kind === 'address') n.ipv4('route target', x.target.ip);
      else if (x.target.kind === 'nat') {
        if (!NAT_ID.test(x.target.natGatewayId)) throw new TypeError(`invalid NAT gateway id ${JSON.stringify(x.target.natGatewayId)}`);
      } else if (x.target.kind !== 'internet' && x.target.kind !== 'blackhole') throw new TypeError(`invalid route target ${JSON.stringify(x.target)}`);
    }
  }
  for (const p of r.publicIps ?? []) {
    n.ipv4('public IP', p.publicIp);
    n.ipv4('private IP', p.privateIp);
  }
  if ((r.natGateways?.length ?? 0) > MAX_RULES) throw new TypeError(`too many NAT gateways in ${r.vpcId}`);
  for (const g of r.natGateways ?? []) {
    if (!NAT_ID.test(g.natGatewayId)) throw new TypeError(`invalid NAT gateway id ${JSON.stringify(g.natGatewayId)}`);
    n.ipv4('NAT gateway public IP', g.publicIp);
  }
  return r;
}

const comment = (cloud: string, vpcId: string) => `thecloud:${n.cloudId(cloud)}:${n.vpcId(vpcId)}`;

/** The host's rules for a VPC's uplink (each as the arguments after -A/-D, with its table). */
function hostRules(cloud: string, vpc: VpcSpec): { table: string; chain: string; spec: string[] }[] {
  const dev = n.uplink(cloud, vpc.vpcId);
  const c = ['-m', 'comment', '--comment', comment(cloud, vpc.vpcId)];
  return [
    { table: 'filter', chain: 'FORWARD', spec: ['-i', dev, ...c, '-j', 'ACCEPT'] },
    { table: 'filter', chain: 'FORWARD', spec: ['-o', dev, ...c, '-j', 'ACCEPT'] },
    { table: 'nat', chain: 'POSTROUTING', spec: ['-s', `${uplinkAddress(vpc.vni)}/32`, '!', '-d', '169.254.0.0/16', ...c, '-j', 'MASQUERADE'] },
  ];
}

async function ensureUplink(host: Host, cloud: string, vpc: VpcSpec, publicIps: string[]): Promise<void> {
  const ns = n.routerNetns(cloud, vpc.vpcId);
  const outside = n.uplink(cloud, vpc.vpcId);
  const addr = uplinkAddress(vpc.vni);
  const out = await host.link(outside);
  const inn = await host.link('up0', { netns: ns });
  if (!out || !inn || out.linkIndex !== inn.ifindex) {
    if (out) await host.ip(['link', 'del', outside], { allowFailure: true });
    if (inn) await host.ip(['-n', ns, 'link', 'del', 'up0'], { allowFailure: true });
    await host.ipBatch([
      ['link', 'add', outside, 'type', 'veth', 'peer', 'name', 'up0', 'netns', ns],
      ['link', 'set', outside, 'alias', n.ifalias(cloud, vpc.vpcId)],
    ]);
  }
  await host.ipBatch([['addr', 'replace', UPLINK_HOST, 'peer', addr, 'dev', outside], ['link', 'set', outside, 'up']]);
  await host.ipBatch([['addr', 'replace', addr, 'peer', UPLINK_HOST, 'dev', 'up0'], ['link', 'set', 'up0', 'up']], { netns: ns });
  for (const r of hostRules(cloud, vpc)) {
    const have = await host.iptables(['-t', r.table, '-C', r.chain, ...r.spec], { allowFailure: true });
    if (have.exitCode !== 0) await host.iptables(['-t', r.table, '-I', r.chain, '1', ...r.spec]);
  }
  // The host's routes to the VPC's public addresses: exactly these, through the uplink (which is ours alone).
  const routes = JSON.parse((await host.ip(['-j', 'route', 'show', 'dev', outside])).stdout || '[]') as { dst: string; protocol?: string }[];
  const stale = routes.filter((x) => x.protocol !== 'kernel' && !publicIps.includes(x.dst)).map((x) => ['route', 'del', x.dst, 'dev', outside]);
  const want = publicIps.map((ip) => ['route', 'replace', `${ip}/32`, 'via', addr, 'dev', outside]);
  if (stale.length || want.length) await host.ipBatch([...stale, ...want]);
}

/** Removes the VPC's host rules (found by their comment) and its uplink; each only if there. */
export async function removeUplink(host: Host, cloud: string, vpcId: string): Promise<string[]> {
  const removed = await removeHostRules(host, (c) => c === comment(cloud, vpcId));
  if (await host.link(n.uplink(cloud, vpcId))) {
    await host.ip(['link', 'del', n.uplink(cloud, vpcId)], { allowFailure: true });
    removed.push(n.uplink(cloud, vpcId));
  }
  return removed;
}

/** Deletes every host rule whose comment `which` accepts; answers what it removed. */
export async function removeHostRules(host: Host, which: (comment: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const table of ['filter', 'nat']) {
    const out = (await host.iptables(['-t', table, '-S'], { allowFailure: true })).stdout;
    for (const line of out.split('\n')) {
      const m = / --comment "?(thecloud:[0-9a-f]+:vpc-[0-9a-f]+)"? /.exec(line + ' ');
      if (!line.startsWith('-A ') || !m || !which(m[1]!)) continue;
      const words = line.replace(/"/g, '').split(' ').slice(1);
      await host.iptables(['-t', table, '-D', ...words], { allowFailure: true });
      removed.push(`${table}: ${line}`);
    }
  }
  return removed;
}

/** The VPCs whose host rules of this installation exist (for reconciliation). */
export async function hostRuleVpcs(host: Host, cloud: string): Promise<Set<string>> {
  const vpcs = new Set<string>();
  for (const table of ['filter', 'nat']) {
    const out = (await host.iptables(['-t', table, '-S'], { allowFailure: true })).stdout;
    for (const m of out.matchAll(new RegExp(`--comment "?thecloud:${n.cloudId(cloud)}:(vpc-[0-9a-f]+)`, 'g'))) vpcs.add(m[1]!);
  }
  return vpcs;
}

/** The router namespace's nat table for `r`, written whole (it is this module's alone). */
async function writeNat(host: Host, ns: string, r: VpcRouting): Promise<void> {
  const publics = r.internet ? (r.publicIps ?? []) : [];
  const nats = r.internet ? (r.natGateways ?? []) : [];
  const nat = ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]'];
  // A NAT gateway's routes first (the route decides), then each Elastic IP as a 1:1 map at the gateway: in, its
  // public address becomes the private one; out, the reverse.
  for (const [i, g] of nats.entries()) nat.push(`-A POSTROUTING -o up0 -m realm --realm ${i + 1} -j SNAT --to-source ${g.publicIp}`);
  for (const p of publics) {
    nat.push(`-A PREROUTING -i up0 -d ${p.publicIp}/32 -j DNAT --to-destination ${p.privateIp}`);
    nat.push(`-A POSTROUTING -o up0 -s ${p.privateIp}/32 -j SNAT --to-source ${p.publicIp}`);
  }
  if (r.internet) nat.push('-A POSTROUTING -o up0 -j MASQUERADE');
  await host.ip(['netns', 'exec', ns, 'iptables-restore', '-w', '10'], { input: [...nat, 'COMMIT', ''].join('\n') });
}

/** The public addresses the host routes to the router for `r` (Elastic IPs and NAT gateways' addresses). */
function routedPublics(r: VpcRouting): string[] {
  if (!r.internet) return [];
  return [...new Set([...(r.publicIps ?? []).map((p) => p.publicIp), ...(r.natGateways ?? []).map((g) => g.publicIp)])];
}

/**
 * Whether `next` differs from `applied` (what applyRouting last made, with success) only in its public addresses
 * (an instance's public IP given or released, an Elastic IP associated): then applyPublicIps is enough.
 */
export function onlyPublicIpsChanged(applied: VpcRouting, next: VpcRouting): boolean {
  const rest = (r: VpcRouting) => JSON.stringify({ ...r, publicIps: undefined });
  return applied.internet && next.internet && rest(applied) === rest(next);
}

/**
 * The delta of a public address change on top of a routing applied whole before (`applied`): the router's nat
 * table rewritten, the host's routes to the addresses that came or went. Two commands instead of applyRouting's
 * fifteen or so (which also re-check the uplink, the host rules, the rules and tables that did not change). A
 * failure (the uplink gone behind our back ...) is the caller's sign to apply the routing whole.
 */
export async function applyPublicIps(host: Host, cloud: string, vpc: VpcSpec, applied: VpcRouting, next: VpcRouting): Promise<void> {
  const ns = n.routerNetns(cloud, vpc.vpcId);
  const outside = n.uplink(cloud, vpc.vpcId);
  const before = routedPublics(applied);
  const after = routedPublics(next);
  const lines = [
    ...before.filter((ip) => !after.includes(ip)).map((ip) => ['route', 'del', `${ip}/32`, 'dev', outside]),
    ...after.map((ip) => ['route', 'replace', `${ip}/32`, 'via', uplinkAddress(vpc.vni), 'dev', outside]),
  ];
  await Promise.all([writeNat(host, ns, next), lines.length ? host.ipBatch(lines) : undefined]);
}

/** Makes the router follow `routing`: its uplink, its masquerade, one rule per subnet and one table per route table. */
export async function applyRouting(host: Host, cloud: string, vpc: VpcSpec, subnets: SubnetSpec[], r: VpcRouting): Promise<void> {
  const ns = n.routerNetns(cloud, vpc.vpcId);
  const nats = r.internet ? (r.natGateways ?? []) : [];
  const realm = (id: string) => nats.findIndex((g) => g.natGatewayId === id) + 1; // 0: none
  if (r.internet) await ensureUplink(host, cloud, vpc, routedPublics(r));
  else await removeUplink(host, cloud, vpc.vpcId);
  await writeNat(host, ns, r);

  // Clear this module's rules and tables, then write them anew (one batch each).
  const rules = JSON.parse((await host.ip(['-n', ns, '-j', 'rule', 'show'])).stdout || '[]') as { priority: number }[];
  const routes = JSON.parse((await host.ip(['-n', ns, '-j', 'route', 'show', 'table', 'all'])).stdout || '[]') as { table?: string }[];
  const clear: string[][] = [];
  for (const x of rules) if (x.priority >= RULE_PREF && x.priority < RULE_PREF + MAX_RULES) clear.push(['rule', 'del', 'pref', String(x.priority)]);
  const tables = new Set(routes.map((x) => Number(x.table)).filter((t) => t >= TABLE_BASE && t < TABLE_BASE + MAX_RULES));
  for (const t of tables) clear.push(['route', 'flush', 'table', String(t)]);
  if (clear.length) await host.ipBatch(clear, { netns: ns });

  const add: string[][] = [];
  let pref = RULE_PREF;
  for (const [i, t] of r.tables.entries()) {
    const table = String(TABLE_BASE + i);
    for (const s of t.subnetIds) {
      if (!subnets.some((x) => x.subnetId === s)) continue;
      add.push(['rule', 'add', 'pref', String(pref++), 'iif', n.routerLegInside(cloud, s), 'lookup', table]);
    }
    for (const x of t.routes) {
      const leg = x.target.kind === 'address' ? subnets.find((s) => n.inCidr(s.cidr, (x.target as { ip: string }).ip)) : undefined;
      const natRealm = x.target.kind === 'nat' ? realm(x.target.natGatewayId) : 0;
      if (x.target.kind === 'internet' && r.internet) add.push(['route', 'replace', x.destination, 'via', UPLINK_HOST, 'dev', 'up0', 'table', table]);
      else if (natRealm > 0) add.push(['route', 'replace', x.destination, 'via', UPLINK_HOST, 'dev', 'up0', 'realm', String(natRealm), 'table', table]);
      else if (x.target.kind === 'address' && leg) add.push(['route', 'replace', x.destination, 'via', x.target.ip, 'dev', n.routerLegInside(cloud, leg.subnetId), 'table', table]);
      else add.push(['route', 'replace', 'blackhole', x.destination, 'table', table]);
    }
  }
  if (add.length) await host.ipBatch(add, { netns: ns });
}
