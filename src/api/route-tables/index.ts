/** DescribeRouteTables, CreateRouteTable, DeleteRouteTable. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { column, join, text, sql, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import type { RouteRow } from '../../db/repositories/routes.js';
import { describeAction } from '../describe-action.js';

/** A route as the describe query aggregates it: the record's columns and its computed state. */
type RouteJson = Omit<RouteRow, 'route_table_id'> & { state: string };
type Row = { id: string; account_id: string; vpc_id: string; tags: Tag[]; associations: { id: string; subnet_id: string | null; main: boolean }[]; routes: RouteJson[] };

/** A route's state: blackhole when its target is gone (a detached gateway, a deleted interface or NAT gateway). */
const ROUTE_STATE = `CASE
  WHEN x.gateway_id = 'local' THEN 'active'
  WHEN x.gateway_id IS NOT NULL THEN CASE WHEN EXISTS (SELECT 1 FROM internet_gateways g WHERE g.id = x.gateway_id AND g.vpc_id = r.vpc_id) THEN 'active' ELSE 'blackhole' END
  WHEN x.network_interface_id IS NOT NULL THEN CASE WHEN EXISTS (SELECT 1 FROM network_interfaces n WHERE n.id = x.network_interface_id) THEN 'active' ELSE 'blackhole' END
  WHEN x.nat_gateway_id IS NOT NULL THEN CASE WHEN EXISTS (SELECT 1 FROM nat_gateways g WHERE g.id = x.nat_gateway_id AND g.state IN ('pending', 'available')) THEN 'active' ELSE 'blackhole' END
  ELSE 'blackhole' END`;

const COLUMNS = `r.*,
  (SELECT coalesce(json_agg(json_build_object('id', a.id, 'subnet_id', a.subnet_id, 'main', a.main) ORDER BY a.main DESC, a.id), '[]')
     FROM route_table_associations a WHERE a.route_table_id = r.id) AS associations,
  (SELECT coalesce(json_agg(json_build_object('destination', x.destination::text, 'gateway_id', x.gateway_id, 'nat_gateway_id', x.nat_gateway_id,
       'network_interface_id', x.network_interface_id, 'instance_id', x.instance_id, 'origin', x.origin, 'state', ${ROUTE_STATE})
       ORDER BY x.gateway_id IS NOT DISTINCT FROM 'local' DESC, x.destination), '[]')
     FROM routes x WHERE x.route_table_id = r.id) AS routes`;

const assoc = (value: string) => join<Row>('route_table_associations a', 'a.route_table_id = r.id', value);
const route = (value: string) => join<Row>('routes x', 'x.route_table_id = r.id', value);

export const routeTableResource: Resource<Row> = {
  from: 'route_tables',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: COLUMNS,
  tags: { type: 'route-table' },
  filters: {
    'route-table-id': column('id'),
    'vpc-id': column('vpc_id'),
    'owner-id': text('r.account_id::text'),
    'association.main': text('(EXISTS (SELECT 1 FROM route_table_associations a WHERE a.route_table_id = r.id AND a.main))::text'),
    'association.route-table-association-id': assoc('a.id'),
    'association.route-table-id': assoc('a.route_table_id'),
    'association.subnet-id': assoc('a.subnet_id'),
    'association.association-state.state': assoc(`'associated'`),
    'route.destination-cidr-block': route('x.destination::text'),
    'route.gateway-id': route('x.gateway_id'),
    'route.nat-gateway-id': route('x.nat_gateway_id'),
    'route.network-interface-id': route('x.network_interface_id'),
    'route.instance-id': route('x.instance_id'),
    'route.origin': route('x.origin'),
    'route.state': route(ROUTE_STATE),
  },
  notFound: (ids) => notFound('InvalidRouteTableID', 'routeTable ID', ids),
  maxResults: { min: 5, max: 100 },
};

function toRoute(x: RouteJson, ownerId: string): Ec2.Route {
  return {
    DestinationCidrBlock: x.destination,
    GatewayId: x.gateway_id ?? undefined,
    NatGatewayId: x.nat_gateway_id ?? undefined,
    NetworkInterfaceId: x.network_interface_id ?? undefined,
    InstanceId: x.instance_id ?? undefined,
    InstanceOwnerId: x.instance_id ? ownerId : undefined,
    Origin: x.origin,
    State: x.state,
  };
}

export function toRouteTable(r: Row): Ec2.RouteTable {
  const owner = r.account_id.trim();
  return {
    RouteTableId: r.id,
    VpcId: r.vpc_id,
    OwnerId: owner,
    Associations: r.associations.map((a) => ({
      Main: a.main,
      RouteTableAssociationId: a.id,
      RouteTableId: r.id,
      SubnetId: a.subnet_id ?? undefined,
      AssociationState: { State: 'associated' },
    })),
    Routes: r.routes.map((x) => toRoute(x, owner)),
    PropagatingVgws: [],
    Tags: toTagList(r.tags),
  };
}

export const describeRouteTables = describeAction('DescribeRouteTables', {
  resource: routeTableResource, idKind: 'routeTable', ids: (i) => i.RouteTableIds, list: 'RouteTables', render: toRouteTable,
});

export async function oneRouteTable(id: string, ctx: RequestContext): Promise<Ec2.RouteTable> {
  const page = await ctx.services.describe.page(routeTableResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return toRouteTable(batch[0]);
  throw new Error(`route table ${id} vanished`);
}

export const createRouteTable = defineHandler('CreateRouteTable', {
  async validate(input, ctx) {
    const tags = tagsFromSpecs(input.TagSpecifications, 'route-table');
    validateTags(tags);
    return { vpc: await ctx.services.network.admin.vpc(ctx.accountId, parseId('vpc', input.VpcId)), tags };
  },
  async handle(_input, ctx, { vpc, tags }) {
    const id = await ctx.services.network.edge.createTable(ctx.accountId, vpc);
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id, type: 'route-table' }], tags);
    return { RouteTable: await oneRouteTable(id, ctx) };
  },
});

export const deleteRouteTable = defineHandler('DeleteRouteTable', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkDeleteTable(ctx.accountId, parseId('routeTable', input.RouteTableId));
  },
  async handle(_input, ctx, table) {
    await ctx.services.network.edge.deleteTable(table);
    return {};
  },
});

