/**
 * CreateReplaceRootVolumeTask (libvirt instances on LVM storage): the instance's root volume is replaced by a NEW
 * volume, as on AWS (a new volume id; the replaced one is detached and kept, `available`, unless
 * DeleteReplacedRootVolume, then `deleted`), restored to a snapshot of that root volume's lineage, or to its launch
 * state (a fresh clone of the disk of the image the instance was launched from). The instance keeps its EC2 state
 * `running`; as AWS reboots it around the replacement, its domain is shut down, given the new disk as its boot
 * disk, and started again.
 *
 * How the new volume's disk is made (the task's `method`, chosen once before any host work):
 * - clone: a thin snapshot of the snapshot or image on the storage host (instant: no bytes copied). The old root's
 *   disk is untouched (kept, or deleted at the end with DeleteReplacedRootVolume).
 * - merge: DeleteReplacedRootVolume with a snapshot whose LV is a snapshot of the current root's own LV (the
 *   storage says restoreMerges). The old root's bytes are to be thrown away, so its own disk is rolled back
 *   (restoreSnapshotInPlace: `lvconvert --merge`, the EBS snapshot kept intact, see src/adapters/lvm/restore.ts)
 *   and handed to the new volume (renameVolume: `lvrename`). No clone, no copy; the old volume ends `deleted`.
 *   Where the old root must be kept, or the snapshot is of another disk, merging would destroy what must stay:
 *   clone then.
 *
 * States: pending (the new volume is being made) -> in-progress (the swap, the instance down) -> succeeded, or
 * failed with the original root still attached.
 *
 * Crash safety of the merge (every step is idempotent and the task is resumed by reconciliation; reconciliation
 * leaves the volumes of an unfinished task alone, and an instance shut down by an in-progress task is started by
 * the task, not by instance reconciliation). In order:
 *   1. method 'merge' recorded; 2. the new volume's record, `creating`, no disk (the task's client token finds it
 *   again); 3. the task in-progress; with the instance shut down (its 'capture' mark): 4. the old root unexported;
 *   5. restoreSnapshotInPlace (the point of no return: the old root's bytes are the snapshot's); 6. method
 *   'merged'; 7. renameVolume(old, new); 8. the new volume `available`; 9. its export, the domain's boot disk;
 *   10. the records: the old root detached, the new one attached; the instance started; 11. the old volume
 *   `deleting` (its disk is gone: renamed); 12. the task succeeded; 13. the old volume `deleted`.
 * A crash before 5 redoes from 4 (nothing lost; a restore cut short is finished or undone by the storage's repair,
 * run by the next restore and by reconciliation, and redoing the merge gives the same bytes). A crash after 6 and
 * before 7 renames (the LV under the old name holds the merged bytes); after 7 the disk exists under the new name
 * and steps 7-8 only finish (renameVolume is idempotent, it fixes an id tag a crash left behind). After 9 or 10 the
 * records follow (swap() sees the new root attached). A crash after 11 leaves `deleting` to reconciliation. Errors
 * before 5 fail the task with the old root booted again; after 6 the task only goes forward (it stays in-progress
 * and the next pass retries) while the instance runs, as there is no old disk to go back to.
 */
import { Ec2Error, unsupportedOperation } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { DiskExport } from '../../ports/storage.js';
import type { ReplaceTaskRepository, ReplaceTaskRow } from '../../db/repositories/root-replacements.js';
import type { VolumeService } from './index.js';
import type { Logger } from '../../server/log.js';
import { ROOT_DEVICES } from '../instances/volume-step.js';
import { why } from './why.js';
import { crashPoint } from '../../server/crash-points.js';

export interface ReplaceRootInput {
  instanceId: string;
  snapshotId?: string;
  imageId?: string;
  deleteReplaced?: boolean;
  clientToken?: string;
}

/** The part of the instance service a replacement needs: running work while the instance is shut down. */
export interface ShutDownRunner {
  whileShutDown<T>(instanceId: string, fn: (backendId: string) => Promise<T>): Promise<T>;
}

export class RootReplacements {
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly svc: VolumeService,
    readonly repo: ReplaceTaskRepository,
    private readonly log: Logger,
    private readonly instances: () => ShutDownRunner | undefined,
  ) {}

  /** CreateReplaceRootVolumeTask's checks (no write); a retry with a known ClientToken is create()'s to answer. */
  async validate(accountId: string, input: ReplaceRootInput): Promise<void> {
    if (input.clientToken && (await this.repo.byClientToken(accountId, input.clientToken))) return;
    await this.check(accountId, input);
  }

  /** The instance's root attachment, as AWS answers them. */
  private async check(accountId: string, input: ReplaceRootInput) {
    const [instance] = await this.svc.instances.byIds(accountId, [input.instanceId]);
    if (!instance) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${input.instanceId}' does not exist`);
    if (input.imageId !== undefined) {
      throw unsupportedOperation('Replacing a root volume from an AMI (ImageId) is not supported by this cloud yet: give a SnapshotId, or neither to restore the launch state.');
    }
    if (!this.svc.rootVolumes) {
      throw unsupportedOperation(`The root device of ${input.instanceId} is the instance's own filesystem here, not an EBS volume (root volumes need the libvirt backend with LVM storage).`);
    }
    if (instance.state !== 'running') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${input.instanceId}' is not in the 'running' state (${instance.state}).`);
    }
    const root = (await this.svc.repo.attachmentsOf([instance.id])).find((a) => ROOT_DEVICES.includes(a.device));
    if (!root || root.state !== 'attached') throw new Ec2Error('IncorrectState', `The instance '${input.instanceId}' has no attached EBS root volume.`);
    if ((await this.repo.unfinished(instance.id)).length) {
      throw new Ec2Error('IncorrectState', `A root volume replacement task is already in progress for instance '${input.instanceId}'.`);
    }
    const volume = await this.svc.volume(accountId, root.volume_id);
    if (input.snapshotId !== undefined) {
      const snap = await this.svc.snapshots.snapshot(accountId, input.snapshotId);
      if (snap.state !== 'completed') throw new Ec2Error('IncorrectState', `Snapshot '${snap.id}' is not 'completed'.`);
      if (!(await this.lineage(accountId, instance.id, volume.id)).has(snap.volume_id)) {
        throw new Ec2Error('InvalidParameterValue', `The snapshot '${snap.id}' was not created from the root volume of instance '${input.instanceId}' (${volume.id}) or its lineage.`);
      }
    }
    return { instance, root, volume };
  }

  /**
   * The volumes of the root's lineage: the current root volume, the root volumes this instance had before (the
   * ones replaced by earlier tasks), and the volumes the snapshots they were restored from were taken of.
   */
  private async lineage(accountId: string, instanceId: string, rootId: string): Promise<Set<string>> {
    const ids = new Set<string>([rootId]);
    const previous = await this.repo.db.rows<{ old_volume_id: string }>(
      `SELECT old_volume_id FROM replace_root_volume_tasks WHERE instance_id = $1 AND state = 'succeeded' AND old_volume_id IS NOT NULL`, [instanceId]);
    for (const p of previous) ids.add(p.old_volume_id);
    for (const id of [...ids]) {
      let v = await this.svc.repo.volume(accountId, id);
      for (let hops = 0; v?.snapshot_id && hops < 50; hops++) {
        const s = await this.svc.repo.snapshot(accountId, v.snapshot_id);
        if (!s) break;
        ids.add(s.volume_id);
        v = await this.svc.repo.volume(accountId, s.volume_id);
      }
    }
    return ids;
  }

  /** The task (pending) now, the work in the background. Idempotent by ClientToken. */
  async create(accountId: string, input: ReplaceRootInput): Promise<{ task: ReplaceTaskRow; isNew: boolean }> {
    if (input.clientToken) {
      const prior = await this.repo.byClientToken(accountId, input.clientToken);
      if (prior) {
        if (prior.instance_id !== input.instanceId || (prior.snapshot_id ?? undefined) !== input.snapshotId) {
          throw new Ec2Error('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.');
        }
        return { task: prior, isNew: false };
      }
    }
    const { volume } = await this.check(accountId, input);
    const id = newId('replaceRootVolumeTask');
    const ok = await this.repo.insert({
      id, account_id: accountId, instance_id: input.instanceId, snapshot_id: input.snapshotId ?? null, image_id: null,
      delete_replaced: input.deleteReplaced ?? false, old_volume_id: volume.id, client_token: input.clientToken ?? null,
    });
    if (!ok) return this.create(accountId, input); // a concurrent call with the same token won
    this.start(id);
    return { task: (await this.repo.task(id))!, isNew: true };
  }

  private start(id: string): void {
    if (this.inFlight.has(id)) return;
    this.inFlight.add(id);
    void this.run(id)
      .catch((e) => this.log.error('replacing a root volume failed', { taskId: id, error: e }))
      .finally(() => this.inFlight.delete(id));
  }

  /** The unfinished task that restores from this snapshot, if any (DeleteSnapshot waits for it: InUse). */
  async usingSnapshot(snapshotId: string): Promise<string | undefined> {
    return (await this.repo.unfinished()).find((t) => t.snapshot_id === snapshotId)?.id;
  }

  /** Resumes the tasks a crash interrupted (their steps are idempotent). */
  async reconcile(): Promise<void> {
    for (const t of await this.repo.unfinished()) this.start(t.id);
  }

  private async run(id: string): Promise<void> {
    let t = await this.repo.task(id);
    if (t?.state === 'failing') return this.fail(t, t.state_message ?? 'interrupted');
    if (!t || !['pending', 'in-progress'].includes(t.state)) return;
    const accountId = t.account_id.trim();
    try {
      const old = await this.svc.volume(accountId, t.old_volume_id!);
      t = await this.chooseMethod(t);
      const fresh = await this.newVolume(t, old);
      if (t.state === 'pending') await this.repo.setState(id, ['pending'], 'in-progress');
      await this.swap(t, old.id, fresh);
    } catch (e) {
      const now = await this.repo.task(id);
      const [instance] = await this.svc.instances.byIds(accountId, [t.instance_id]);
      if (now?.method === 'merged' && instance?.state === 'running') {
        // Past the merge: the old root's disk is (or becomes) the new volume's; no way back, only forward.
        this.log.error('root volume replacement interrupted after its merge; the next reconciliation pass goes on with it', { taskId: id, instanceId: t.instance_id, error: e });
        return;
      }
      this.log.error('root volume replacement failed', { taskId: id, instanceId: t.instance_id, error: e });
      await this.fail(t, why(e));
      return;
    }
    // The replaced volume is marked deleting before the task succeeds: a crash in between leaves the delete to
    // reconciliation (a merged root's disk is gone already: renamed to the new volume; deleting it finds nothing).
    if (t.delete_replaced) await this.svc.repo.setVolumeState(t.old_volume_id!, ['available', 'error'], 'deleting');
    await this.repo.setState(id, ['in-progress'], 'succeeded');
    if (t.delete_replaced) void this.svc.queue.run(t.old_volume_id!, () => this.svc.deleteDisk(t.old_volume_id!), () => {});
  }

  /** The method (see the top of this file), chosen once and recorded before any host work. */
  private async chooseMethod(t: ReplaceTaskRow): Promise<ReplaceTaskRow> {
    if (t.method) return t;
    const merge = t.delete_replaced && !!t.snapshot_id
      && (await this.svc.backends.storage.restoreMerges(t.snapshot_id, t.old_volume_id!).catch(() => false));
    await this.repo.setMethod(t.id, null, merge ? 'merge' : 'clone');
    return (await this.repo.task(t.id))!;
  }

  /**
   * The replacement volume's record, made once (found again by its client token), and its disk: a thin snapshot
   * of its source (clone), or none yet (merge: the old root's disk becomes it during the swap).
   */
  private async newVolume(t: ReplaceTaskRow, old: { id: string; availability_zone: string; size_gib: number; volume_type: string; iops: number | null; throughput: number | null; snapshot_id: string | null; image_id?: string | null }): Promise<string> {
    const accountId = t.account_id.trim();
    const token = `${t.id}:root`;
    let v = await this.svc.repo.byClientToken(accountId, token);
    if (!v) {
      const vid = newId('volume');
      // Launch state (no snapshot): the image the instance was launched from, whose disk its first root volume
      // was cloned from (not the source of the current root, which an earlier task may have restored from a snapshot).
      const [instance] = t.snapshot_id ? [] : await this.svc.instances.byIds(accountId, [t.instance_id]);
      if (!t.snapshot_id && !instance) throw new Error(`instance ${t.instance_id} is gone`);
      const snapshotId = t.snapshot_id;
      await this.svc.repo.insertVolume({
        id: vid, account_id: accountId, availability_zone: old.availability_zone, size_gib: old.size_gib, volume_type: old.volume_type,
        iops: old.iops, throughput: old.throughput, snapshot_id: snapshotId ?? null, image_id: snapshotId ? null : instance!.image_id,
        state: 'creating', client_token: token,
      });
      v = (await this.svc.repo.byClientToken(accountId, token))!;
      await this.repo.setNewVolume(t.id, v.id);
    }
    if (t.method !== 'clone' && v.state === 'creating') return v.id;
    if (v.state === 'creating') await this.svc.queue.run(v.id, () => this.svc.createDisk(v!.id), () => {});
    const now = await this.svc.volume(accountId, v.id);
    if (now.state !== 'available' && now.state !== 'in-use') throw new Error(`the replacement volume ${v.id} is ${now.state}${now.state_message ? `: ${now.state_message}` : ''}`);
    return v.id;
  }

  /** With the instance shut down: the domain boots from the new volume, and the records say so. */
  private async swap(t: ReplaceTaskRow, oldId: string, newId: string): Promise<void> {
    const { storage, compute } = this.svc.backends;
    const runner = this.instances();
    if (!runner || !compute.replaceRootDisk) throw new Error(`the ${compute.name} backend cannot replace a root disk`);
    const current = await this.svc.repo.attachment(newId);
    if (current?.instance_id === t.instance_id && current.state === 'attached') return; // swapped before a crash
    const oldAttachment = await this.svc.repo.attachment(oldId);
    if (!oldAttachment || oldAttachment.instance_id !== t.instance_id) throw new Error(`${oldId} is no longer the root volume of ${t.instance_id}`);
    const merging = t.method !== 'clone';
    await runner.whileShutDown(t.instance_id, async (backendId) => {
      if (merging) await this.merge(t, oldId, newId, (exp) => compute.replaceRootDisk!(backendId, { volumeId: oldId, deviceName: oldAttachment.device, export: exp }));
      const exp = await storage.export(newId, 'local');
      await compute.replaceRootDisk!(backendId, { volumeId: newId, deviceName: oldAttachment.device, export: exp });
      try {
        // In the new volume's queue: reconciliation must not take its brief 'attaching' record for a plug to redo.
        let failed: unknown;
        await this.svc.queue.run(newId, async () => {
          await this.svc.repo.detached(oldId);
          const r = await this.svc.repo.attach(
            { volume_id: newId, instance_id: t.instance_id, device: oldAttachment.device, delete_on_termination: oldAttachment.delete_on_termination },
            (devices) => devices.includes(oldAttachment.device),
          );
          if (r !== 'ok') throw new Error(`${newId} could not be recorded at ${oldAttachment.device} (${r})`);
          await this.svc.repo.setAttachmentState(newId, ['attaching'], 'attached');
        }, (e) => {
          failed = e;
        });
        if (failed) throw failed;
      } catch (e) {
        if (merging) throw e; // the old root's disk is the new volume's: the records go forward when retried
        // The records could not follow: the domain boots from the original root again.
        await compute.replaceRootDisk!(backendId, { volumeId: oldId, deviceName: oldAttachment.device, export: await storage.export(oldId, 'local') });
        await this.svc.repo.attach({ volume_id: oldId, instance_id: t.instance_id, device: oldAttachment.device, delete_on_termination: oldAttachment.delete_on_termination }, () => false).catch(() => 'volume');
        await this.svc.repo.setAttachmentState(oldId, ['attaching'], 'attached');
        throw e;
      }
      if (!merging) await storage.unexport(oldId).catch((e) => this.log.warn('unexporting a replaced root volume failed', { volumeId: oldId, error: e }));
    });
  }

  /**
   * Steps 4 to 8 of the merge (see the top of this file): the old root's disk, rolled back to the snapshot,
   * becomes the new volume's. `bootOld` points the domain at the old root again (a failure before the merge).
   */
  private async merge(t: ReplaceTaskRow, oldId: string, newId: string, bootOld: (exp: DiskExport) => Promise<void>): Promise<void> {
    const { storage } = this.svc.backends;
    const renamed = (await storage.list()).volumes.some((v) => v.volumeId === newId);
    if (!renamed && (await this.repo.task(t.id))?.method === 'merge') {
      await storage.unexport(oldId);
      try {
        await storage.restoreSnapshotInPlace(t.snapshot_id!, oldId);
      } catch (e) {
        await bootOld(await storage.export(oldId, 'local')).catch((u) => this.log.error('re-exporting the root after a failed merge failed', { volumeId: oldId, error: u }));
        throw e;
      }
      await this.repo.setMethod(t.id, 'merge', 'merged');
      crashPoint('replace-root:merged');
    }
    await storage.renameVolume(oldId, newId);
    await this.svc.repo.setVolumeState(newId, ['creating'], 'available');
  }

  /** Failed: the original root stays (or is put back); the replacement volume, if made, is deleted. */
  private async fail(t: ReplaceTaskRow, message: string): Promise<void> {
    await this.repo.setState(t.id, ['pending', 'in-progress'], 'failing', message);
    const fresh = (await this.repo.task(t.id))?.new_volume_id;
    if (fresh) {
      const a = await this.svc.repo.attachment(fresh);
      if (!a) {
        const v = await this.svc.repo.volume(t.account_id.trim(), fresh);
        if (v && (v.state === 'available' || v.state === 'error')) await this.svc.delete(t.account_id.trim(), fresh).catch(() => {});
        // A merge's new volume before its disk was made (no clone is running: the task made none).
        if (v?.state === 'creating' && (await this.svc.repo.setVolumeState(fresh, ['creating'], 'deleting'))) {
          await this.svc.queue.run(fresh, () => this.svc.deleteDisk(fresh), () => {});
        }
      }
    }
    await this.repo.setState(t.id, ['failing'], 'failed');
  }
}
