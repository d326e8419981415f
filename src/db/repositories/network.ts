import type { Db, Transaction } from '../sql.js';

export interface VpcRow {
  id: string;
  account_id: string;
  cidr_block: string;
  is_default: boolean;
  state: string;
  instance_tenancy: string;
}
export interface SubnetRow {
  id: string;
  account_id: string;
  vpc_id: string;
  cidr_block: string;
  availability_zone: string;
  default_for_az: boolean;
  map_public_ip_on_launch: boolean;
  state: string;
  /** Addresses handed out in this subnet (computed by the query) */
  used: number;
}
export interface SecurityGroupRow {
  id: string;
  account_id: string;
  vpc_id: string;
  group_name: string;
  description: string;
}
export interface SecurityGroupRuleRow {
  id: string;
  group_id: string;
  account_id: string;
  is_egress: boolean;
  ip_protocol: string;
  from_port: number | null;
  to_port: number | null;
  cidr_ipv4: string | null;
  referenced_group_id: string | null;
  description: string | null;
}

export class NetworkRepository {
  constructor(private readonly db: Db) {}

  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.tx(fn);
  }

  /** Serialises work on one account (e.g. creating its default VPC) across concurrent requests and servers. */
  async lockAccount(accountId: string, t: Transaction): Promise<void> {
    await this.db.exec('SELECT pg_advisory_xact_lock(hashtext($1))', ['account:' + accountId], t);
  }

  defaultVpc(accountId: string, t?: Transaction): Promise<VpcRow | undefined> {
    return this.db.one<VpcRow>('SELECT * FROM vpcs WHERE account_id = $1 AND is_default', [accountId], t);
  }

  async insertVpc(v: Omit<VpcRow, 'state'> & { state: string }, t?: Transaction): Promise<void> {
    await this.db.exec(
      'INSERT INTO vpcs (id, account_id, cidr_block, is_default, state, instance_tenancy) VALUES ($1,$2,$3,$4,$5,$6)',
      [v.id, v.account_id, v.cidr_block, v.is_default, v.state, v.instance_tenancy],
      t,
    );
  }

  async insertSubnet(s: Omit<SubnetRow, 'used'>, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO subnets (id, account_id, vpc_id, cidr_block, availability_zone, default_for_az, map_public_ip_on_launch, state)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
      [s.id, s.account_id, s.vpc_id, s.cidr_block, s.availability_zone, s.default_for_az, s.map_public_ip_on_launch, s.state],
      t,
    );
  }

  async insertSecurityGroup(g: SecurityGroupRow, t?: Transaction): Promise<void> {
    await this.db.exec(
      'INSERT INTO security_groups (id, account_id, vpc_id, group_name, description) VALUES ($1,$2,$3,$4,$5)',
      [g.id, g.account_id, g.vpc_id, g.group_name, g.description],
      t,
    );
  }

  async insertRule(r: SecurityGroupRuleRow, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO security_group_rules (id, group_id, account_id, is_egress, ip_protocol, from_port, to_port, cidr_ipv4, referenced_group_id, description)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
      [r.id, r.group_id, r.account_id, r.is_egress, r.ip_protocol, r.from_port, r.to_port, r.cidr_ipv4, r.referenced_group_id, r.description],
      t,
    );
  }

  vpcs(accountId: string): Promise<VpcRow[]> {
    return this.db.rows<VpcRow>('SELECT * FROM vpcs WHERE account_id = $1', [accountId]);
  }

  subnets(accountId: string): Promise<SubnetRow[]> {
    return this.db.rows<SubnetRow>(
      `SELECT s.*, (SELECT count(*) FROM ip_allocations a WHERE a.subnet_id = s.id)::int AS used
       FROM subnets s WHERE s.account_id = $1`,
      [accountId],
    );
  }

  subnet(accountId: string, id: string): Promise<SubnetRow | undefined> {
    return this.db.one<SubnetRow>('SELECT *, 0 AS used FROM subnets WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  securityGroups(accountId: string): Promise<SecurityGroupRow[]> {
    return this.db.rows<SecurityGroupRow>('SELECT * FROM security_groups WHERE account_id = $1', [accountId]);
  }

  rules(accountId: string): Promise<SecurityGroupRuleRow[]> {
    return this.db.rows<SecurityGroupRuleRow>('SELECT * FROM security_group_rules WHERE account_id = $1 ORDER BY id', [accountId]);
  }

  /**
   * Takes the lowest free address of the subnet (AWS keeps the first four and the last one), or the one
   * asked for. The primary key (subnet_id, ip) makes a double allocation impossible: when two launches race
   * for one address, the loser's insert does nothing and it tries again.
   */
  async allocateIp(subnetId: string, ownerId: string, wanted?: string, t?: Transaction): Promise<string | undefined> {
    // Inside a caller's transaction (RunInstances records its instances with their addresses), launches into one
    // subnet take turns until commit: otherwise each would wait on the others' uncommitted addresses and retry.
    if (t) await this.db.exec(`SELECT pg_advisory_xact_lock(hashtext('ip_allocations:' || $1))`, [subnetId], t);
    if (wanted) {
      const r = await this.db.rows<{ ip: string }>(
        `INSERT INTO ip_allocations (subnet_id, ip, owner_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING host(ip) AS ip`,
        [subnetId, wanted, ownerId],
        t,
      );
      return r[0]?.ip;
    }
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await this.db.rows<{ ip: string }>(
        `WITH s AS (SELECT cidr_block AS c FROM subnets WHERE id = $1),
              candidates AS (
                SELECT set_masklen(network(s.c)::inet + g, 32) AS ip
                FROM s, generate_series(4::bigint, (2::bigint ^ (32 - masklen(s.c)))::bigint - 2) AS g
              )
         INSERT INTO ip_allocations (subnet_id, ip, owner_id)
         SELECT $1, c.ip, $2 FROM candidates c
         WHERE NOT EXISTS (SELECT 1 FROM ip_allocations a WHERE a.subnet_id = $1 AND a.ip = c.ip)
         ORDER BY c.ip LIMIT 1
         ON CONFLICT DO NOTHING
         RETURNING host(ip) AS ip`,
        [subnetId, ownerId],
        t,
      );
      if (r[0]) return r[0].ip;
      const free = await this.db.one<{ n: number }>(
        `SELECT ((2::bigint ^ (32 - masklen(cidr_block)))::bigint - 5 - (SELECT count(*) FROM ip_allocations WHERE subnet_id = $1))::int AS n
         FROM subnets WHERE id = $1`,
        [subnetId],
        t,
      );
      if (!free || free.n <= 0) return undefined;
    }
    return undefined;
  }

  async releaseIps(ownerId: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM ip_allocations WHERE owner_id = $1', [ownerId], t);
  }

  ipsOf(ownerId: string): Promise<{ subnet_id: string; ip: string }[]> {
    return this.db.rows('SELECT subnet_id, host(ip) AS ip FROM ip_allocations WHERE owner_id = $1', [ownerId]);
  }
}
