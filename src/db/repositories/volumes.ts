import type { Db } from '../sql.js';

export interface VolumeRow {
  id: string;
  account_id: string;
  availability_zone: string;
  size_gib: number;
  volume_type: string;
  iops: number | null;
  throughput: number | null;
  snapshot_id: string | null;
  /** The image a root volume was cloned from (migration 014) */
  image_id?: string | null;
  /** creating | available | in-use | deleting | deleted | error */
  state: string;
  state_message: string | null;
  client_token: string | null;
  auto_enable_io: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface AttachmentRow {
  volume_id: string;
  instance_id: string;
  device: string;
  /** attaching | attached | detaching */
  state: string;
  delete_on_termination: boolean;
  attached_at: Date;
}

export interface SnapshotRow {
  id: string;
  account_id: string;
  volume_id: string;
  volume_size: number;
  description: string;
  source_snapshot_id: string | null;
  /** pending | completed | error */
  state: string;
  state_message: string | null;
  progress: number;
  started_at: Date;
  completed_at: Date | null;
  updated_at: Date;
}

export interface ModificationRow {
  volume_id: string;
  account_id: string;
  state: string;
  status_message: string | null;
  original_size: number;
  original_type: string;
  original_iops: number | null;
  original_throughput: number | null;
  target_size: number;
  target_type: string;
  target_iops: number | null;
  target_throughput: number | null;
  progress: number;
  start_time: Date;
  end_time: Date | null;
}

/** Volumes, attachments and snapshots (migration 009). */
export class VolumeRepository {
  constructor(readonly db: Db) {}

  /**
   * Whether an image's disk (root volumes are cloned from it) is still wanted: its image is registered, a live
   * instance was launched from it (CreateReplaceRootVolumeTask restores its launch state from it), or a volume
   * is being cloned from it.
   */
  async imageDiskNeeded(imageId: string): Promise<boolean> {
    const r = await this.db.one<{ needed: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM images WHERE id = $1 AND state <> 'deregistered')
           OR EXISTS (SELECT 1 FROM instances WHERE image_id = $1 AND state <> 'terminated')
           OR EXISTS (SELECT 1 FROM volumes WHERE image_id = $1 AND state = 'creating') AS needed`,
      [imageId],
    );
    return !!r?.needed;
  }

  volume(accountId: string, id: string): Promise<VolumeRow | undefined> {
    return this.db.one<VolumeRow>(`SELECT * FROM volumes WHERE account_id = $1 AND id = $2 AND state <> 'deleted'`, [accountId, id]);
  }

  volumesOf(accountId: string, ids: string[]): Promise<{ id: string }[]> {
    return this.db.rows(`SELECT id FROM volumes WHERE account_id = $1 AND id = ANY($2::text[]) AND state <> 'deleted'`, [accountId, ids]);
  }

  snapshotsOf(accountId: string, ids: string[]): Promise<{ id: string }[]> {
    return this.db.rows(`SELECT id FROM snapshots WHERE account_id = $1 AND id = ANY($2::text[])`, [accountId, ids]);
  }

  byClientToken(accountId: string, token: string): Promise<VolumeRow | undefined> {
    return this.db.one<VolumeRow>(`SELECT * FROM volumes WHERE account_id = $1 AND client_token = $2`, [accountId, token]);
  }

  /** False when the client token is taken (a concurrent call with the same token). */
  async insertVolume(v: Omit<VolumeRow, 'created_at' | 'updated_at' | 'state_message' | 'auto_enable_io'>): Promise<boolean> {
    const n = await this.db.exec(
      `INSERT INTO volumes (id, account_id, availability_zone, size_gib, volume_type, iops, throughput, snapshot_id, state, client_token, image_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [v.id, v.account_id, v.availability_zone, v.size_gib, v.volume_type, v.iops, v.throughput, v.snapshot_id, v.state, v.client_token, v.image_id ?? null],
    );
    return n === 1;
  }

  /** Moves a volume from one of `from` to `to`; false when it was in none of them. */
  async setVolumeState(id: string, from: string[], to: string, message: string | null = null): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE volumes SET state = $3, state_message = $4, updated_at = now() WHERE id = $1 AND state = ANY($2::text[])`,
      [id, from, to, message],
    );
    return n === 1;
  }

  modification(volumeId: string): Promise<ModificationRow | undefined> {
    return this.db.one<ModificationRow>(`SELECT * FROM volume_modifications WHERE volume_id = $1`, [volumeId]);
  }

  /** Records a modification (modifying) unless one is in flight; false then. */
  async startModification(v: VolumeRow, target: { size: number; type: string; iops: number | null; throughput: number | null }): Promise<boolean> {
    const n = await this.db.exec(
      `INSERT INTO volume_modifications (volume_id, account_id, state, original_size, original_type, original_iops, original_throughput,
         target_size, target_type, target_iops, target_throughput)
       VALUES ($1, $2, 'modifying', $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (volume_id) DO UPDATE SET state = 'modifying', status_message = NULL, original_size = $3, original_type = $4,
         original_iops = $5, original_throughput = $6, target_size = $7, target_type = $8, target_iops = $9, target_throughput = $10,
         progress = 0, start_time = now(), end_time = NULL
       WHERE volume_modifications.state IN ('completed', 'failed')`,
      [v.id, v.account_id, v.size_gib, v.volume_type, v.iops, v.throughput, target.size, target.type, target.iops, target.throughput],
    );
    return n === 1;
  }

  /** The host grew the disk: the volume takes its new shape, the modification is optimizing then completed. */
  async finishModification(volumeId: string, ok: boolean, message: string | null = null): Promise<void> {
    await this.db.tx(async (t) => {
      if (ok) {
        await this.db.exec(
          `UPDATE volumes v SET size_gib = m.target_size, volume_type = m.target_type, iops = m.target_iops, throughput = m.target_throughput,
             updated_at = now() FROM volume_modifications m WHERE m.volume_id = v.id AND v.id = $1`, [volumeId], t);
      }
      await this.db.exec(
        `UPDATE volume_modifications SET state = $2, progress = $3, status_message = $4, end_time = now() WHERE volume_id = $1`,
        [volumeId, ok ? 'completed' : 'failed', ok ? 100 : 0, message], t);
    });
  }

  async setAutoEnableIo(id: string, value: boolean): Promise<void> {
    await this.db.exec(`UPDATE volumes SET auto_enable_io = $2 WHERE id = $1`, [id, value]);
  }

  /** Volumes in a state, every account (reconciliation). */
  volumesIn(states: string[]): Promise<VolumeRow[]> {
    return this.db.rows<VolumeRow>(`SELECT * FROM volumes WHERE state = ANY($1::text[])`, [states]);
  }

  attachment(volumeId: string): Promise<AttachmentRow | undefined> {
    return this.db.one<AttachmentRow>(`SELECT * FROM volume_attachments WHERE volume_id = $1`, [volumeId]);
  }

  attachmentsOf(instanceIds: string[]): Promise<AttachmentRow[]> {
    return this.db.rows<AttachmentRow>(`SELECT * FROM volume_attachments WHERE instance_id = ANY($1::text[]) ORDER BY device`, [instanceIds]);
  }

  allAttachments(): Promise<AttachmentRow[]> {
    return this.db.rows<AttachmentRow>(`SELECT * FROM volume_attachments`);
  }

  /**
   * Records an attachment (state attaching) and the volume in-use, in one transaction, if the volume is still
   * available and no attachment of the instance uses the device's slot. Answers what stood in the way.
   */
  async attach(a: Omit<AttachmentRow, 'attached_at' | 'state'>, slotTaken: (devices: string[]) => boolean): Promise<'ok' | 'volume' | 'device'> {
    return this.db.tx(async (t) => {
      const n = await this.db.exec(`UPDATE volumes SET state = 'in-use', updated_at = now() WHERE id = $1 AND state = 'available'`, [a.volume_id], t);
      if (n !== 1) return 'volume';
      await this.db.exec('SELECT pg_advisory_xact_lock(hashtext($1))', [a.instance_id], t);
      const devices = await this.db.rows<{ device: string }>(`SELECT device FROM volume_attachments WHERE instance_id = $1`, [a.instance_id], t);
      if (slotTaken(devices.map((d) => d.device))) throw new SlotTaken(); // rolls the volume's state back
      await this.db.exec(
        `INSERT INTO volume_attachments (volume_id, instance_id, device, state, delete_on_termination) VALUES ($1, $2, $3, 'attaching', $4)`,
        [a.volume_id, a.instance_id, a.device, a.delete_on_termination],
        t,
      );
      return 'ok';
    }).catch((e) => {
      if (e instanceof SlotTaken) return 'device' as const;
      throw e;
    });
  }

  async setAttachmentState(volumeId: string, from: string[], to: string): Promise<boolean> {
    return (await this.db.exec(`UPDATE volume_attachments SET state = $3 WHERE volume_id = $1 AND state = ANY($2::text[])`, [volumeId, from, to])) === 1;
  }

  setDeleteOnTermination(volumeId: string, value: boolean): Promise<number> {
    return this.db.exec(`UPDATE volume_attachments SET delete_on_termination = $2 WHERE volume_id = $1`, [volumeId, value]);
  }

  /** The attachment is gone: the row removed and the volume available again (one transaction). */
  async detached(volumeId: string): Promise<void> {
    await this.db.tx(async (t) => {
      await this.db.exec(`DELETE FROM volume_attachments WHERE volume_id = $1`, [volumeId], t);
      await this.db.exec(`UPDATE volumes SET state = 'available', updated_at = now() WHERE id = $1 AND state = 'in-use'`, [volumeId], t);
    });
  }

  /** An instance's host object and state, whatever its account (detaching from it). */
  instanceOf(id: string): Promise<{ id: string; account_id: string; state: string; backend_id: string | null } | undefined> {
    return this.db.one(`SELECT id, account_id, state, backend_id FROM instances WHERE id = $1`, [id]);
  }

  snapshot(accountId: string, id: string): Promise<SnapshotRow | undefined> {
    return this.db.one<SnapshotRow>(`SELECT * FROM snapshots WHERE account_id = $1 AND id = $2`, [accountId, id]);
  }

  snapshotsIn(states: string[]): Promise<SnapshotRow[]> {
    return this.db.rows<SnapshotRow>(`SELECT * FROM snapshots WHERE state = ANY($1::text[])`, [states]);
  }

  async insertSnapshot(s: Pick<SnapshotRow, 'id' | 'account_id' | 'volume_id' | 'volume_size' | 'description'> & { source_snapshot_id?: string }): Promise<void> {
    await this.db.exec(
      `INSERT INTO snapshots (id, account_id, volume_id, volume_size, description, source_snapshot_id, state, progress)
       VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0)`,
      [s.id, s.account_id, s.volume_id, s.volume_size, s.description, s.source_snapshot_id ?? null],
    );
  }

  async setSnapshotState(id: string, state: string, progress: number, message: string | null = null): Promise<void> {
    await this.db.exec(
      `UPDATE snapshots SET state = $2, progress = $3, state_message = $4, updated_at = now(),
         completed_at = CASE WHEN $2 = 'completed' THEN now() ELSE completed_at END WHERE id = $1`,
      [id, state, progress, message],
    );
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.db.exec(`DELETE FROM snapshots WHERE id = $1`, [id]);
  }

  /** Deleted volumes older than `ms` are forgotten. */
  async purgeDeleted(ms: number): Promise<string[]> {
    const rows = await this.db.rows<{ id: string }>(
      `DELETE FROM volumes WHERE state = 'deleted' AND updated_at < now() - ($1::int * interval '1 millisecond') RETURNING id`,
      [ms],
    );
    return rows.map((r) => r.id);
  }
}

class SlotTaken extends Error {}
