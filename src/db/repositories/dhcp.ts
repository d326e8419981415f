/** DHCP options sets and the VPCs that use them (migration 012). */
import { createHash } from 'node:crypto';
import type { Db } from '../sql.js';

export interface DhcpConfigurationRow {
  key: string;
  values: string[];
}

export interface DhcpOptionsRow {
  id: string;
  account_id: string;
  is_default: boolean;
  configurations: DhcpConfigurationRow[];
}

/** The id of an account's default set: derived, so a VPC can name it before its row exists. */
export function defaultDhcpOptionsId(accountId: string): string {
  return 'dopt-' + createHash('md5').update('dopt:' + accountId).digest('hex').slice(0, 17);
}

/** A VPC's effective DHCP options id in SQL over alias `r` (the same derivation as defaultDhcpOptionsId). */
export const VPC_DHCP_OPTIONS_ID = `COALESCE(r.dhcp_options_id, 'dopt-' || substr(md5('dopt:' || r.account_id), 1, 17))`;

export class DhcpRepository {
  constructor(private readonly db: Db) {}

  async insert(d: DhcpOptionsRow): Promise<void> {
    await this.db.exec(
      'INSERT INTO dhcp_options (id, account_id, is_default, configurations) VALUES ($1,$2,$3,$4::jsonb) ON CONFLICT (id) DO NOTHING',
      [d.id, d.account_id, d.is_default, JSON.stringify(d.configurations)],
    );
  }

  one(accountId: string, id: string): Promise<DhcpOptionsRow | undefined> {
    return this.db.one<DhcpOptionsRow>('SELECT id, account_id, is_default, configurations FROM dhcp_options WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  /** How many of the account's VPCs use the set (DeleteDhcpOptions' DependencyViolation). */
  async users(accountId: string, id: string): Promise<number> {
    return (await this.db.one<{ n: number }>(
      `SELECT count(*)::int AS n FROM vpcs r WHERE r.account_id = $1 AND ${VPC_DHCP_OPTIONS_ID} = $2`,
      [accountId, id],
    ))!.n;
  }

  async delete(id: string): Promise<void> {
    await this.db.tx(async (t) => {
      await this.db.exec('DELETE FROM tags WHERE resource_id = $1', [id], t);
      await this.db.exec('DELETE FROM dhcp_options WHERE id = $1', [id], t);
    });
  }

  /**
   * The VPC's CIDR and the configurations of its effective set (null when that set is the account's default and
   * its row was never made); undefined when there is no such VPC. What the VPC's DHCP server tells instances.
   */
  async ofVpc(vpcId: string): Promise<{ cidr_block: string; configurations: DhcpConfigurationRow[] | null } | undefined> {
    return this.db.one<{ cidr_block: string; configurations: DhcpConfigurationRow[] | null }>(
      `SELECT r.cidr_block, d.configurations FROM vpcs r LEFT JOIN dhcp_options d ON d.id = ${VPC_DHCP_OPTIONS_ID} WHERE r.id = $1`,
      [vpcId],
    );
  }

  /** Associates the VPC with a set, or with none ('default'). */
  async associate(vpcId: string, id: string): Promise<void> {
    await this.db.exec('UPDATE vpcs SET dhcp_options_id = $2 WHERE id = $1', [vpcId, id]);
  }
}
