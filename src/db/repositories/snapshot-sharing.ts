import type { Db } from '../sql.js';
import type { SnapshotRow } from './volumes.js';

/** The SQL condition "the account (a bound parameter) may see and restore the snapshot `alias`". */
export function snapshotVisibleTo(account: string, alias = 'snapshots'): string {
  return `(${alias}.account_id = ${account} OR ${alias}.is_public OR EXISTS (
    SELECT 1 FROM snapshot_create_volume_permissions p WHERE p.snapshot_id = ${alias}.id AND p.account_id = ${account}))`;
}

/** createVolumePermission of snapshots (migration 013). */
export class SnapshotSharingRepository {
  constructor(private readonly db: Db) {}

  /** The snapshot if the account owns it or may restore it. */
  visible(accountId: string, id: string): Promise<(SnapshotRow & { is_public: boolean }) | undefined> {
    return this.db.one(`SELECT snapshots.* FROM snapshots WHERE snapshots.id = $2 AND ${snapshotVisibleTo('$1')}`, [accountId, id]);
  }

  async permissions(id: string): Promise<{ isPublic: boolean; accountIds: string[] }> {
    const s = await this.db.one<{ is_public: boolean }>(`SELECT is_public FROM snapshots WHERE id = $1`, [id]);
    const rows = await this.db.rows<{ account_id: string }>(
      `SELECT account_id FROM snapshot_create_volume_permissions WHERE snapshot_id = $1 ORDER BY account_id`, [id]);
    return { isPublic: !!s?.is_public, accountIds: rows.map((r) => r.account_id.trim()) };
  }

  async change(id: string, add: string[], remove: string[], isPublic?: boolean): Promise<void> {
    await this.db.tx(async (t) => {
      for (const a of add) {
        await this.db.exec(`INSERT INTO snapshot_create_volume_permissions (snapshot_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [id, a], t);
      }
      if (remove.length) {
        await this.db.exec(`DELETE FROM snapshot_create_volume_permissions WHERE snapshot_id = $1 AND account_id = ANY($2::text[])`, [id, remove], t);
      }
      if (isPublic !== undefined) await this.db.exec(`UPDATE snapshots SET is_public = $2 WHERE id = $1`, [id, isPublic], t);
    });
  }

  async reset(id: string): Promise<void> {
    await this.change(id, [], [], false);
    await this.db.exec(`DELETE FROM snapshot_create_volume_permissions WHERE snapshot_id = $1`, [id]);
  }
}
