/**
 * From the route records to the data plane's routing (src/ports/network.ts VpcRouting): each route table with
 * the subnets that follow it (explicit associations; the main table takes the rest) and its routes' targets
 * resolved: an internet gateway attached to the VPC is `internet`, an interface (or an instance's) is its
 * primary address, a live public NAT gateway `nat` (with its Elastic IP), anything else (a detached gateway, a
 * deleted interface or NAT gateway, a private NAT gateway: not realised) a blackhole.
 */
import type { NetworkRepository } from '../../db/repositories/network.js';
import type { RouteTargetSpec, VpcRouting } from '../../ports/index.js';
import { LIVE_NAT_STATES } from '../../db/repositories/nat-gateways.js';

export async function routingOf(
  network: NetworkRepository,
  vpcs: { id: string }[],
  subnets: { id: string; vpc_id: string }[],
  ipsOf: (eniId: string) => Promise<string[]>,
): Promise<VpcRouting[]> {
  const repo = network.routes;
  const [tables, associations, routes, gateways, publics, liveNats] = await Promise.all([repo.allTables(), repo.allAssociations(), repo.allRoutes(), repo.allGateways(), network.addresses.associated(), network.nats.live()]);
  const out: VpcRouting[] = [];
  for (const vpc of vpcs) {
    const mine = tables.filter((t) => t.vpc_id === vpc.id).sort((a, b) => (a.id < b.id ? -1 : 1));
    const assoc = associations.filter((a) => a.vpc_id === vpc.id);
    const main = assoc.find((a) => a.main)?.route_table_id;
    const explicit = new Map(assoc.filter((a) => a.subnet_id).map((a) => [a.subnet_id!, a.route_table_id]));
    const gateway = gateways.find((g) => g.vpc_id === vpc.id)?.id;
    const vpcSubnets = subnets.filter((s) => s.vpc_id === vpc.id);
    const nats = liveNats.filter((g) => g.vpc_id === vpc.id && LIVE_NAT_STATES.includes(g.state) && g.connectivity_type === 'public' && g.public_ip);
    const result: VpcRouting = {
      vpcId: vpc.id,
      internet: !!gateway,
      tables: [],
      publicIps: publics.filter((p) => p.vpc_id === vpc.id).map((p) => ({ publicIp: p.public_ip, privateIp: p.private_ip })),
      natGateways: nats.map((g) => ({ natGatewayId: g.id, publicIp: g.public_ip! })),
    };
    for (const t of mine) {
      const subnetIds = vpcSubnets.filter((s) => (explicit.get(s.id) ?? main) === t.id).map((s) => s.id);
      const list: VpcRouting['tables'][number]['routes'] = [];
      for (const r of routes.filter((x) => x.route_table_id === t.id && x.gateway_id !== 'local')) {
        let target: RouteTargetSpec = { kind: 'blackhole' };
        if (r.gateway_id && r.gateway_id === gateway) target = { kind: 'internet' };
        else if (r.nat_gateway_id && nats.some((g) => g.id === r.nat_gateway_id)) target = { kind: 'nat', natGatewayId: r.nat_gateway_id };
        else if (r.network_interface_id) {
          const ip = (await ipsOf(r.network_interface_id))[0];
          if (ip) target = { kind: 'address', ip };
        }
        list.push({ destination: r.destination, target });
      }
      result.tables.push({ routeTableId: t.id, subnetIds, routes: list });
    }
    out.push(result);
  }
  return out;
}
