/**
 * EBS snapshots with EC2's semantics over the StorageBackend: CreateSnapshot, CopySnapshot, DeleteSnapshot.
 * The host work runs in the queue of the snapshot's volume (a snapshot waits for the volume's create, a delete
 * for the snapshot's create). Records are written pending first; a host failure leaves `error` with the reason.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { VolumeRow, SnapshotRow } from '../../db/repositories/volumes.js';
import type { StorageBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { VolumeService } from './index.js';
import { why } from './why.js';
import { MultiSnapshots } from './multi-snapshots.js';
import { SnapshotSharing } from './snapshot-sharing.js';
import { SnapshotSharingRepository } from '../../db/repositories/snapshot-sharing.js';

export class SnapshotService {
  constructor(
    private readonly volumes: VolumeService,
    private readonly storage: StorageBackend,
    private readonly log: Logger,
  ) {
    this.multi = new MultiSnapshots(volumes, storage, log);
    this.sharing = new SnapshotSharing(new SnapshotSharingRepository(volumes.repo.db));
  }

  /** createVolumePermission (./snapshot-sharing.ts). */
  readonly sharing: SnapshotSharing;

  /** A snapshot the account owns or may restore (CreateVolume, CopySnapshot); InvalidSnapshot.NotFound otherwise. */
  restorable(accountId: string, id: string): Promise<SnapshotRow> {
    return this.sharing.restorable(accountId, id);
  }

  /** CreateSnapshots (./multi-snapshots.ts). */
  readonly multi: MultiSnapshots;

  async snapshot(accountId: string, id: string): Promise<SnapshotRow> {
    const s = await this.volumes.repo.snapshot(accountId, id);
    if (!s) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return s;
  }

  async checkCreateSnapshot(accountId: string, volumeId: string): Promise<VolumeRow> {
    const v = await this.volumes.volume(accountId, volumeId);
    if (v.state !== 'available' && v.state !== 'in-use') throw new Ec2Error('IncorrectState', `The volume '${volumeId}' is '${v.state}'.`);
    return v;
  }

  async createSnapshot(accountId: string, volumeId: string, description: string): Promise<SnapshotRow> {
    const v = await this.checkCreateSnapshot(accountId, volumeId);
    const id = newId('snapshot');
    await this.volumes.repo.insertSnapshot({ id, account_id: accountId, volume_id: v.id, volume_size: v.size_gib, description });
    const row = (await this.volumes.repo.snapshot(accountId, id))!;
    // Taken before the answer (a thin snapshot is instant): the point in time is the call's, not later.
    await this.volumes.queue.run(volumeId, () => this.takeSnapshot(id, volumeId), () => {});
    return row;
  }

  /** `resume`: after a crash, where the snapshot may already exist on the host (only then is the host asked). */
  async takeSnapshot(id: string, volumeId: string, resume = false): Promise<void> {
    try {
      const exists = resume && (await this.storage.list()).snapshots.some((s) => s.snapshotId === id);
      if (!exists) await this.storage.createSnapshot(volumeId, id);
      await this.volumes.repo.setSnapshotState(id, 'completed', 100);
    } catch (e) {
      this.log.error('creating a snapshot failed', { snapshotId: id, error: e });
      await this.storage.deleteSnapshot(id).catch(() => {});
      await this.volumes.repo.setSnapshotState(id, 'error', 0, why(e));
    }
  }

  /**
   * CopySnapshot (within this region): the copy is made on the host as a temporary volume restored from the
   * source, snapshotted, and removed. The temporary disk's id is kept in `temporary` so reconciliation leaves it.
   */
  async checkCopySnapshot(accountId: string, sourceRegion: string, sourceId: string, region: string): Promise<SnapshotRow> {
    if (sourceRegion !== region) {
      throw new Ec2Error('UnsupportedOperation', `Copying snapshots between regions is not supported by this cloud (this is ${region}).`);
    }
    const src = await this.restorable(accountId, sourceId);
    if (src.state !== 'completed') throw new Ec2Error('IncorrectState', `Snapshot '${sourceId}' is not 'completed'.`);
    return src;
  }

  readonly temporary = new Set<string>();

  async copySnapshot(accountId: string, sourceRegion: string, sourceId: string, region: string, description?: string): Promise<SnapshotRow> {
    const src = await this.checkCopySnapshot(accountId, sourceRegion, sourceId, region);
    const id = newId('snapshot');
    await this.volumes.repo.insertSnapshot({
      id, account_id: accountId, volume_id: src.volume_id, volume_size: src.volume_size,
      description: description ?? `[Copied ${src.id} from ${region}] ${src.description}`.trim(), source_snapshot_id: src.id,
    });
    void this.volumes.queue.run(src.volume_id, () => this.copyOnHost(id, src.id, src.volume_size), () => {});
    return (await this.volumes.repo.snapshot(accountId, id))!;
  }

  async copyOnHost(id: string, sourceId: string, sizeGiB: number): Promise<void> {
    const tmp = newId('volume');
    this.temporary.add(tmp);
    try {
      await this.storage.createVolume(tmp, sizeGiB, { snapshotId: sourceId });
      await this.storage.createSnapshot(tmp, id);
      await this.volumes.repo.setSnapshotState(id, 'completed', 100);
    } catch (e) {
      this.log.error('copying a snapshot failed', { snapshotId: id, source: sourceId, error: e });
      await this.storage.deleteSnapshot(id).catch(() => {});
      await this.volumes.repo.setSnapshotState(id, 'error', 0, why(e));
    } finally {
      await this.storage.deleteVolume(tmp).catch((e) => this.log.error('removing a temporary disk failed', { volumeId: tmp, error: e }));
      this.temporary.delete(tmp);
    }
  }

  /**
   * AWS refuses (InvalidSnapshot.InUse) to delete a snapshot a registered AMI's block device mapping uses; no AMI
   * here is made of EBS snapshots, so the one use is a root volume replacement restoring from it right now.
   */
  async checkDeleteSnapshot(accountId: string, id: string): Promise<SnapshotRow> {
    const s = await this.snapshot(accountId, id);
    const task = await this.volumes.replacements.usingSnapshot(id);
    if (task) throw new Ec2Error('InvalidSnapshot.InUse', `The snapshot ${id} is currently in use by ${task}`);
    return s;
  }

  /** DeleteSnapshot: after the snapshot is taken (a pending one is deleted once it completes). */
  async deleteSnapshot(accountId: string, id: string): Promise<void> {
    const s = await this.checkDeleteSnapshot(accountId, id);
    let failed: unknown;
    await this.volumes.queue.run(s.volume_id, async () => {
      await this.storage.deleteSnapshot(id);
      await this.volumes.repo.deleteSnapshot(id);
    }, (e) => {
      failed = e;
    });
    if (failed) throw failed;
  }
}
