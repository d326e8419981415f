/** A VPC's IPv4 CIDR block associations (migration 018), the primary one included. */
import type { Db, Transaction } from '../sql.js';

export interface VpcCidrRow {
  association_id: string;
  vpc_id: string;
  cidr_block: string;
  is_primary: boolean;
  /** associating | associated | disassociating | disassociated */
  state: string;
}

/** The states in which a block belongs to its VPC's network (the data plane routes it, subnets may use it). */
export const LIVE_CIDR_STATES = ['associating', 'associated'];

/** How long a disassociated block stays visible in DescribeVpcs (AWS: an hour or more). */
const DISASSOCIATED_RETENTION = '1 hour';

/** The VPC's live blocks as a text[] column, the primary first (for `SELECT v.*, ${VPC_CIDRS} ... FROM vpcs v`). */
export const VPC_CIDRS = `ARRAY(SELECT c.cidr_block::text FROM vpc_cidr_blocks c WHERE c.vpc_id = v.id AND c.state IN ('associating', 'associated')
  ORDER BY c.is_primary DESC, c.created_at, c.association_id) AS cidr_blocks`;

const COLUMNS = 'association_id, vpc_id, cidr_block::text AS cidr_block, is_primary, state';

/** The primary association's id: the one this cloud showed before associations were records (stable). */
export function primaryAssociationId(vpcId: string): string {
  return vpcId.replace(/^vpc-/, 'vpc-cidr-assoc-');
}

export class VpcCidrRepository {
  constructor(private readonly db: Db) {}

  /** Records the VPC's primary block (inside the transaction that makes the VPC). */
  async insertPrimary(vpcId: string, cidr: string, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO vpc_cidr_blocks (association_id, vpc_id, cidr_block, is_primary, state) VALUES ($1, $2, $3, true, 'associated')`,
      [primaryAssociationId(vpcId), vpcId, cidr],
      t,
    );
  }

  async insert(r: Omit<VpcCidrRow, 'is_primary'>, t?: Transaction): Promise<void> {
    await this.db.exec(
      'INSERT INTO vpc_cidr_blocks (association_id, vpc_id, cidr_block, is_primary, state) VALUES ($1, $2, $3, false, $4)',
      [r.association_id, r.vpc_id, r.cidr_block, r.state],
      t,
    );
  }

  /** Every association of the VPC still visible (disassociated ones for their retention), oldest first. */
  ofVpc(vpcId: string, t?: Transaction): Promise<VpcCidrRow[]> {
    return this.db.rows<VpcCidrRow>(
      `SELECT ${COLUMNS} FROM vpc_cidr_blocks WHERE vpc_id = $1 ORDER BY is_primary DESC, created_at, association_id`,
      [vpcId],
      t,
    );
  }

  /** The association with this id on one of the account's VPCs. */
  byId(accountId: string, id: string, t?: Transaction): Promise<VpcCidrRow | undefined> {
    return this.db.one<VpcCidrRow>(
      `SELECT ${COLUMNS} FROM vpc_cidr_blocks c WHERE association_id = $2 AND EXISTS (SELECT 1 FROM vpcs v WHERE v.id = c.vpc_id AND v.account_id = $1)`,
      [accountId, id],
      t,
    );
  }

  async setState(id: string, state: string, t?: Transaction): Promise<void> {
    await this.db.exec('UPDATE vpc_cidr_blocks SET state = $2, updated_at = clock_timestamp() WHERE association_id = $1', [id, state], t);
  }

  /** Forgets blocks disassociated longer ago than the retention (every VPC's; the reconciliation pass calls it). */
  async purgeDisassociated(): Promise<number> {
    return this.db.exec(
      `DELETE FROM vpc_cidr_blocks WHERE state = 'disassociated' AND updated_at < clock_timestamp() - interval '${DISASSOCIATED_RETENTION}'`,
    );
  }

  /**
   * Ends the transitions a crash or a backend failure left (associating -> associated, disassociating ->
   * disassociated): called once a full sync has realised the live blocks.
   */
  async settle(): Promise<void> {
    await this.db.exec(
      `UPDATE vpc_cidr_blocks SET state = CASE state WHEN 'associating' THEN 'associated' ELSE 'disassociated' END, updated_at = clock_timestamp()
       WHERE state IN ('associating', 'disassociating')`,
    );
  }

  /** Serialises association changes of one VPC (until the transaction ends). */
  async lockVpc(vpcId: string, t: Transaction): Promise<void> {
    await this.db.exec('SELECT 1 FROM vpcs WHERE id = $1 FOR UPDATE', [vpcId], t);
  }
}
