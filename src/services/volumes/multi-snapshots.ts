/**
 * CreateSnapshots: every EBS volume attached to an instance (less the boot volume or listed data volumes when
 * asked) snapshotted at one point in time, the call's. The records are written pending first; the host takes
 * all the snapshots together (StorageBackend.createSnapshots holds the volumes' I/O still meanwhile) once each
 * volume's queued work is done, before the call answers, so the set is crash-consistent and holds nothing
 * written after the call; a failure leaves every one of them `error`.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { SnapshotRow } from '../../db/repositories/volumes.js';
import type { StorageBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { InstanceQueue } from '../instances/queue.js';
import type { VolumeService } from './index.js';
import { why } from './why.js';

export interface CreateSnapshotsInput {
  instanceId: string;
  excludeBootVolume?: boolean;
  excludeDataVolumeIds?: string[];
  description?: string;
}

/** The instance's boot device as AWS names it (the root device of every instance here is /dev/xvda). */
const BOOT_DEVICE = /^\/dev\/(sda1?|xvda)$/;

/** Runs `work` once every id's queue has reached it, holding them all meanwhile (ids locked in one order). */
export function inQueues(queue: InstanceQueue, ids: string[], work: () => Promise<void>, onError: (e: unknown) => void): Promise<void> {
  const sorted = [...new Set(ids)].sort();
  const nest = (i: number): Promise<void> =>
    i === sorted.length ? work() : queue.run(sorted[i]!, () => nest(i + 1), (e) => { throw e; });
  return nest(0).catch(onError);
}

export class MultiSnapshots {
  constructor(
    private readonly volumes: VolumeService,
    private readonly storage: StorageBackend,
    private readonly log: Logger,
  ) {}

  /** The volumes to snapshot, as AWS checks the request; nothing written. */
  async check(accountId: string, input: CreateSnapshotsInput): Promise<Array<{ volumeId: string; sizeGiB: number }>> {
    const [instance] = await this.volumes.instances.byIds(accountId, [input.instanceId]);
    if (!instance || instance.state === 'terminated') {
      throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${input.instanceId}' does not exist`);
    }
    if (!['pending', 'running', 'stopping', 'stopped'].includes(instance.state)) {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${input.instanceId}' is not in a valid state for this operation (${instance.state}).`);
    }
    const exclude = new Set(input.excludeDataVolumeIds ?? []);
    const out: Array<{ volumeId: string; sizeGiB: number }> = [];
    for (const a of await this.volumes.repo.attachmentsOf([instance.id])) {
      if (a.state === 'detaching' || exclude.has(a.volume_id)) continue;
      if (input.excludeBootVolume && BOOT_DEVICE.test(a.device)) continue;
      const v = await this.volumes.volume(accountId, a.volume_id);
      out.push({ volumeId: v.id, sizeGiB: v.size_gib });
    }
    for (const id of exclude) {
      if (!out.some((v) => v.volumeId === id) && !(await this.volumes.repo.attachment(id))) {
        throw new Ec2Error('InvalidVolume.NotFound', `The volume '${id}' does not exist or is not attached to ${input.instanceId}.`);
      }
    }
    return out;
  }

  async create(accountId: string, input: CreateSnapshotsInput): Promise<SnapshotRow[]> {
    const vols = await this.check(accountId, input);
    const items = vols.map((v) => ({ volumeId: v.volumeId, snapshotId: newId('snapshot'), sizeGiB: v.sizeGiB }));
    for (const i of items) {
      await this.volumes.repo.insertSnapshot({ id: i.snapshotId, account_id: accountId, volume_id: i.volumeId, volume_size: i.sizeGiB, description: input.description ?? '' });
    }
    const rows: SnapshotRow[] = [];
    for (const i of items) rows.push((await this.volumes.repo.snapshot(accountId, i.snapshotId))!);
    // The point in time is the call's: the host snapshots are taken before the answer (thin snapshots are
    // instant), so nothing the instance writes after the call is in them. The answer says pending, as AWS's.
    if (items.length) await inQueues(this.volumes.queue, items.map((i) => i.volumeId), () => this.take(items), () => {});
    return rows;
  }

  private async take(items: Array<{ volumeId: string; snapshotId: string }>): Promise<void> {
    try {
      await this.storage.createSnapshots(items.map(({ volumeId, snapshotId }) => ({ volumeId, snapshotId })));
      for (const i of items) await this.volumes.repo.setSnapshotState(i.snapshotId, 'completed', 100);
    } catch (e) {
      this.log.error('creating the snapshots of an instance failed', { snapshotIds: items.map((i) => i.snapshotId), error: e });
      for (const i of items) {
        await this.storage.deleteSnapshot(i.snapshotId).catch(() => {});
        await this.volumes.repo.setSnapshotState(i.snapshotId, 'error', 0, why(e));
      }
    }
  }
}
