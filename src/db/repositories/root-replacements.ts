import type { Db } from '../sql.js';

/** A CreateReplaceRootVolumeTask (migration 017). */
export interface ReplaceTaskRow {
  id: string;
  account_id: string;
  instance_id: string;
  snapshot_id: string | null;
  image_id: string | null;
  delete_replaced: boolean;
  /** pending | in-progress | succeeded | failing | failed */
  state: string;
  state_message: string | null;
  old_volume_id: string | null;
  new_volume_id: string | null;
  client_token: string | null;
  /** null (not chosen yet) | clone | merge | merged: migration 020 */
  method: string | null;
  start_time: Date;
  complete_time: Date | null;
}

export class ReplaceTaskRepository {
  constructor(readonly db: Db) {}

  task(id: string): Promise<ReplaceTaskRow | undefined> {
    return this.db.one<ReplaceTaskRow>(`SELECT * FROM replace_root_volume_tasks WHERE id = $1`, [id]);
  }

  byClientToken(accountId: string, token: string): Promise<ReplaceTaskRow | undefined> {
    return this.db.one<ReplaceTaskRow>(`SELECT * FROM replace_root_volume_tasks WHERE account_id = $1 AND client_token = $2`, [accountId, token]);
  }

  /** Tasks not finished (pending, in-progress, failing), of one instance or of all. */
  unfinished(instanceId?: string): Promise<ReplaceTaskRow[]> {
    return this.db.rows<ReplaceTaskRow>(
      `SELECT * FROM replace_root_volume_tasks WHERE state IN ('pending', 'in-progress', 'failing') AND ($1::text IS NULL OR instance_id = $1)`,
      [instanceId ?? null],
    );
  }

  /** false when the client token was taken by a concurrent call. */
  async insert(t: Pick<ReplaceTaskRow, 'id' | 'account_id' | 'instance_id' | 'snapshot_id' | 'image_id' | 'delete_replaced' | 'old_volume_id' | 'client_token'>): Promise<boolean> {
    const n = await this.db.exec(
      `INSERT INTO replace_root_volume_tasks (id, account_id, instance_id, snapshot_id, image_id, delete_replaced, state, old_volume_id, client_token)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8) ON CONFLICT DO NOTHING`,
      [t.id, t.account_id, t.instance_id, t.snapshot_id, t.image_id, t.delete_replaced, t.old_volume_id, t.client_token],
    );
    return n === 1;
  }

  async setNewVolume(id: string, volumeId: string): Promise<void> {
    await this.db.exec(`UPDATE replace_root_volume_tasks SET new_volume_id = $2 WHERE id = $1`, [id, volumeId]);
  }

  /** Sets the method if it is still `from` (null: not chosen); false when it was not. */
  async setMethod(id: string, from: string | null, to: string): Promise<boolean> {
    const n = await this.db.exec(`UPDATE replace_root_volume_tasks SET method = $3 WHERE id = $1 AND method IS NOT DISTINCT FROM $2`, [id, from, to]);
    return n === 1;
  }

  /** The volumes (replaced and replacing) of unfinished tasks: reconciliation leaves them to their task. */
  async heldVolumes(): Promise<Set<string>> {
    const rows = await this.db.rows<{ old_volume_id: string | null; new_volume_id: string | null }>(
      `SELECT old_volume_id, new_volume_id FROM replace_root_volume_tasks WHERE state IN ('pending', 'in-progress', 'failing')`);
    return new Set(rows.flatMap((r) => [r.old_volume_id, r.new_volume_id].filter((x): x is string => !!x)));
  }

  /** Moves the task on; a final state (succeeded, failed) sets CompleteTime. */
  async setState(id: string, from: string[], to: string, message: string | null = null): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE replace_root_volume_tasks SET state = $3, state_message = coalesce($4, state_message),
         complete_time = CASE WHEN $3 IN ('succeeded', 'failed') THEN clock_timestamp() ELSE complete_time END
       WHERE id = $1 AND state = ANY($2::text[])`,
      [id, from, to, message],
    );
    return n === 1;
  }
}
