/** NAT gateways (migration 015). */
import type { Db, Transaction } from '../sql.js';

export interface NatRow {
  id: string;
  account_id: string;
  vpc_id: string;
  subnet_id: string;
  connectivity_type: string;
  state: string;
  allocation_id: string | null;
  association_id: string | null;
  public_ip: string | null;
  network_interface_id: string | null;
  private_ip: string | null;
  failure_code: string | null;
  failure_message: string | null;
  client_token: string | null;
  created_at: Date;
  deleted_at: Date | null;
}

export type NewNat = Omit<NatRow, 'created_at' | 'deleted_at' | 'client_token'> & { client_token?: string | null };

const COLUMNS = `id, account_id, vpc_id, subnet_id, connectivity_type, state, allocation_id, association_id, host(public_ip) AS public_ip,
  network_interface_id, host(private_ip) AS private_ip, failure_code, failure_message, client_token, created_at, deleted_at`;

/** States in which a gateway holds its ENI and address and routes to it are active. */
export const LIVE_NAT_STATES = ['pending', 'available'];

export class NatGatewayRepository {
  constructor(private readonly db: Db) {}

  async insert(n: NewNat, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO nat_gateways (id, account_id, vpc_id, subnet_id, connectivity_type, state, allocation_id, association_id, public_ip,
         network_interface_id, private_ip, failure_code, failure_message, client_token, deleted_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::inet,$10,$11::inet,$12,$13,$14, CASE WHEN $6 = 'failed' THEN now() END)`,
      [n.id, n.account_id, n.vpc_id, n.subnet_id, n.connectivity_type, n.state, n.allocation_id, n.association_id, n.public_ip, n.network_interface_id, n.private_ip, n.failure_code, n.failure_message, n.client_token ?? null],
      t,
    );
  }

  get(accountId: string, id: string, t?: Transaction): Promise<NatRow | undefined> {
    return this.db.one<NatRow>(`SELECT ${COLUMNS} FROM nat_gateways WHERE account_id = $1 AND id = $2`, [accountId, id], t);
  }

  byClientToken(accountId: string, token: string): Promise<NatRow | undefined> {
    return this.db.one<NatRow>(`SELECT ${COLUMNS} FROM nat_gateways WHERE account_id = $1 AND client_token = $2`, [accountId, token]);
  }

  ofAccount(accountId: string, ids: string[]): Promise<NatRow[]> {
    return this.db.rows<NatRow>(`SELECT ${COLUMNS} FROM nat_gateways WHERE account_id = $1 AND id = ANY($2)`, [accountId, ids]);
  }

  /** Gateways that hold their ENI (pending, available, deleting): the data plane's and reconciliation's. */
  live(): Promise<NatRow[]> {
    return this.db.rows<NatRow>(`SELECT ${COLUMNS} FROM nat_gateways WHERE state IN ('pending', 'available', 'deleting') ORDER BY id`);
  }

  /**
   * The live gateways of these VPCs. A live one has no deleted_at (set when it becomes deleted or failed): said
   * here so that the partial index nat_gateways_vpc serves the query.
   */
  liveInVpcs(vpcIds: string[]): Promise<NatRow[]> {
    return this.db.rows<NatRow>(
      `SELECT ${COLUMNS} FROM nat_gateways WHERE vpc_id = ANY($1::text[]) AND deleted_at IS NULL AND state IN ('pending', 'available', 'deleting') ORDER BY id`,
      [vpcIds],
    );
  }

  /** Moves a gateway from one of `from` to `to`; false when another request moved it first. */
  async setState(id: string, from: string[], to: string, t?: Transaction): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE nat_gateways SET state = $3, deleted_at = CASE WHEN $3 IN ('deleted', 'failed') THEN now() ELSE deleted_at END
       WHERE id = $1 AND state = ANY($2)`,
      [id, from, to],
      t,
    );
    return n === 1;
  }

  /** Live public gateways in a VPC (DetachInternetGateway refuses while there are any). */
  async usingVpc(vpcId: string): Promise<number> {
    return (await this.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM nat_gateways WHERE vpc_id = $1 AND connectivity_type = 'public' AND state IN ('pending', 'available', 'deleting')`, [vpcId]))!.n;
  }

  /** The gateway's ENI is requester-managed: its type says so (DescribeNetworkInterfaces). */
  async markEni(eniId: string, t?: Transaction): Promise<void> {
    await this.db.exec(`UPDATE network_interfaces SET interface_type = 'nat_gateway' WHERE id = $1`, [eniId], t);
  }

  /** Associates the Elastic IP with the gateway's ENI unless it is associated already (false then). */
  async claimAddress(addressId: string, associationId: string, eniId: string, privateIp: string, t?: Transaction): Promise<boolean> {
    const n = await this.db.exec(
      'UPDATE addresses SET association_id = $2, network_interface_id = $3, private_ip = $4::inet WHERE id = $1 AND association_id IS NULL',
      [addressId, associationId, eniId, privateIp],
      t,
    );
    return n === 1;
  }

  async releaseAddress(associationId: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE addresses SET association_id = NULL, network_interface_id = NULL, private_ip = NULL WHERE association_id = $1', [associationId], t);
  }

  async deleteEni(eniId: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM ip_allocations WHERE owner_id = $1', [eniId], t);
    await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [eniId], t);
    await this.db.exec('DELETE FROM network_interfaces WHERE id = $1', [eniId], t);
  }

  /** Whether this ENI is a NAT gateway's. */
  async isNatEni(eniId: string): Promise<boolean> {
    return !!(await this.db.one(`SELECT 1 FROM network_interfaces WHERE id = $1 AND interface_type = 'nat_gateway'`, [eniId]));
  }
}
