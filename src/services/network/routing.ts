/**
 * From the route records to the data plane's routing (src/ports/network.ts VpcRouting): each route table with
 * the subnets that follow it (explicit associations; the main table takes the rest) and its routes' targets
 * resolved: an internet gateway attached to the VPC is `internet`, an interface (or an instance's) is its
 * primary address, a live public NAT gateway `nat` (with its Elastic IP), anything else (a detached gateway, a
 * deleted interface or NAT gateway, a private NAT gateway: not realised) a blackhole.
 *
 * A NAT gateway forwards what it translates by its own subnet's route table, as on AWS: a gateway in a subnet whose
 * table has no route to the internet gateway is created and `available`, but its traffic goes nowhere. The router
 * has no hop between the two tables, so the service narrows each route to a NAT gateway to the destinations its
 * subnet's table sends to the internet gateway (confineNatRoutes); only such routes (not the gateway subnet's other
 * targets) are followed.
 */
import type { NetworkRepository } from '../../db/repositories/network.js';
import type { AssociationRow, GatewayRow, RouteRow, RouteTableRow } from '../../db/repositories/routes.js';
import type { RouteTargetSpec, VpcRouting } from '../../ports/index.js';
import { LIVE_NAT_STATES, type NatRow } from '../../db/repositories/nat-gateways.js';
import { cidrContains } from '../../domain/ipv4.js';
import { groupBy } from './group-by.js';

type RouteSpec = VpcRouting['tables'][number]['routes'][number];

/** Whether CIDR `outer` holds all of CIDR `inner`. */
function covers(outer: string, inner: string): boolean {
  return Number(outer.split('/')[1]) <= Number(inner.split('/')[1]) && cidrContains(outer, inner.split('/')[0]!);
}

/**
 * A table's routes with each route to a NAT gateway kept only as far as `internetOf(gateway)` (the destinations
 * the gateway's own subnet table sends to the internet gateway) reaches: a route inside one of them stays; else it
 * becomes a blackhole, and each narrower internet destination inside it becomes a route to the gateway (unless the
 * table names that destination itself). Pure.
 */
export function confineNatRoutes(routes: RouteSpec[], internetOf: (natGatewayId: string) => string[]): RouteSpec[] {
  const out: RouteSpec[] = [];
  const extra: RouteSpec[] = [];
  for (const r of routes) {
    if (r.target.kind !== 'nat') {
      out.push(r);
      continue;
    }
    const internet = internetOf(r.target.natGatewayId);
    if (internet.some((d) => covers(d, r.destination))) {
      out.push(r);
      continue;
    }
    out.push({ destination: r.destination, target: { kind: 'blackhole' } });
    for (const d of internet) if (covers(r.destination, d)) extra.push({ destination: d, target: r.target });
  }
  for (const x of extra) if (!out.some((r) => r.destination === x.destination)) out.push(x);
  return out;
}

/** The records a VPC's routing is made of (of every VPC, or of some read by VPC). */
interface RoutingRecords {
  tables: RouteTableRow[];
  associations: AssociationRow[];
  routes: RouteRow[];
  gateways: GatewayRow[];
  publics: { vpc_id: string; public_ip: string; private_ip: string }[];
  nats: NatRow[];
  subnets: { id: string; vpc_id: string }[];
}

/** Every VPC's routing (sync), from the whole installation's records read once. */
export async function routingOf(
  network: NetworkRepository,
  vpcs: { id: string }[],
  subnets: { id: string; vpc_id: string }[],
  ipsOf: (eniId: string) => Promise<string[]>,
): Promise<VpcRouting[]> {
  const repo = network.routes;
  const [tables, associations, routes, gateways, publics, nats] = await Promise.all([repo.allTables(), repo.allAssociations(), repo.allRoutes(), repo.allGateways(), network.addresses.associated(), network.nats.live()]);
  return routingFrom({ tables, associations, routes, gateways, publics, nats, subnets }, vpcs, ipsOf);
}

/**
 * One VPC's routing (a change of its tables, gateways, addresses...), from its own records alone: read by VPC, so
 * that its cost does not grow with the installation.
 */
export async function vpcRouting(network: NetworkRepository, vpcId: string, ipsOf: (eniId: string) => Promise<string[]>): Promise<VpcRouting> {
  const repo = network.routes;
  const ids = [vpcId];
  const [tables, associations, routes, gateways, publics, nats, subnets] = await Promise.all([
    repo.tablesOfVpcs(ids), repo.associationsOfVpcs(ids), repo.routesOfVpcs(ids), repo.gatewaysOfVpcs(ids),
    network.addresses.associatedInVpcs(ids), network.nats.liveInVpcs(ids), network.subnetsOfVpcs(ids),
  ]);
  return (await routingFrom({ tables, associations, routes, gateways, publics, nats, subnets }, [{ id: vpcId }], ipsOf))[0]!;
}

async function routingFrom(records: RoutingRecords, vpcs: { id: string }[], ipsOf: (eniId: string) => Promise<string[]>): Promise<VpcRouting[]> {
  const tablesOf = groupBy(records.tables, (t) => t.vpc_id);
  const associationsOf = groupBy(records.associations, (a) => a.vpc_id);
  const routesOf = groupBy(records.routes, (r) => r.route_table_id);
  const gatewayOf = groupBy(records.gateways, (g) => g.vpc_id);
  const publicsOf = groupBy(records.publics, (p) => p.vpc_id);
  const natsOf = groupBy(records.nats, (g) => g.vpc_id);
  const subnetsOf = groupBy(records.subnets, (s) => s.vpc_id);
  const out: VpcRouting[] = [];
  for (const vpc of vpcs) {
    const mine = [...(tablesOf.get(vpc.id) ?? [])].sort((a, b) => (a.id < b.id ? -1 : 1));
    const assoc = associationsOf.get(vpc.id) ?? [];
    const main = assoc.find((a) => a.main)?.route_table_id;
    const explicit = new Map(assoc.filter((a) => a.subnet_id).map((a) => [a.subnet_id!, a.route_table_id]));
    const gateway = gatewayOf.get(vpc.id)?.[0]?.id;
    const vpcSubnets = subnetsOf.get(vpc.id) ?? [];
    const nats = (natsOf.get(vpc.id) ?? []).filter((g) => LIVE_NAT_STATES.includes(g.state) && g.connectivity_type === 'public' && g.public_ip);
    const result: VpcRouting = {
      vpcId: vpc.id,
      internet: !!gateway,
      tables: [],
      publicIps: (publicsOf.get(vpc.id) ?? []).map((p) => ({ publicIp: p.public_ip, privateIp: p.private_ip })),
      natGateways: nats.map((g) => ({ natGatewayId: g.id, publicIp: g.public_ip! })),
    };
    const tableOf = (subnetId: string) => explicit.get(subnetId) ?? main;
    const internetOf = (natId: string) => {
      const table = tableOf(nats.find((g) => g.id === natId)?.subnet_id ?? '');
      return (routesOf.get(table ?? '') ?? []).filter((x) => gateway && x.gateway_id === gateway).map((x) => x.destination);
    };
    for (const t of mine) {
      const subnetIds = vpcSubnets.filter((s) => (explicit.get(s.id) ?? main) === t.id).map((s) => s.id);
      const list: VpcRouting['tables'][number]['routes'] = [];
      for (const r of (routesOf.get(t.id) ?? []).filter((x) => x.gateway_id !== 'local')) {
        let target: RouteTargetSpec = { kind: 'blackhole' };
        if (r.gateway_id && r.gateway_id === gateway) target = { kind: 'internet' };
        else if (r.nat_gateway_id && nats.some((g) => g.id === r.nat_gateway_id)) target = { kind: 'nat', natGatewayId: r.nat_gateway_id };
        else if (r.network_interface_id) {
          const ip = (await ipsOf(r.network_interface_id))[0];
          if (ip) target = { kind: 'address', ip };
        }
        list.push({ destination: r.destination, target });
      }
      result.tables.push({ routeTableId: t.id, subnetIds, routes: confineNatRoutes(list, internetOf) });
    }
    out.push(result);
  }
  return out;
}
