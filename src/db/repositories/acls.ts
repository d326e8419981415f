/** Network ACLs, their entries and subnet associations (migration 012). */
import { newId } from '../../ids/index.js';
import type { Db, Transaction } from '../sql.js';

export interface AclRow {
  id: string;
  account_id: string;
  vpc_id: string;
  is_default: boolean;
}

export interface AclEntryRow {
  acl_id: string;
  egress: boolean;
  rule_number: number;
  /** AWS's number as text: '-1' (all), '6', '17', '1', ... */
  protocol: string;
  rule_action: 'allow' | 'deny';
  cidr_block: string;
  from_port: number | null;
  to_port: number | null;
  icmp_type: number | null;
  icmp_code: number | null;
}

/** One subnet's association as AWS shows it: the explicit row, or the VPC's default ACL with a derived id. */
export interface AclAssociationRow {
  subnet_id: string;
  account_id: string;
  vpc_id: string;
  assoc_id: string;
  acl_id: string | null;
}

/** Every subnet with the ACL it is associated with (SQL, reused by DescribeNetworkAcls' filters). */
export const EFFECTIVE_ASSOCIATIONS = `(SELECT s.id AS subnet_id, s.account_id, s.vpc_id,
    COALESCE(a.id, 'aclassoc-' || substr(md5(s.id), 1, 17)) AS assoc_id, COALESCE(a.acl_id, d.id) AS acl_id
  FROM subnets s
  LEFT JOIN network_acl_associations a ON a.subnet_id = s.id
  LEFT JOIN network_acls d ON d.vpc_id = s.vpc_id AND d.is_default)`;

const ENTRY_COLUMNS = `acl_id, egress, rule_number, protocol, rule_action, cidr_block::text AS cidr_block, from_port, to_port, icmp_type, icmp_code`;

export class AclRepository {
  constructor(private readonly db: Db) {}

  /** The VPC's default ACL as AWS makes it: rule 100 allows all traffic in and out. */
  async insertDefault(accountId: string, vpcId: string, t?: Transaction): Promise<string> {
    const id = newId('networkAcl');
    await this.insert({ id, account_id: accountId, vpc_id: vpcId, is_default: true }, t);
    for (const egress of [false, true]) {
      await this.insertEntry({ acl_id: id, egress, rule_number: 100, protocol: '-1', rule_action: 'allow', cidr_block: '0.0.0.0/0', from_port: null, to_port: null, icmp_type: null, icmp_code: null }, t);
    }
    return id;
  }

  async insert(a: AclRow, t?: Transaction): Promise<void> {
    await this.db.exec('INSERT INTO network_acls (id, account_id, vpc_id, is_default) VALUES ($1,$2,$3,$4)', [a.id, a.account_id, a.vpc_id, a.is_default], t);
  }

  acl(accountId: string, id: string): Promise<AclRow | undefined> {
    return this.db.one<AclRow>('SELECT id, account_id, vpc_id, is_default FROM network_acls WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  all(): Promise<AclRow[]> {
    return this.db.rows<AclRow>('SELECT id, account_id, vpc_id, is_default FROM network_acls ORDER BY id');
  }

  /** The ACLs of these VPCs, their entries and their subnets' associations (one VPC's part of the data plane). */
  ofVpcs(vpcIds: string[]): Promise<AclRow[]> {
    return this.db.rows<AclRow>('SELECT id, account_id, vpc_id, is_default FROM network_acls WHERE vpc_id = ANY($1::text[]) ORDER BY id', [vpcIds]);
  }

  entriesOfVpcs(vpcIds: string[]): Promise<AclEntryRow[]> {
    return this.db.rows<AclEntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM network_acl_entries WHERE acl_id IN (SELECT id FROM network_acls WHERE vpc_id = ANY($1::text[]))
       ORDER BY acl_id, egress, rule_number`,
      [vpcIds],
    );
  }

  associationsOfVpcs(vpcIds: string[]): Promise<AclAssociationRow[]> {
    return this.db.rows<AclAssociationRow>(`SELECT * FROM ${EFFECTIVE_ASSOCIATIONS} x WHERE x.vpc_id = ANY($1::text[]) ORDER BY subnet_id`, [vpcIds]);
  }

  allEntries(): Promise<AclEntryRow[]> {
    return this.db.rows<AclEntryRow>(`SELECT ${ENTRY_COLUMNS} FROM network_acl_entries ORDER BY acl_id, egress, rule_number`);
  }

  entries(aclId: string): Promise<AclEntryRow[]> {
    return this.db.rows<AclEntryRow>(`SELECT ${ENTRY_COLUMNS} FROM network_acl_entries WHERE acl_id = $1 ORDER BY egress, rule_number`, [aclId]);
  }

  async insertEntry(e: AclEntryRow, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO network_acl_entries (acl_id, egress, rule_number, protocol, rule_action, cidr_block, from_port, to_port, icmp_type, icmp_code)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
      [e.acl_id, e.egress, e.rule_number, e.protocol, e.rule_action, e.cidr_block, e.from_port, e.to_port, e.icmp_type, e.icmp_code],
      t,
    );
  }

  async replaceEntry(e: AclEntryRow): Promise<void> {
    await this.db.tx(async (t) => {
      await this.deleteEntry(e.acl_id, e.egress, e.rule_number, t);
      await this.insertEntry(e, t);
    });
  }

  async deleteEntry(aclId: string, egress: boolean, ruleNumber: number, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM network_acl_entries WHERE acl_id = $1 AND egress = $2 AND rule_number = $3', [aclId, egress, ruleNumber], t);
  }

  async delete(id: string): Promise<void> {
    await this.db.tx(async (t) => {
      await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [id], t);
      await this.db.exec('DELETE FROM network_acls WHERE id = $1', [id], t);
    });
  }

  /** Every subnet's association (optionally of one account). */
  associations(accountId?: string): Promise<AclAssociationRow[]> {
    return accountId
      ? this.db.rows<AclAssociationRow>(`SELECT * FROM ${EFFECTIVE_ASSOCIATIONS} x WHERE x.account_id = $1 ORDER BY subnet_id`, [accountId])
      : this.db.rows<AclAssociationRow>(`SELECT * FROM ${EFFECTIVE_ASSOCIATIONS} x ORDER BY subnet_id`);
  }

  /** Points the subnet at `aclId` under a new association id. */
  async associate(subnetId: string, aclId: string): Promise<string> {
    const id = newId('networkAclAssociation');
    await this.db.exec(
      `INSERT INTO network_acl_associations (id, subnet_id, acl_id) VALUES ($1,$2,$3)
       ON CONFLICT (subnet_id) DO UPDATE SET id = EXCLUDED.id, acl_id = EXCLUDED.acl_id`,
      [id, subnetId, aclId],
    );
    return id;
  }

  /** ACLs of the VPC other than its default one (DeleteVpc's DependencyViolation). */
  async nonDefaultCount(vpcId: string): Promise<number> {
    return (await this.db.one<{ n: number }>('SELECT count(*)::int AS n FROM network_acls WHERE vpc_id = $1 AND NOT is_default', [vpcId]))!.n;
  }
}
