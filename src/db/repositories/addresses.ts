/** Elastic IPs (migration 011): addresses of the operator's pool, each allocated to an account. */
import type { Db, Transaction } from '../sql.js';

export interface AddressRow {
  id: string;
  account_id: string;
  public_ip: string;
  association_id: string | null;
  network_interface_id: string | null;
  private_ip: string | null;
  /** A public IPv4 address on launch (MapPublicIpOnLaunch), not an Elastic IP. */
  auto: boolean;
}

const COLUMNS = 'id, account_id, host(public_ip) AS public_ip, association_id, network_interface_id, host(private_ip) AS private_ip, auto';

export class AddressRepository {
  constructor(private readonly db: Db) {}

  /**
   * The lowest free address of `pool` (network and broadcast addresses excluded), or undefined when none is left.
   * Here and in allocateAuto the series is in a select list: evaluated row by row (ProjectSet), so LIMIT 1 stops
   * it at the first free address; in FROM, PostgreSQL makes every row of it first (a /15 pool: 131,070 rows,
   * ~21 ms a call, measured with EXPLAIN ANALYZE).
   */
  async allocate(id: string, accountId: string, pool: string): Promise<string | undefined> {
    const size = 2 ** (32 - Number(pool.split('/')[1])) - 2;
    const row = await this.db.one<{ ip: string }>(
      `INSERT INTO addresses (id, account_id, public_ip)
       SELECT $1, $2, x.a FROM (SELECT host(network($3::cidr))::inet + g AS a FROM (SELECT generate_series(1, $4::int) AS g) g) x
       WHERE NOT EXISTS (SELECT 1 FROM addresses d WHERE d.public_ip = x.a) LIMIT 1
       ON CONFLICT DO NOTHING RETURNING host(public_ip) AS ip`,
      [id, accountId, pool, size],
    );
    return row?.ip;
  }

  byId(id: string): Promise<AddressRow | undefined> {
    return this.db.one<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE id = $1`, [id]);
  }

  byIp(ip: string): Promise<AddressRow | undefined> {
    return this.db.one<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE public_ip = $1::inet`, [ip]);
  }

  byAssociation(id: string): Promise<AddressRow | undefined> {
    return this.db.one<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE association_id = $1`, [id]);
  }

  ofAccount(accountId: string, ids: string[]): Promise<AddressRow[]> {
    return this.db.rows<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE account_id = $1 AND id = ANY($2) AND NOT auto`, [accountId, ids]);
  }

  /** The address on this ENI's private address, if any. */
  onPrivate(eniId: string, privateIp: string): Promise<AddressRow | undefined> {
    return this.db.one<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE network_interface_id = $1 AND private_ip = $2::inet`, [eniId, privateIp]);
  }

  /** The addresses on any private address of these ENIs (one query, whatever their number). */
  onEnis(eniIds: string[]): Promise<AddressRow[]> {
    return this.db.rows<AddressRow>(`SELECT ${COLUMNS} FROM addresses WHERE network_interface_id = ANY($1)`, [eniIds]);
  }

  async associate(id: string, associationId: string, eniId: string, privateIp: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE addresses SET association_id = $2, network_interface_id = $3, private_ip = $4::inet WHERE id = $1', [id, associationId, eniId, privateIp], t);
  }

  async disassociate(id: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE addresses SET association_id = NULL, network_interface_id = NULL, private_ip = NULL WHERE id = $1', [id], t);
  }

  async release(id: string): Promise<void> {
    await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [id]);
    await this.db.exec('DELETE FROM addresses WHERE id = $1', [id]);
  }

  /** Every address associated with an instance's or user's ENI, with its VPC (the routers' 1:1 DNAT/SNAT; a NAT gateway's is not mapped in). */
  associated(): Promise<{ vpc_id: string; public_ip: string; private_ip: string }[]> {
    return this.db.rows(
      `SELECT n.vpc_id, host(a.public_ip) AS public_ip, host(a.private_ip) AS private_ip FROM addresses a
       JOIN network_interfaces n ON n.id = a.network_interface_id WHERE a.association_id IS NOT NULL AND n.interface_type <> 'nat_gateway' ORDER BY a.public_ip`,
    );
  }

  /** The same, of these VPCs' ENIs only. */
  associatedInVpcs(vpcIds: string[]): Promise<{ vpc_id: string; public_ip: string; private_ip: string }[]> {
    return this.db.rows(
      `SELECT n.vpc_id, host(a.public_ip) AS public_ip, host(a.private_ip) AS private_ip FROM addresses a
       JOIN network_interfaces n ON n.id = a.network_interface_id
       WHERE n.vpc_id = ANY($1::text[]) AND a.association_id IS NOT NULL AND n.interface_type <> 'nat_gateway' ORDER BY a.public_ip`,
      [vpcIds],
    );
  }

  // ---- public IPv4 addresses on launch (rows marked `auto`)

  /** The ENI asks for a public address while its instance runs (RunInstances, inside its transaction). */
  async wantPublicIp(eniId: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE network_interfaces SET public_ip_on_launch = true WHERE id = $1', [eniId], t);
  }

  /** Whether the ENI asks for a public address, and whether its instance runs. */
  async publicIpWish(eniId: string): Promise<{ wants: boolean; running: boolean }> {
    const r = await this.db.one<{ wants: boolean; running: boolean }>(
      `SELECT n.public_ip_on_launch AS wants, COALESCE((SELECT i.state = 'running' FROM instances i WHERE i.id = n.instance_id), false) AS running
       FROM network_interfaces n WHERE n.id = $1`,
      [eniId],
    );
    return r ?? { wants: false, running: false };
  }

  /**
   * The first free address of `pool` after its `after`-th address (wrapping round; 0: from the start), as the ENI's
   * public address on launch (undefined when none is left).
   */
  async allocateAuto(id: string, accountId: string, pool: string, associationId: string, eniId: string, privateIp: string, after = 0): Promise<string | undefined> {
    const size = 2 ** (32 - Number(pool.split('/')[1])) - 2;
    const row = await this.db.one<{ ip: string }>(
      `INSERT INTO addresses (id, account_id, public_ip, association_id, network_interface_id, private_ip, auto)
       SELECT $1, $2, x.a, $5, $6, $7::inet, true FROM (SELECT host(network($3::cidr))::inet + (((g - 1 + $8::int) % $4::int) + 1) AS a FROM (SELECT generate_series(1, $4::int) AS g) g) x
       WHERE NOT EXISTS (SELECT 1 FROM addresses d WHERE d.public_ip = x.a)
         AND NOT EXISTS (SELECT 1 FROM addresses d WHERE d.network_interface_id = $6 AND d.private_ip = $7::inet) LIMIT 1
       ON CONFLICT DO NOTHING RETURNING host(public_ip) AS ip`,
      [id, accountId, pool, size, associationId, eniId, privateIp, after],
    );
    return row?.ip;
  }

  /** The place in `pool` of its highest public address on launch held now (0: none). */
  async lastAuto(pool: string): Promise<number> {
    const row = await this.db.one<{ i: string | null }>(`SELECT max(public_ip - host(network($1::cidr))::inet) AS i FROM addresses WHERE auto AND public_ip << $1::cidr`, [pool]);
    return Number(row?.i ?? 0);
  }

  /** Releases the ENI's public addresses on launch; answers how many there were. */
  async releaseAuto(eniId: string, t?: Transaction): Promise<number> {
    return this.db.exec('DELETE FROM addresses WHERE network_interface_id = $1 AND auto', [eniId], t);
  }

  /** An Elastic IP's reverse DNS name (null: the default). */
  async setPtrRecord(id: string, value: string | null): Promise<void> {
    await this.db.exec('UPDATE addresses SET ptr_record = $2 WHERE id = $1', [id, value]);
  }
}
