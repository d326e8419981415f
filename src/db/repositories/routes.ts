/** Route tables, their associations and routes, and internet gateways (migration 011). */
import type { Db, Transaction } from '../sql.js';

export interface RouteTableRow {
  id: string;
  account_id: string;
  vpc_id: string;
}

export interface AssociationRow {
  id: string;
  route_table_id: string;
  vpc_id: string;
  subnet_id: string | null;
  main: boolean;
}

export interface RouteRow {
  route_table_id: string;
  destination: string;
  gateway_id: string | null;
  nat_gateway_id: string | null;
  network_interface_id: string | null;
  instance_id: string | null;
  origin: string;
}

export type RouteTarget = Pick<RouteRow, 'gateway_id' | 'nat_gateway_id' | 'network_interface_id' | 'instance_id'>;

export interface GatewayRow {
  id: string;
  account_id: string;
  vpc_id: string | null;
}

const ROUTE_COLUMNS = 'route_table_id, destination::text AS destination, gateway_id, nat_gateway_id, network_interface_id, instance_id, origin';

export class RouteRepository {
  constructor(private readonly db: Db) {}

  routeEni(accountId: string, by: { eniId?: string; instanceId?: string }) {
    return routeEni(this.db, accountId, by);
  }

  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.tx(fn);
  }

  // ---- route tables

  async table(accountId: string, id: string, t?: Transaction): Promise<RouteTableRow | undefined> {
    return this.db.one<RouteTableRow>('SELECT id, account_id, vpc_id FROM route_tables WHERE account_id = $1 AND id = $2', [accountId, id], t);
  }

  async insertTable(r: RouteTableRow, t?: Transaction): Promise<void> {
    await this.db.exec('INSERT INTO route_tables (id, account_id, vpc_id) VALUES ($1, $2, $3)', [r.id, r.account_id, r.vpc_id], t);
  }

  async deleteTable(id: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM routes WHERE route_table_id = $1', [id], t);
    await this.db.exec('DELETE FROM route_table_associations WHERE route_table_id = $1', [id], t);
    await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [id], t);
    await this.db.exec('DELETE FROM route_tables WHERE id = $1', [id], t);
  }

  tablesOfVpc(vpcId: string, t?: Transaction): Promise<RouteTableRow[]> {
    return this.db.rows<RouteTableRow>('SELECT id, account_id, vpc_id FROM route_tables WHERE vpc_id = $1 ORDER BY id', [vpcId], t);
  }

  /** The route tables of these VPCs, and below their associations, routes and internet gateways (their routing). */
  tablesOfVpcs(vpcIds: string[]): Promise<RouteTableRow[]> {
    return this.db.rows<RouteTableRow>('SELECT id, account_id, vpc_id FROM route_tables WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  associationsOfVpcs(vpcIds: string[]): Promise<AssociationRow[]> {
    return this.db.rows<AssociationRow>('SELECT id, route_table_id, vpc_id, subnet_id, main FROM route_table_associations WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  routesOfVpcs(vpcIds: string[]): Promise<RouteRow[]> {
    return this.db.rows<RouteRow>(
      `SELECT ${ROUTE_COLUMNS} FROM routes WHERE route_table_id IN (SELECT id FROM route_tables WHERE vpc_id = ANY($1::text[])) ORDER BY route_table_id, destination`,
      [vpcIds],
    );
  }

  gatewaysOfVpcs(vpcIds: string[]): Promise<GatewayRow[]> {
    return this.db.rows<GatewayRow>('SELECT id, account_id, vpc_id FROM internet_gateways WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  allTables(): Promise<RouteTableRow[]> {
    return this.db.rows<RouteTableRow>('SELECT id, account_id, vpc_id FROM route_tables ORDER BY id');
  }

  // ---- associations

  async association(id: string, t?: Transaction): Promise<(AssociationRow & { account_id: string }) | undefined> {
    return this.db.one(
      `SELECT a.id, a.route_table_id, a.vpc_id, a.subnet_id, a.main, t.account_id FROM route_table_associations a
       JOIN route_tables t ON t.id = a.route_table_id WHERE a.id = $1`,
      [id],
      t,
    );
  }

  associationsOf(routeTableId: string, t?: Transaction): Promise<AssociationRow[]> {
    return this.db.rows<AssociationRow>('SELECT id, route_table_id, vpc_id, subnet_id, main FROM route_table_associations WHERE route_table_id = $1', [routeTableId], t);
  }

  allAssociations(): Promise<AssociationRow[]> {
    return this.db.rows<AssociationRow>('SELECT id, route_table_id, vpc_id, subnet_id, main FROM route_table_associations ORDER BY id');
  }

  async subnetAssociation(subnetId: string, t?: Transaction): Promise<AssociationRow | undefined> {
    return this.db.one<AssociationRow>('SELECT id, route_table_id, vpc_id, subnet_id, main FROM route_table_associations WHERE subnet_id = $1', [subnetId], t);
  }

  async insertAssociation(a: AssociationRow, t?: Transaction): Promise<void> {
    await this.db.exec('INSERT INTO route_table_associations (id, route_table_id, vpc_id, subnet_id, main) VALUES ($1, $2, $3, $4, $5)', [a.id, a.route_table_id, a.vpc_id, a.subnet_id, a.main], t);
  }

  async deleteAssociation(id: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM route_table_associations WHERE id = $1', [id], t);
  }

  /** ReplaceRouteTableAssociation: the association gets a new id and table. */
  async replaceAssociation(id: string, newId: string, routeTableId: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE route_table_associations SET id = $2, route_table_id = $3 WHERE id = $1', [id, newId, routeTableId], t);
  }

  // ---- routes

  routesOf(routeTableId: string, t?: Transaction): Promise<RouteRow[]> {
    return this.db.rows<RouteRow>(`SELECT ${ROUTE_COLUMNS} FROM routes WHERE route_table_id = $1 ORDER BY destination`, [routeTableId], t);
  }

  allRoutes(): Promise<RouteRow[]> {
    return this.db.rows<RouteRow>(`SELECT ${ROUTE_COLUMNS} FROM routes ORDER BY route_table_id, destination`);
  }

  /** Whether some route sends traffic to this ENI (its address is then in the VPC router's routes). */
  async targetsEni(eniId: string): Promise<boolean> {
    return !!(await this.db.one('SELECT 1 AS x FROM routes WHERE network_interface_id = $1 LIMIT 1', [eniId]));
  }

  async route(routeTableId: string, destination: string, t?: Transaction): Promise<RouteRow | undefined> {
    return this.db.one<RouteRow>(`SELECT ${ROUTE_COLUMNS} FROM routes WHERE route_table_id = $1 AND destination = $2::cidr`, [routeTableId, destination], t);
  }

  async upsertRoute(r: RouteRow, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO routes (route_table_id, destination, gateway_id, nat_gateway_id, network_interface_id, instance_id, origin)
       VALUES ($1, $2::cidr, $3, $4, $5, $6, $7)
       ON CONFLICT (route_table_id, destination) DO UPDATE SET gateway_id = $3, nat_gateway_id = $4, network_interface_id = $5, instance_id = $6`,
      [r.route_table_id, r.destination, r.gateway_id, r.nat_gateway_id, r.network_interface_id, r.instance_id, r.origin],
      t,
    );
  }

  async deleteRoute(routeTableId: string, destination: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM routes WHERE route_table_id = $1 AND destination = $2::cidr', [routeTableId, destination], t);
  }

  async routesToGateway(gatewayId: string): Promise<number> {
    return (await this.db.one<{ n: number }>('SELECT count(*)::int AS n FROM routes WHERE gateway_id = $1', [gatewayId]))!.n;
  }

  /** A NAT gateway of the account (routes name one), in whatever state. */
  natGateway(accountId: string, id: string): Promise<{ id: string; vpc_id: string; state: string } | undefined> {
    return this.db.one('SELECT id, vpc_id, state FROM nat_gateways WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  /** Public addresses mapped through the VPC's gateway: associated Elastic IPs and live public NAT gateways. */
  async publicUsers(vpcId: string): Promise<number> {
    return (await this.db.one<{ n: number }>(
      `SELECT ((SELECT count(*) FROM addresses a JOIN network_interfaces n ON n.id = a.network_interface_id WHERE n.vpc_id = $1) +
               (SELECT count(*) FROM nat_gateways g WHERE g.vpc_id = $1 AND g.connectivity_type = 'public' AND g.state IN ('pending', 'available', 'deleting')))::int AS n`,
      [vpcId],
    ))!.n;
  }

  // ---- internet gateways

  async gateway(accountId: string, id: string, t?: Transaction): Promise<GatewayRow | undefined> {
    return this.db.one<GatewayRow>('SELECT id, account_id, vpc_id FROM internet_gateways WHERE account_id = $1 AND id = $2', [accountId, id], t);
  }

  async gatewayOfVpc(vpcId: string, t?: Transaction): Promise<GatewayRow | undefined> {
    return this.db.one<GatewayRow>('SELECT id, account_id, vpc_id FROM internet_gateways WHERE vpc_id = $1', [vpcId], t);
  }

  allGateways(): Promise<GatewayRow[]> {
    return this.db.rows<GatewayRow>('SELECT id, account_id, vpc_id FROM internet_gateways ORDER BY id');
  }

  async gatewaysOf(accountId: string, ids: string[]): Promise<GatewayRow[]> {
    return this.db.rows<GatewayRow>('SELECT id, account_id, vpc_id FROM internet_gateways WHERE account_id = $1 AND id = ANY($2)', [accountId, ids]);
  }

  async tablesOf(accountId: string, ids: string[]): Promise<RouteTableRow[]> {
    return this.db.rows<RouteTableRow>('SELECT id, account_id, vpc_id FROM route_tables WHERE account_id = $1 AND id = ANY($2)', [accountId, ids]);
  }

  async insertGateway(g: GatewayRow, t?: Transaction): Promise<void> {
    await this.db.exec('INSERT INTO internet_gateways (id, account_id, vpc_id) VALUES ($1, $2, $3)', [g.id, g.account_id, g.vpc_id], t);
  }

  /** Attach (vpcId) or detach (null); false when another request changed it first. */
  async setGatewayVpc(id: string, from: string | null, to: string | null, t?: Transaction): Promise<boolean> {
    return (await this.db.exec('UPDATE internet_gateways SET vpc_id = $3 WHERE id = $1 AND vpc_id IS NOT DISTINCT FROM $2', [id, from, to], t)) === 1;
  }

  async deleteGateway(id: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [id], t);
    await this.db.exec('DELETE FROM internet_gateways WHERE id = $1', [id], t);
  }
}

/** The ENI a route names directly or through its instance (device 0), in the caller's account. */
export async function routeEni(db: Db, accountId: string, by: { eniId?: string; instanceId?: string }): Promise<{ id: string; vpc_id: string; instance_id: string | null } | undefined> {
  if (by.eniId) return db.one('SELECT id, vpc_id, instance_id FROM network_interfaces WHERE account_id = $1 AND id = $2', [accountId, by.eniId]);
  return db.one(
    `SELECT n.id, n.vpc_id, n.instance_id FROM network_interfaces n JOIN instances i ON i.id = n.instance_id
     WHERE i.account_id = $1 AND n.instance_id = $2 AND i.state <> 'terminated' ORDER BY n.device_index LIMIT 1`,
    [accountId, by.instanceId],
  );
}
