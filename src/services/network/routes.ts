/**
 * Route tables and internet gateways with AWS's semantics over the records (src/db/repositories/routes.ts).
 * Every check runs in a `check*` method before anything is written (so DryRun runs it too); each write ends by
 * telling the data plane which VPC's routing changed (`onChange`), which realises it or leaves it to the next sync.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { Transaction } from '../../db/sql.js';
import type { GatewayRow, RouteRepository, RouteRow, RouteTableRow, RouteTarget } from '../../db/repositories/routes.js';
import type { VpcRow } from '../../db/repositories/network.js';
import { vpcBlocks } from './dataplane.js';

/** What a CreateRoute/ReplaceRoute names as its target (exactly one). */
export interface RouteTargetInput {
  gatewayId?: string;
  natGatewayId?: string;
  networkInterfaceId?: string;
  instanceId?: string;
}

/** A destination CIDR as AWS accepts it: the network address of an IPv4 block (InvalidParameterValue otherwise). */
export function checkDestination(cidr: string | undefined): string {
  if (!cidr) throw new Ec2Error('MissingParameter', 'The request must contain the parameter destinationCidrBlock or destinationIpv6CidrBlock');
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) {
    throw new Ec2Error('InvalidParameterValue', `Value (${cidr}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`);
  }
  const bits = Number(m[5]);
  const n = m.slice(1, 5).reduce((a, x) => a * 256 + Number(x), 0);
  const net = bits === 0 ? 0 : (n & (0xffffffff << (32 - bits))) >>> 0;
  return `${[24, 16, 8, 0].map((b) => (net >>> b) & 255).join('.')}/${bits}`;
}

export class EdgeAdmin {
  constructor(
    private readonly repo: RouteRepository,
    private readonly vpcOf: (accountId: string, id: string) => Promise<VpcRow>,
    private readonly subnetOf: (accountId: string, id: string) => Promise<{ id: string; vpc_id: string }>,
    /** The routing of this VPC changed: the data plane follows (or the next sync does). */
    private readonly onChange: (vpcId: string) => Promise<void>,
  ) {}

  /** The VPC's subnets changed: the data plane's routing follows. */
  refresh(vpcId: string): Promise<void> {
    return this.onChange(vpcId);
  }

  // ---- what a VPC is born and dies with

  /** A VPC's main route table with its local route (inside the transaction that makes the VPC). */
  async insertMainTable(accountId: string, vpcId: string, cidr: string, t: Transaction): Promise<string> {
    const id = newId('routeTable');
    await this.repo.insertTable({ id, account_id: accountId, vpc_id: vpcId }, t);
    await this.repo.insertAssociation({ id: newId('routeTableAssociation'), route_table_id: id, vpc_id: vpcId, subnet_id: null, main: true }, t);
    await this.repo.upsertRoute({ route_table_id: id, destination: cidr, gateway_id: 'local', nat_gateway_id: null, network_interface_id: null, instance_id: null, origin: 'CreateRouteTable' }, t);
    return id;
  }

  /** The default VPC as AWS makes it: an attached internet gateway and 0.0.0.0/0 to it in the main table. */
  async insertDefaultEdge(accountId: string, vpcId: string, cidr: string, t: Transaction): Promise<void> {
    const rtb = await this.insertMainTable(accountId, vpcId, cidr, t);
    const igw = newId('internetGateway');
    await this.repo.insertGateway({ id: igw, account_id: accountId, vpc_id: vpcId }, t);
    await this.repo.upsertRoute({ route_table_id: rtb, destination: '0.0.0.0/0', gateway_id: igw, nat_gateway_id: null, network_interface_id: null, instance_id: null, origin: 'CreateRoute' }, t);
  }

  /** DeleteVpc's part: refuses while a non-main table or an attached gateway is there. */
  async checkDeleteVpc(vpcId: string): Promise<void> {
    const tables = await this.repo.tablesOfVpc(vpcId);
    const main = await this.mainTableId(vpcId);
    if (tables.some((x) => x.id !== main) || (await this.repo.gatewayOfVpc(vpcId))) {
      throw new Ec2Error('DependencyViolation', `The vpc '${vpcId}' has dependencies and cannot be deleted.`);
    }
  }

  /** Removes the VPC's (main) route tables, inside DeleteVpc's transaction. */
  async deleteVpcTables(vpcId: string, t: Transaction): Promise<void> {
    for (const x of await this.repo.tablesOfVpc(vpcId, t)) await this.repo.deleteTable(x.id, t);
  }

  private async mainTableId(vpcId: string): Promise<string | undefined> {
    for (const x of await this.repo.tablesOfVpc(vpcId)) {
      if ((await this.repo.associationsOf(x.id)).some((a) => a.main)) return x.id;
    }
    return undefined;
  }

  // ---- route tables

  async table(accountId: string, id: string): Promise<RouteTableRow> {
    const x = await this.repo.table(accountId, id);
    if (!x) throw new Ec2Error('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`);
    return x;
  }

  async createTable(accountId: string, vpc: VpcRow): Promise<string> {
    const id = newId('routeTable');
    await this.repo.tx(async (t) => {
      await this.repo.insertTable({ id, account_id: accountId, vpc_id: vpc.id }, t);
      // A local route to each of the VPC's blocks, as AWS makes a new table.
      for (const cidr of vpcBlocks(vpc)) {
        await this.repo.upsertRoute({ route_table_id: id, destination: cidr, gateway_id: 'local', nat_gateway_id: null, network_interface_id: null, instance_id: null, origin: 'CreateRouteTable' }, t);
      }
    });
    return id;
  }

  async checkDeleteTable(accountId: string, id: string): Promise<RouteTableRow> {
    const x = await this.table(accountId, id);
    if ((await this.repo.associationsOf(x.id)).length) {
      throw new Ec2Error('DependencyViolation', `The routeTable '${id}' has dependencies and cannot be deleted.`);
    }
    return x;
  }

  async deleteTable(x: RouteTableRow): Promise<void> {
    await this.repo.tx((t) => this.repo.deleteTable(x.id, t));
    await this.onChange(x.vpc_id);
  }

  // ---- associations

  async checkAssociate(accountId: string, tableId: string, subnetId: string | undefined, gatewayId: string | undefined): Promise<{ table: RouteTableRow; subnetId: string }> {
    if (gatewayId) throw new Ec2Error('UnsupportedOperation', 'Gateway route table associations are not supported.');
    if (!subnetId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter subnetId or gatewayId');
    const table = await this.table(accountId, tableId);
    const subnet = await this.subnetOf(accountId, subnetId);
    if (subnet.vpc_id !== table.vpc_id) {
      throw new Ec2Error('InvalidParameterValue', `route table ${tableId} and subnet ${subnetId} belong to different networks`);
    }
    if (await this.repo.subnetAssociation(subnetId)) {
      throw new Ec2Error('Resource.AlreadyAssociated', `the specified association for route table ${tableId} conflicts with an existing association`);
    }
    return { table, subnetId };
  }

  async associate(p: { table: RouteTableRow; subnetId: string }): Promise<string> {
    const id = newId('routeTableAssociation');
    await this.repo.insertAssociation({ id, route_table_id: p.table.id, vpc_id: p.table.vpc_id, subnet_id: p.subnetId, main: false });
    await this.onChange(p.table.vpc_id);
    return id;
  }

  async association(accountId: string, id: string) {
    const a = await this.repo.association(id);
    if (!a || a.account_id.trim() !== accountId) throw new Ec2Error('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);
    return a;
  }

  async checkDisassociate(accountId: string, id: string) {
    const a = await this.association(accountId, id);
    if (a.main) throw new Ec2Error('InvalidParameterValue', `cannot disassociate the main route table association ${id}`);
    return a;
  }

  async disassociate(a: { id: string; vpc_id: string }): Promise<void> {
    await this.repo.deleteAssociation(a.id);
    await this.onChange(a.vpc_id);
  }

  /** ReplaceRouteTableAssociation (also of the main association: the VPC's main table changes). */
  async checkReplaceAssociation(accountId: string, id: string, tableId: string) {
    const a = await this.association(accountId, id);
    const table = await this.table(accountId, tableId);
    if (table.vpc_id !== a.vpc_id) {
      throw new Ec2Error('InvalidParameterValue', `route table ${tableId} and association ${id} belong to different networks`);
    }
    return { a, table };
  }

  async replaceAssociation(p: { a: { id: string; vpc_id: string }; table: RouteTableRow }): Promise<string> {
    const id = newId('routeTableAssociation');
    await this.repo.replaceAssociation(p.a.id, id, p.table.id);
    await this.onChange(p.a.vpc_id);
    return id;
  }

  // ---- routes

  /** The target's columns, after AWS's checks (exists, in this account, in the table's VPC). */
  async checkTarget(accountId: string, table: RouteTableRow, t: RouteTargetInput): Promise<RouteTarget> {
    const named = [t.gatewayId, t.natGatewayId, t.networkInterfaceId, t.instanceId].filter((x) => x !== undefined);
    if (named.length !== 1) {
      throw new Ec2Error('InvalidParameterCombination', 'The parameter combination is not valid: exactly one of gatewayId, natGatewayId, networkInterfaceId, instanceId is required.');
    }
    const none = { gateway_id: null, nat_gateway_id: null, network_interface_id: null, instance_id: null };
    if (t.gatewayId !== undefined) {
      if (t.gatewayId === 'local') throw new Ec2Error('InvalidParameterValue', 'The gateway local is only valid for the route to the VPC CIDR block.');
      if (!/^igw-/.test(t.gatewayId)) throw new Ec2Error('InvalidGatewayID.NotFound', `The gateway ID '${t.gatewayId}' does not exist`);
      const g = await this.repo.gateway(accountId, t.gatewayId);
      if (!g) throw new Ec2Error('InvalidInternetGatewayID.NotFound', `The internetGateway ID '${t.gatewayId}' does not exist`);
      if (g.vpc_id !== table.vpc_id) throw new Ec2Error('InvalidParameterValue', `route table ${table.id} and network gateway ${g.id} belong to different networks`);
      return { ...none, gateway_id: g.id };
    }
    if (t.natGatewayId !== undefined) {
      const g = await this.repo.natGateway(accountId, t.natGatewayId);
      if (!g || g.state === 'deleted' || g.state === 'failed') throw new Ec2Error('InvalidNatGatewayID.NotFound', `The natGateway ID '${t.natGatewayId}' does not exist`);
      if (g.vpc_id !== table.vpc_id) throw new Ec2Error('InvalidParameterValue', `route table ${table.id} and network gateway ${g.id} belong to different networks`);
      return { ...none, nat_gateway_id: g.id };
    }
    const eni = await this.repo.routeEni(accountId, { eniId: t.networkInterfaceId, instanceId: t.instanceId });
    if (!eni) {
      throw t.instanceId !== undefined
        ? new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${t.instanceId}' does not exist`)
        : new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${t.networkInterfaceId}' does not exist`);
    }
    if (eni.vpc_id !== table.vpc_id) {
      throw new Ec2Error('InvalidParameterValue', `route table ${table.id} and interface ${eni.id} belong to different networks`);
    }
    return { ...none, network_interface_id: eni.id, instance_id: eni.instance_id };
  }

  async checkCreateRoute(accountId: string, tableId: string, destIn: string | undefined, target: RouteTargetInput): Promise<RouteRow> {
    const table = await this.table(accountId, tableId);
    const destination = checkDestination(destIn);
    if (await this.repo.route(table.id, destination)) {
      throw new Ec2Error('RouteAlreadyExists', `The route identified by ${destIn} already exists.`);
    }
    return { route_table_id: table.id, destination, origin: 'CreateRoute', ...(await this.checkTarget(accountId, table, target)) };
  }

  async checkReplaceRoute(accountId: string, tableId: string, destIn: string | undefined, target: RouteTargetInput): Promise<RouteRow> {
    const table = await this.table(accountId, tableId);
    const destination = checkDestination(destIn);
    const have = await this.repo.route(table.id, destination);
    if (!have) throw new Ec2Error('InvalidRoute.NotFound', `There is no route defined for '${destIn}' in the route table. Use CreateRoute instead.`);
    if (have.gateway_id === 'local') throw new Ec2Error('InvalidParameterValue', `cannot replace local route ${destination} in route table ${table.id}`);
    return { ...have, ...(await this.checkTarget(accountId, table, target)) };
  }

  async checkDeleteRoute(accountId: string, tableId: string, destIn: string | undefined): Promise<RouteRow> {
    const table = await this.table(accountId, tableId);
    const destination = checkDestination(destIn);
    const have = await this.repo.route(table.id, destination);
    if (!have) throw new Ec2Error('InvalidRoute.NotFound', `no route with destination-cidr-block ${destIn} in route table ${table.id}`);
    if (have.gateway_id === 'local') throw new Ec2Error('InvalidParameterValue', `cannot remove local route ${destination} in route table ${table.id}`);
    return have;
  }

  async putRoute(r: RouteRow, vpcId: string): Promise<void> {
    await this.repo.upsertRoute(r);
    await this.onChange(vpcId);
  }

  async deleteRoute(r: RouteRow, vpcId: string): Promise<void> {
    await this.repo.deleteRoute(r.route_table_id, r.destination);
    await this.onChange(vpcId);
  }

  // ---- internet gateways

  async gateway(accountId: string, id: string): Promise<GatewayRow> {
    const g = await this.repo.gateway(accountId, id);
    if (!g) throw new Ec2Error('InvalidInternetGatewayID.NotFound', `The internetGateway ID '${id}' does not exist`);
    return g;
  }

  async createGateway(accountId: string): Promise<string> {
    const id = newId('internetGateway');
    await this.repo.insertGateway({ id, account_id: accountId, vpc_id: null });
    return id;
  }

  async checkAttach(accountId: string, id: string, vpcId: string): Promise<{ g: GatewayRow; vpc: VpcRow }> {
    const g = await this.gateway(accountId, id);
    const vpc = await this.vpcOf(accountId, vpcId);
    if (g.vpc_id) throw new Ec2Error('Resource.AlreadyAssociated', `resource ${id} is already attached to network ${g.vpc_id}`);
    const other = await this.repo.gatewayOfVpc(vpc.id);
    if (other) throw new Ec2Error('Resource.AlreadyAssociated', `resource ${vpc.id} is already attached to network ${other.id}`);
    return { g, vpc };
  }

  async attach(p: { g: GatewayRow; vpc: VpcRow }): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.repo.setGatewayVpc(p.g.id, null, p.vpc.id);
    } catch {
      ok = false; // the VPC got another gateway meanwhile (the unique index)
    }
    if (!ok) throw new Ec2Error('Resource.AlreadyAssociated', `resource ${p.g.id} is already attached to network ${p.vpc.id}`);
    await this.onChange(p.vpc.id);
  }

  async checkDetach(accountId: string, id: string, vpcId: string): Promise<GatewayRow> {
    const g = await this.gateway(accountId, id);
    await this.vpcOf(accountId, vpcId);
    if (g.vpc_id !== vpcId) throw new Ec2Error('Gateway.NotAttached', `resource ${id} is not attached to network ${vpcId}`);
    // AWS's answer while a public address is mapped through the gateway (an Elastic IP, a public NAT gateway's).
    if (await this.repo.publicUsers(vpcId)) {
      throw new Ec2Error('DependencyViolation', `Network ${vpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`);
    }
    return g;
  }

  async detach(g: GatewayRow, vpcId: string): Promise<void> {
    await this.repo.setGatewayVpc(g.id, vpcId, null);
    await this.onChange(vpcId);
  }

  async checkDeleteGateway(accountId: string, id: string): Promise<GatewayRow> {
    const g = await this.gateway(accountId, id);
    if (g.vpc_id || (await this.repo.routesToGateway(g.id))) {
      throw new Ec2Error('DependencyViolation', `The internetGateway '${id}' has dependencies and cannot be deleted.`);
    }
    return g;
  }

  async deleteGateway(g: GatewayRow): Promise<void> {
    await this.repo.deleteGateway(g.id);
  }
}
