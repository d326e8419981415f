import type { Db } from '../sql.js';

export interface AccountRow {
  account_id: string;
  access_key_id: string;
  secret: string;
}

export class AccountRepository {
  constructor(private readonly db: Db) {}

  /** Inserts or updates an account; returns true when it is new. */
  async upsert(accountId: string, accessKeyId: string, secret: string): Promise<boolean> {
    const r = await this.db.rows<{ inserted: boolean }>(
      `INSERT INTO accounts (account_id, access_key_id, secret) VALUES ($1, $2, $3)
       ON CONFLICT (account_id) DO UPDATE SET access_key_id = EXCLUDED.access_key_id, secret = EXCLUDED.secret
       RETURNING (xmax = 0) AS inserted`,
      [accountId, accessKeyId, secret],
    );
    return r[0]?.inserted ?? false;
  }

  byAccessKey(accessKeyId: string): Promise<AccountRow | undefined> {
    return this.db.one<AccountRow>('SELECT * FROM accounts WHERE access_key_id = $1', [accessKeyId]);
  }
}
