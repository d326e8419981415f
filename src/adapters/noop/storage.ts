/**
 * The noop storage adapter: the whole StorageBackend port in memory, with EC2's rules (distinct volumes, snapshots
 * that outlive their volume, restores that copy exactly the snapshot's content and touch nothing else). A disk's
 * "content" is a token that stands for its bytes: tests write one with writeContent() and read it back.
 */
import type { ProbeResult } from '../../ports/compute.js';
import {
  StorageBusyError,
  StorageCapacityError,
  StorageNotFoundError,
  type ComputeHost,
  type DiskExport,
  type StorageBackend,
  type StorageInventory,
  type VolumeSource,
} from '../../ports/storage.js';
import * as names from '../lvm/names.js';

interface Disk {
  kind: names.DiskKind;
  sizeGiB: number;
  content: string;
  from?: string;
  /** A snapshot: the disk it is a snapshot of while that disk exists under this name (LVM's origin) */
  origin?: string;
  /** An image disk whose fill has not finished */
  partial?: boolean;
}

export class NoopStorageBackend implements StorageBackend {
  readonly name = 'noop' as const;
  readonly location = 'memory';
  private readonly disks = new Map<string, Disk>();
  private readonly exported = new Set<string>();

  /** capacityGiB: the total size of volumes and images it accepts (StorageCapacityError beyond). */
  constructor(private readonly capacityGiB = 1024 * 1024) {}

  async createVolume(volumeId: string, sizeGiB: number, source?: VolumeSource): Promise<void> {
    names.volumeId(volumeId);
    names.sizeGiB(sizeGiB);
    const from = names.sourceId(source);
    const existing = this.disks.get(volumeId);
    if (existing) {
      if (existing.sizeGiB === sizeGiB) return;
      throw new Error(`${volumeId} already exists`);
    }
    const origin = from === undefined ? undefined : this.get(from);
    if (origin && origin.sizeGiB > sizeGiB) throw new RangeError(`volume size ${sizeGiB} GiB is smaller than ${from}`);
    this.fit(sizeGiB);
    this.disks.set(volumeId, { kind: 'volume', sizeGiB, content: origin?.content ?? 'zeros', from });
  }

  async deleteVolume(volumeId: string): Promise<void> {
    this.remove(names.volumeId(volumeId));
  }

  async resizeVolume(volumeId: string, sizeGiB: number): Promise<void> {
    names.sizeGiB(sizeGiB);
    const d = this.get(names.volumeId(volumeId));
    if (sizeGiB < d.sizeGiB) throw new RangeError(`${volumeId} is ${d.sizeGiB} GiB: a volume only grows`);
    this.fit(sizeGiB - d.sizeGiB);
    d.sizeGiB = sizeGiB;
  }

  async createSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    names.snapshotId(snapshotId);
    const v = this.get(names.volumeId(volumeId));
    if (this.disks.has(snapshotId)) return;
    this.disks.set(snapshotId, { kind: 'snapshot', sizeGiB: v.sizeGiB, content: v.content, from: volumeId, origin: volumeId });
  }

  async createSnapshots(items: Array<{ volumeId: string; snapshotId: string }>): Promise<void> {
    for (const i of items) this.get(names.volumeId(i.volumeId));
    for (const i of items) await this.createSnapshot(i.volumeId, i.snapshotId);
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    this.remove(names.snapshotId(snapshotId));
  }

  async restoreSnapshotInPlace(snapshotId: string, volumeId: string): Promise<void> {
    const s = this.get(names.snapshotId(snapshotId));
    const v = this.get(names.volumeId(volumeId));
    if (this.exported.has(volumeId)) throw new StorageBusyError(`${volumeId} is in use: detach it first`);
    if (v.kind !== 'volume') throw new StorageNotFoundError(`${volumeId} is no volume`);
    v.content = s.content;
    v.sizeGiB = Math.max(v.sizeGiB, s.sizeGiB);
  }

  async restoreMerges(snapshotId: string, volumeId: string): Promise<boolean> {
    names.snapshotId(snapshotId);
    names.volumeId(volumeId);
    return this.disks.has(volumeId) && this.disks.get(snapshotId)?.origin === volumeId;
  }

  async renameVolume(volumeId: string, newVolumeId: string): Promise<void> {
    names.volumeId(volumeId);
    names.volumeId(newVolumeId);
    const d = this.disks.get(volumeId);
    if (this.disks.has(newVolumeId)) {
      if (d) throw new Error(`${newVolumeId} already exists (not ${volumeId} renamed)`);
      return;
    }
    if (!d || d.kind !== 'volume') throw new StorageNotFoundError(`${volumeId} does not exist`);
    if (this.exported.has(volumeId)) throw new StorageBusyError(`${volumeId} is in use: detach it first`);
    this.disks.delete(volumeId);
    this.disks.set(newVolumeId, d);
    for (const s of this.disks.values()) if (s.origin === volumeId) s.origin = newVolumeId;
  }

  async createImage(imageId: string, sizeGiB: number): Promise<void> {
    names.imageId(imageId);
    names.sizeGiB(sizeGiB);
    if (this.disks.has(imageId)) return;
    this.fit(sizeGiB);
    this.disks.set(imageId, { kind: 'image', sizeGiB, content: 'zeros', partial: true });
  }

  async completeImage(imageId: string): Promise<void> {
    this.get(names.imageId(imageId)).partial = false;
  }

  async deleteImage(imageId: string): Promise<void> {
    this.remove(names.imageId(imageId));
  }

  async export(diskId: string, _forHost: ComputeHost): Promise<DiskExport> {
    this.get(names.diskId(diskId));
    this.exported.add(diskId);
    return { kind: 'block', devicePath: `/dev/thecloud-noop/${diskId}` };
  }

  async unexport(diskId: string): Promise<void> {
    this.exported.delete(names.diskId(diskId));
  }

  async list(): Promise<StorageInventory> {
    const inv: StorageInventory = { volumes: [], snapshots: [], images: [], exports: [], leftovers: [] };
    for (const [id, d] of this.disks) {
      if (d.kind === 'volume') {
        const source = d.from?.startsWith('snap-') ? { snapshotId: d.from } : d.from ? { imageId: d.from } : undefined;
        inv.volumes.push({ volumeId: id, sizeGiB: d.sizeGiB, ...(source ? { source } : {}) });
      } else if (d.kind === 'snapshot') inv.snapshots.push({ snapshotId: id, volumeId: d.from ?? '', sizeGiB: d.sizeGiB });
      else inv.images.push({ imageId: id, sizeGiB: d.sizeGiB, filled: !d.partial });
    }
    for (const id of this.exported) inv.exports.push({ diskId: id, export: { kind: 'block', devicePath: `/dev/thecloud-noop/${id}` } });
    return inv;
  }

  async repair(): Promise<string[]> {
    return [];
  }

  async probe(): Promise<ProbeResult> {
    return { ok: true, detail: 'noop backend: volumes in memory, nothing on the host' };
  }

  /** For tests: what a guest would write to the volume. */
  writeContent(volumeId: string, content: string): void {
    this.get(volumeId).content = content;
  }

  /** For tests: the content a disk holds. */
  contentOf(id: string): string {
    return this.get(id).content;
  }

  private get(id: string): Disk {
    const d = this.disks.get(id);
    if (!d) throw new StorageNotFoundError(`${id} does not exist`);
    return d;
  }

  private remove(id: string): void {
    if (this.exported.has(id)) throw new StorageBusyError(`${id} is in use (exported)`);
    this.disks.delete(id);
  }

  private fit(addGiB: number): void {
    let used = 0;
    for (const d of this.disks.values()) if (d.kind !== 'snapshot') used += d.sizeGiB;
    if (used + addGiB > this.capacityGiB) throw new StorageCapacityError(`${addGiB} GiB more does not fit (${this.capacityGiB - used} GiB left)`);
  }
}
