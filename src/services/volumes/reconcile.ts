/**
 * Reconciliation of volumes, attachments and snapshots: applies the tables of src/domain/volume-transitions.ts
 * to every record with no work in flight, against the storage host's inventory; removes this installation's
 * disks that no record knows (a crash between the host's work and the record). Never throws.
 */
import type { VolumeService } from './index.js';
import type { StorageBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import { fillingImage, inImageQueue } from './root.js';
import { attachmentAction, snapshotAction, volumeAction, LIVE_INSTANCE_STATES } from '../../domain/volume-transitions.js';

export async function reconcileVolumes(svc: VolumeService, storage: StorageBackend, log: Logger): Promise<void> {
  const { repo, queue } = svc;
  // Records changed after the inventory was read are judged next time (a volume made meanwhile is not lost).
  const listedAt = Date.now() - 1000;
  const stale = (r: { updated_at: Date }) => new Date(r.updated_at).getTime() < listedAt;
  let inv;
  try {
    // What an interrupted in-place restore left (a keeper, a half-swapped LV) first: finished or undone, so the
    // inventory shows the snapshot and the volume under their own names (in this process a restore runs in the
    // storage backend's own queue, so none is cut in two here).
    const repaired = await storage.repair();
    if (repaired.length) log.warn('finished or undid interrupted restores on the storage host', { done: repaired });
    inv = await storage.list();
  } catch (e) {
    log.warn('storage host did not answer; volumes not reconciled', { error: e });
    return;
  }
  const disks = new Set(inv.volumes.map((v) => v.volumeId));
  const snaps = new Set(inv.snapshots.map((s) => s.snapshotId));

  // The volumes of an unfinished CreateReplaceRootVolumeTask are its own: their records and disks may disagree
  // for a moment (a root's disk renamed to the new volume before the records say so), and the task resumes them.
  const held = await svc.replacements.repo.heldVolumes();

  // Attachments first: an instance that is gone releases its volumes.
  for (const a of await repo.allAttachments()) {
    if (queue.busy(a.volume_id) || held.has(a.volume_id)) continue;
    const inst = await repo.instanceOf(a.instance_id);
    // A launch in flight records its root volume attached before its backend object exists (the object is made
    // with the disk): no backend id yet is not "gone", and releasing it would unexport (and delete) the root
    // under the starting VM. The launch (or its failure's undo, or a later pass) decides.
    if (inst && LIVE_INSTANCE_STATES.includes(inst.state) && !inst.backend_id) continue;
    const live = !!inst && LIVE_INSTANCE_STATES.includes(inst.state) && !!inst.backend_id;
    const action = attachmentAction(a.state, live);
    if (action === 'plug') void queue.run(a.volume_id, () => svc.plug(a.volume_id, inst!.backend_id!), () => {});
    else if (action === 'unplug') void queue.run(a.volume_id, () => svc.unplug(a.volume_id), () => {});
    else if (action === 'release') void queue.run(a.volume_id, () => svc.release(a.volume_id, a.delete_on_termination), () => {});
  }
  await queue.idle();

  const known = new Set<string>();
  for (const v of await repo.volumesIn(['creating', 'available', 'in-use', 'deleting', 'deleted', 'error'])) {
    known.add(v.id);
    if (queue.busy(v.id) || !stale(v) || held.has(v.id)) continue;
    const action = volumeAction(v.state, disks.has(v.id));
    if (action === 'resume' && v.state === 'creating') void queue.run(v.id, () => svc.createDisk(v.id), () => {});
    else if (action === 'resume' && v.state === 'deleting') void queue.run(v.id, () => svc.deleteDisk(v.id), () => {});
    else if (action === 'lost') await repo.setVolumeState(v.id, [v.state], 'error', 'The volume\'s disk is gone from the storage host');
    else if (action === 'remove-disk') void queue.run(v.id, () => storage.deleteVolume(v.id), (e) => log.error('removing a deleted volume\'s disk failed', { volumeId: v.id, error: e }));
  }
  for (const id of disks) {
    if (!known.has(id) && !queue.busy(id) && !svc.snapshots.temporary.has(id)) {
      log.warn('removing a disk no volume record knows', { volumeId: id });
      await storage.unexport(id).catch(() => {});
      await storage.deleteVolume(id).catch((e) => log.error('removing an unknown disk failed', { volumeId: id, error: e }));
    }
  }

  const knownSnaps = new Set<string>();
  for (const s of await repo.snapshotsIn(['pending', 'completed', 'error'])) {
    knownSnaps.add(s.id);
    if (queue.busy(s.volume_id) || !stale(s)) continue;
    const action = snapshotAction(s.state, snaps.has(s.id));
    if (action === 'resume') {
      // A copy interrupted by a crash is made again from its source (a half-made one is removed first).
      const redo = s.source_snapshot_id
        ? async () => {
            await storage.deleteSnapshot(s.id).catch(() => {});
            await svc.snapshots.copyOnHost(s.id, s.source_snapshot_id!, s.volume_size);
          }
        : () => svc.snapshots.takeSnapshot(s.id, s.volume_id, true);
      void queue.run(s.volume_id, redo, () => {});
    }
    else if (action === 'lost') await repo.setSnapshotState(s.id, 'error', s.progress, 'The snapshot is gone from the storage host');
  }
  for (const id of snaps) {
    if (!knownSnaps.has(id)) await storage.deleteSnapshot(id).catch((e) => log.error('removing an unknown snapshot failed', { snapshotId: id, error: e }));
  }

  // Image disks: removed once their image is deregistered (or gone) and nothing needs them any more (root volumes
  // cloned from one are thin snapshots that do not depend on it), and when a crash interrupted their fill.
  for (const { imageId } of inv.images) {
    if (fillingImage(imageId)) continue;
    await inImageQueue(imageId, async () => {
      const img = (await storage.list()).images.find((i) => i.imageId === imageId); // afresh: a fill may have ended
      if (!img) return;
      const unwanted = !(await repo.imageDiskNeeded(imageId));
      if (!unwanted && img.filled) return;
      log.info(unwanted ? 'removing the disk of a deregistered image' : 'removing an image disk whose fill was interrupted', { imageId });
      await storage.unexport(imageId).catch(() => {});
      await storage.deleteImage(imageId);
    }, (e) => log.error('removing an image disk failed', { imageId, error: e }));
  }
  await repo.purgeDeleted(10 * 60_000);
}
