import type { AccountRepository } from '../../db/repositories/accounts.js';
import type { AccountConfig } from '../../config/index.js';

/** Accounts and their credentials; every request is attributed to one, every resource is owned by one. */
export class AccountService {
  private readonly cache = new Map<string, { accountId: string; secretAccessKey: string; at: number }>();

  constructor(private readonly repo: AccountRepository) {}

  async seed(accounts: AccountConfig[]): Promise<void> {
    for (const a of accounts) await this.repo.upsert(a.accountId, a.accessKeyId, a.secretAccessKey);
    this.cache.clear();
  }

  /** Credentials by access key, cached briefly: every request needs them. */
  async lookup(accessKeyId: string): Promise<{ accountId: string; secretAccessKey: string } | undefined> {
    const hit = this.cache.get(accessKeyId);
    if (hit && Date.now() - hit.at < 30_000) return hit;
    const row = await this.repo.byAccessKey(accessKeyId);
    if (!row) return undefined;
    const v = { accountId: row.account_id.trim(), secretAccessKey: row.secret, at: Date.now() };
    this.cache.set(accessKeyId, v);
    return v;
  }
}
