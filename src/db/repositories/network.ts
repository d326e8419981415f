import type { Db, Transaction } from '../sql.js';
import { EniRepository } from './enis.js';
import { VpcAdminRepository } from './vpc-admin.js';
import { AclRepository } from './acls.js';
import { DhcpRepository } from './dhcp.js';
import { RouteRepository } from './routes.js';
import { AddressRepository } from './addresses.js';
import { NatGatewayRepository } from './nat-gateways.js';
import { VPC_CIDRS, VpcCidrRepository } from './vpc-cidrs.js';

export interface VpcRow {
  id: string;
  account_id: string;
  cidr_block: string;
  is_default: boolean;
  state: string;
  instance_tenancy: string;
  /** VXLAN network identifier, unique per installation (assigned by the database). */
  vni: number;
  enable_dns_support: boolean;
  enable_dns_hostnames: boolean;
  /** NULL: the account's default DHCP options set; 'default': none; else a dopt- id (migration 012). */
  dhcp_options_id?: string | null;
  /** Its live IPv4 blocks, the primary first (read with the row; absent where a query does not select it). */
  cidr_blocks?: string[];
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

const RULE_COLUMNS = 'id, group_id, account_id, is_egress, ip_protocol, from_port, to_port, cidr_ipv4::text AS cidr_ipv4, referenced_group_id, description';

export class NetworkRepository {
  readonly enis: EniRepository;
  readonly admin: VpcAdminRepository;
  readonly acls: AclRepository;
  readonly dhcp: DhcpRepository;
  readonly routes: RouteRepository;
  readonly addresses: AddressRepository;
  readonly nats: NatGatewayRepository;
  readonly cidrs: VpcCidrRepository;

  constructor(private readonly db: Db) {
    this.enis = new EniRepository(db);
    this.acls = new AclRepository(db);
    this.dhcp = new DhcpRepository(db);
    this.admin = new VpcAdminRepository(db);
    this.routes = new RouteRepository(db);
    this.addresses = new AddressRepository(db);
    this.nats = new NatGatewayRepository(db);
    this.cidrs = new VpcCidrRepository(db);
  }

  /** Every VPC, subnet, group and rule of the installation (the data plane's desired state). */
  allVpcs(): Promise<VpcRow[]> {
    return this.db.rows<VpcRow>(`SELECT v.*, ${VPC_CIDRS} FROM vpcs v ORDER BY id`);
  }

  allSubnets(): Promise<SubnetRow[]> {
    return this.db.rows<SubnetRow>('SELECT *, 0 AS used FROM subnets ORDER BY id');
  }

  allSecurityGroups(): Promise<SecurityGroupRow[]> {
    return this.db.rows<SecurityGroupRow>('SELECT * FROM security_groups ORDER BY id');
  }

  allRules(): Promise<SecurityGroupRuleRow[]> {
    return this.db.rows<SecurityGroupRuleRow>(`SELECT ${RULE_COLUMNS} FROM security_group_rules ORDER BY id`);
  }

  /**
   * The subnets, groups and rules of these VPCs only: a change in a VPC gives the data plane that VPC's part, read
   * by VPC in SQL (indexes on vpc_id, migration 021) so that its cost does not grow with the installation.
   */
  subnetsOfVpcs(vpcIds: string[]): Promise<SubnetRow[]> {
    return this.db.rows<SubnetRow>('SELECT *, 0 AS used FROM subnets WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  securityGroupsOfVpcs(vpcIds: string[]): Promise<SecurityGroupRow[]> {
    return this.db.rows<SecurityGroupRow>('SELECT * FROM security_groups WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  rulesOfVpcs(vpcIds: string[]): Promise<SecurityGroupRuleRow[]> {
    return this.db.rows<SecurityGroupRuleRow>(
      `SELECT ${RULE_COLUMNS} FROM security_group_rules WHERE group_id IN (SELECT id FROM security_groups WHERE vpc_id = ANY($1::text[])) ORDER BY id`,
      [vpcIds],
    );
  }

  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.tx(fn);
  }

  /** Serialises work on one account (e.g. creating its default VPC) across concurrent requests and servers. */
  async lockAccount(accountId: string, t: Transaction): Promise<void> {
    await this.db.exec('SELECT pg_advisory_xact_lock(hashtext($1))', ['account:' + accountId], t);
  }

  defaultVpc(accountId: string, t?: Transaction): Promise<VpcRow | undefined> {
    return this.db.one<VpcRow>(`SELECT v.*, ${VPC_CIDRS} FROM vpcs v WHERE account_id = $1 AND is_default`, [accountId], t);
  }

  async insertVpc(v: Omit<VpcRow, 'vni' | 'enable_dns_support' | 'enable_dns_hostnames'> & { enable_dns_hostnames?: boolean }, t?: Transaction): Promise<void> {
    await this.db.exec(
      'INSERT INTO vpcs (id, account_id, cidr_block, is_default, state, instance_tenancy, enable_dns_hostnames) VALUES ($1,$2,$3,$4,$5,$6,$7)',
      [v.id, v.account_id, v.cidr_block, v.is_default, v.state, v.instance_tenancy, v.enable_dns_hostnames ?? v.is_default],
      t,
    );
    await this.cidrs.insertPrimary(v.id, v.cidr_block, t);
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
    return this.db.rows<VpcRow>(`SELECT v.*, ${VPC_CIDRS} FROM vpcs v WHERE account_id = $1`, [accountId]);
  }

  subnets(accountId: string): Promise<SubnetRow[]> {
    return this.db.rows<SubnetRow>(
      `SELECT s.*, (SELECT count(*) FROM ip_allocations a WHERE a.subnet_id = s.id)::int AS used
       FROM subnets s WHERE s.account_id = $1`,
      [accountId],
    );
  }

  /** The subnets' blocks of one VPC (in a transaction holding the VPC's lock: what a concurrent change must see). */
  async subnetCidrsOfVpc(vpcId: string, t?: Transaction): Promise<string[]> {
    return (await this.db.rows<{ cidr_block: string }>('SELECT cidr_block FROM subnets WHERE vpc_id = $1', [vpcId], t)).map((r) => r.cidr_block);
  }

  subnet(accountId: string, id: string): Promise<SubnetRow | undefined> {
    return this.db.one<SubnetRow>('SELECT *, 0 AS used FROM subnets WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  /** The account's subnets among `ids` (one query). */
  subnetsByIds(accountId: string, ids: string[]): Promise<SubnetRow[]> {
    return this.db.rows<SubnetRow>('SELECT *, 0 AS used FROM subnets WHERE account_id = $1 AND id = ANY($2)', [accountId, ids]);
  }

  securityGroup(accountId: string, id: string): Promise<SecurityGroupRow | undefined> {
    return this.db.one<SecurityGroupRow>('SELECT * FROM security_groups WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  /** The account's groups of one VPC (a rule's peers, an interface's groups): read by VPC, not the account's all. */
  securityGroupsIn(accountId: string, vpcId: string): Promise<SecurityGroupRow[]> {
    return this.db.rows<SecurityGroupRow>('SELECT * FROM security_groups WHERE vpc_id = $1 AND account_id = $2 ORDER BY id', [vpcId, accountId]);
  }

  securityGroups(accountId: string): Promise<SecurityGroupRow[]> {
    return this.db.rows<SecurityGroupRow>('SELECT * FROM security_groups WHERE account_id = $1', [accountId]);
  }

  rules(accountId: string): Promise<SecurityGroupRuleRow[]> {
    return this.db.rows<SecurityGroupRuleRow>('SELECT * FROM security_group_rules WHERE account_id = $1 ORDER BY id', [accountId]);
  }

  /**
   * Takes the lowest free address of the subnet (AWS keeps the first four and the last one), or the one
   * asked for. Allocations in one subnet take turns (an advisory lock held until the transaction ends), so the
   * lowest free address read is still free when inserted: correct under any concurrency, no retry. Inside a
   * caller's transaction (RunInstances records its instances with their addresses) the turn lasts until commit.
   * Returns undefined when the address asked for is taken, or when the subnet is full. `primary` false: a
   * secondary address of its owner (AssignPrivateIpAddresses).
   */
  async allocateIp(subnetId: string, ownerId: string, wanted?: string, t?: Transaction, primary = true): Promise<string | undefined> {
    const go = async (tx: Transaction): Promise<string | undefined> => {
      await this.db.exec(`SELECT pg_advisory_xact_lock(hashtext('ip_allocations:' || $1))`, [subnetId], tx);
      if (wanted) {
        const r = await this.db.rows<{ ip: string }>(
          `INSERT INTO ip_allocations (subnet_id, ip, owner_id, is_primary) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING RETURNING host(ip) AS ip`,
          [subnetId, wanted, ownerId, primary],
          tx,
        );
        return r[0]?.ip;
      }
      const r = await this.db.rows<{ ip: string }>(
        // The lowest free address is the first usable one (the subnet's fifth) or one just after a taken one: a
        // candidate per allocation, not one per address of the subnet (a /16 has 65,531 of them).
        `WITH s AS (SELECT set_masklen(network(cidr_block)::inet + 4, 32) AS first, set_masklen(broadcast(cidr_block) - 1, 32) AS last
                    FROM subnets WHERE id = $1),
              candidates AS (
                SELECT s.first AS ip FROM s
                UNION ALL
                SELECT set_masklen(a.ip + 1, 32) FROM ip_allocations a, s WHERE a.subnet_id = $1 AND a.ip >= s.first AND a.ip < s.last
              )
         INSERT INTO ip_allocations (subnet_id, ip, owner_id, is_primary)
         SELECT $1, c.ip, $2, $3 FROM candidates c
         WHERE NOT EXISTS (SELECT 1 FROM ip_allocations a WHERE a.subnet_id = $1 AND a.ip = c.ip)
         ORDER BY c.ip LIMIT 1
         RETURNING host(ip) AS ip`,
        [subnetId, ownerId, primary],
        tx,
      );
      return r[0]?.ip;
    };
    return t ? go(t) : this.db.tx(go);
  }

  /**
   * Moves a secondary address of the subnet to `ownerId` (AssignPrivateIpAddresses with AllowReassignment): who
   * held it before, or undefined when nobody held it as a secondary address (then nothing changed).
   */
  async reassignIp(subnetId: string, ip: string, ownerId: string, t: Transaction): Promise<string | undefined> {
    await this.db.exec(`SELECT pg_advisory_xact_lock(hashtext('ip_allocations:' || $1))`, [subnetId], t);
    const [before] = await this.db.rows<{ owner_id: string }>(
      'SELECT owner_id FROM ip_allocations WHERE subnet_id = $1 AND ip = $2 AND NOT is_primary FOR UPDATE',
      [subnetId, ip],
      t,
    );
    if (!before) return undefined;
    await this.db.exec('UPDATE ip_allocations SET owner_id = $3, allocated_at = now() WHERE subnet_id = $1 AND ip = $2', [subnetId, ip, ownerId], t);
    // An Elastic IP on the address moves with it (AWS: "any Elastic IP address that is associated with the IP
    // address is also moved").
    await this.db.exec('UPDATE addresses SET network_interface_id = $3 WHERE network_interface_id = $1 AND private_ip = $2::inet', [before.owner_id, ip, ownerId], t);
    return before.owner_id;
  }

  /**
   * Releases these secondary addresses of `ownerId` (UnassignPrivateIpAddresses), never its primary one, and
   * disassociates the Elastic IPs on them (still allocated). Answers how many it disassociated.
   */
  async releaseSecondaryIps(ownerId: string, ips: string[]): Promise<number> {
    return this.db.exec(
      `WITH gone AS (DELETE FROM ip_allocations WHERE owner_id = $1 AND NOT is_primary AND host(ip) = ANY($2::text[]) RETURNING ip)
       UPDATE addresses SET association_id = NULL, network_interface_id = NULL, private_ip = NULL
       WHERE network_interface_id = $1 AND private_ip IN (SELECT ip FROM gone)`,
      [ownerId, ips],
    );
  }

  async releaseIps(ownerId: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM ip_allocations WHERE owner_id = $1', [ownerId], t);
  }

  ipsOf(ownerId: string): Promise<{ subnet_id: string; ip: string }[]> {
    return this.db.rows('SELECT subnet_id, host(ip) AS ip FROM ip_allocations WHERE owner_id = $1', [ownerId]);
  }
}
