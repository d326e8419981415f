/**
 * StorageBackend on LVM thin provisioning, on one storage host reached through a HostRunner (this machine, or
 * SSH). Every disk is a thin LV in one thin pool:
 * - a volume: a thin LV of exactly N GiB virtual size (blocks are taken from the pool as they are written);
 * - a snapshot: a thin snapshot of the volume. It shares unchanged blocks, holds no space reservation that could
 *   run out (classic LVM snapshots become invalid when theirs does), and survives its origin;
 * - a volume from a snapshot or an image: a thin snapshot of that snapshot or image, grown to the size asked for.
 *   Instant and independent of its source (measured against a full copy in bench/storage.ts);
 * - in-place restore: see restore.ts; renameVolume hands a volume's LV (UUID, blocks) to another volume id.
 * The pool is created with zeroing (a chunk freed by one volume never shows its bytes to another) and errors
 * rather than queues I/O when full. New disks are refused with StorageCapacityError when the volumes' sizes would
 * exceed the pool times the over-subscription ratio, or the pool is nearly full.
 */
import { setTimeout as sleep } from 'node:timers/promises';
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
import { CommandError } from '../exec/index.js';
import type { HostRunner } from '../exec/hosts.js';
import * as names from './names.js';
import { TAG, TEMP_LV, tagArgs } from './names.js';
import { NbdExports } from './nbd.js';
import { GiB, isOpen, listLvs, tagValue, type LvInfo } from './report.js';
import { repairRestores, restoreInPlace } from './restore.js';

export interface LvmStorageOptions {
  host: HostRunner;
  /** Volume group (THECLOUD_VG) */
  vg: string;
  /** Thin pool in it (THECLOUD_THIN_POOL) */
  pool: string;
  /** The installation's id: tagged on every LV; list() shows only this installation's. */
  cloudId?: string;
  /** NBD exports: port range, listen address on the storage host, address compute hosts connect to */
  nbd: { firstPort: number; lastPort: number; bind: string; address: string; dir?: string };
  /** Volumes' total virtual size may reach the pool's size times this (default 1: no over-subscription). */
  oversubscription?: number;
  /** New disks are refused once the pool's data use reaches this percentage (default 90). */
  fullPercent?: number;
}

/** LVM's own words for "no space" (lvcreate, lvextend, a thin pool out of data or metadata space). */
const NO_SPACE = /Insufficient (free space|suitable allocatable extents)|free space in thin pool .* reached threshold|out of (data|metadata) space|Cannot create new thin volume|would exceed|has insufficient free space/i;

export class LvmStorageBackend implements StorageBackend {
  readonly name = 'lvm' as const;
  readonly location: string;
  private readonly host: HostRunner;
  private readonly vg: string;
  private readonly pool: string;
  private readonly cloudId?: string;
  private readonly nbd: NbdExports;
  private readonly nbdAddress: string;
  private readonly oversubscription: number;
  private readonly fullPercent: number;
  /** One operation at a time: capacity checks, port choice and restores must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: LvmStorageOptions) {
    this.host = opts.host;
    this.location = opts.host.location;
    this.vg = names.lvmName('volume group', opts.vg);
    this.pool = names.lvmName('thin pool', opts.pool);
    this.cloudId = opts.cloudId === undefined ? undefined : names.cloudId(opts.cloudId);
    this.nbd = new NbdExports(opts.host.run, {
      dir: opts.nbd.dir ?? '/run/thecloud-nbd',
      firstPort: opts.nbd.firstPort,
      lastPort: opts.nbd.lastPort,
      bind: opts.nbd.bind,
    });
    this.nbdAddress = opts.nbd.address;
    this.oversubscription = opts.oversubscription ?? 1;
    this.fullPercent = opts.fullPercent ?? 90;
  }

  // --- volumes ----------------------------------------------------------------------------------------------------

  async createVolume(volumeId: string, sizeGiB: number, source?: VolumeSource): Promise<void> {
    names.volumeId(volumeId);
    names.sizeGiB(sizeGiB);
    const from = names.sourceId(source);
    return this.serial(async () => {
      if (!from) return this.createEmpty(volumeId, sizeGiB);
      const lvs = await this.lvs();
      const existing = lvs.find((lv) => lv.name === volumeId);
      if (existing) {
        if (this.ours(existing) && existing.sizeBytes === sizeGiB * GiB) return; // a retried create
        throw new Error(`an LV named ${volumeId} already exists in ${this.vg} (not this volume)`);
      }
      const fromLv = this.find(lvs, from);
      if (fromLv.tags.includes(TAG.partial)) throw new StorageNotFoundError(`${from} on ${this.location} is not filled (an interrupted fill)`);
      if (fromLv.sizeBytes > sizeGiB * GiB) {
        throw new RangeError(`volume size ${sizeGiB} GiB is smaller than ${from} (${fromLv.sizeBytes / GiB} GiB)`);
      }
      this.checkCapacity(lvs, sizeGiB);
      // A thin snapshot of the snapshot or image, activated like any volume (-kn: no activation skip).
      await this.lvm('lvcreate', ['-q', '-s', '-kn', '-n', volumeId, ...tagArgs('volume', volumeId, this.cloudId, from), this.lvPath(fromLv.name)]);
      if (fromLv.sizeBytes < sizeGiB * GiB) {
        await this.undoing(volumeId, () => this.lvm('lvextend', ['-q', '-L', `${sizeGiB}g`, this.lvPath(volumeId)]));
      }
    });
  }

  /**
   * An empty volume: the report its checks read and the lvcreate run at the same time (on a storage host each
   * LVM command costs a process start and a round trip, the report about as much as the create itself). The
   * checks are the same as before a create: a name already taken (lvcreate refuses it; the report says whether
   * it is this volume, a retried create) and the pool's capacity, judged on the report without the new LV. A
   * create the checks refuse is removed again before the error is thrown (a thin LV holds no blocks until
   * written, so nothing else saw space go).
   */
  private async createEmpty(volumeId: string, sizeGiB: number): Promise<void> {
    const tags = tagArgs('volume', volumeId, this.cloudId);
    const [report, create] = await Promise.allSettled([
      this.lvs(),
      this.lvm('lvcreate', ['-q', '-V', `${sizeGiB}g`, '-T', this.lvPath(this.pool), '-n', volumeId, ...tags]),
    ]);
    if (create.status === 'rejected') {
      const existing = report.status === 'fulfilled' ? report.value.find((lv) => lv.name === volumeId) : undefined;
      if (existing) {
        if (this.ours(existing) && existing.sizeBytes === sizeGiB * GiB) return; // a retried create
        throw new Error(`an LV named ${volumeId} already exists in ${this.vg} (not this volume)`);
      }
      if (report.status === 'fulfilled') this.checkCapacity(report.value, sizeGiB); // the checks' error first, as before
      throw create.reason;
    }
    await this.undoing(volumeId, async () => {
      if (report.status === 'rejected') throw report.reason;
      this.checkCapacity(report.value.filter((lv) => lv.name !== volumeId), sizeGiB);
    });
  }

  async deleteVolume(volumeId: string): Promise<void> {
    names.volumeId(volumeId);
    return this.serial(() => this.remove(volumeId));
  }

  async resizeVolume(volumeId: string, sizeGiB: number): Promise<void> {
    names.volumeId(volumeId);
    names.sizeGiB(sizeGiB);
    return this.serial(async () => {
      const lvs = await this.lvs();
      const lv = this.find(lvs, volumeId);
      if (sizeGiB * GiB < lv.sizeBytes) throw new RangeError(`${volumeId} is ${lv.sizeBytes / GiB} GiB: a volume only grows`);
      if (sizeGiB * GiB === lv.sizeBytes) return;
      this.checkCapacity(lvs, sizeGiB - lv.sizeBytes / GiB);
      await this.lvm('lvextend', ['-q', '-L', `${sizeGiB}g`, this.lvPath(volumeId)]);
    });
  }

  // --- snapshots --------------------------------------------------------------------------------------------------

  async createSnapshot(volumeId: string, snapshotId: string): Promise<void> {
    names.volumeId(volumeId);
    names.snapshotId(snapshotId);
    return this.serial(async () => {
      const lvs = await this.lvs();
      const existing = lvs.find((lv) => lv.name === snapshotId);
      if (existing) {
        if (this.ours(existing) && tagValue(existing, 'thecloud.from') === volumeId) return; // a retried create
        throw new Error(`an LV named ${snapshotId} already exists in ${this.vg} (not this snapshot)`);
      }
      this.find(lvs, volumeId);
      this.checkCapacity(lvs, 0);
      // A thin snapshot: LVM suspends the origin for the instant it takes (point in time). It keeps LVM's
      // activation-skip flag: a snapshot is never opened, only cloned from.
      await this.lvm('lvcreate', ['-q', '-s', '-n', snapshotId, ...tagArgs('snapshot', snapshotId, this.cloudId, volumeId), this.lvPath(volumeId)]);
    });
  }

  /**
   * One point in time for all: the volumes' NBD servers are held still (see NbdExports.freeze) while the thin
   * snapshots are taken one after another, then released. Not dm-level: `dmsetup suspend` of the origins before
   * lvcreate breaks the thin pool (LVM then resumes the "already suspended" origin without sending the pool its
   * create message, and the pool's transaction id no longer matches LVM's). A disk exported as a local block
   * device (storage on this machine) has no server to hold: its snapshot is taken back to back with the others.
   */
  async createSnapshots(items: Array<{ volumeId: string; snapshotId: string }>): Promise<void> {
    for (const i of items) {
      names.volumeId(i.volumeId);
      names.snapshotId(i.snapshotId);
    }
    return this.serial(async () => {
      const lvs = await this.lvs();
      const todo = items.filter((i) => {
        const existing = lvs.find((lv) => lv.name === i.snapshotId);
        if (!existing) return true;
        if (this.ours(existing) && tagValue(existing, 'thecloud.from') === i.volumeId) return false; // a retried create
        throw new Error(`an LV named ${i.snapshotId} already exists in ${this.vg} (not this snapshot)`);
      });
      for (const i of todo) this.find(lvs, i.volumeId);
      this.checkCapacity(lvs, 0);
      const made: string[] = [];
      const held = await this.nbd.freeze(todo.map((i) => i.volumeId));
      try {
        for (const i of todo) {
          await this.lvm('lvcreate', ['-q', '-s', '-n', i.snapshotId, ...tagArgs('snapshot', i.snapshotId, this.cloudId, i.volumeId), this.lvPath(i.volumeId)]);
          made.push(i.snapshotId);
        }
      } catch (e) {
        for (const id of made) await this.host.run('lvremove', ['-q', '-y', this.lvPath(id)], { allowFailure: true });
        throw e;
      } finally {
        await this.nbd.thaw(held);
      }
    });
  }

  async deleteSnapshot(snapshotId: string): Promise<void> {
    names.snapshotId(snapshotId);
    return this.serial(() => this.remove(snapshotId));
  }

  async restoreSnapshotInPlace(snapshotId: string, volumeId: string): Promise<void> {
    names.snapshotId(snapshotId);
    names.volumeId(volumeId);
    return this.serial(async () => {
      await repairRestores(this.ctx(), await this.lvs());
      const lvs = await this.lvs();
      const volume = this.find(lvs, volumeId);
      const snapshot = this.find(lvs, snapshotId);
      if ((await this.nbd.find(volumeId)) || isOpen(volume)) throw new StorageBusyError(`${volumeId} is in use: detach it first`);
      this.checkCapacity(lvs, 0);
      await restoreInPlace(this.ctx(), snapshot, volume);
    });
  }

  async restoreMerges(snapshotId: string, volumeId: string): Promise<boolean> {
    names.snapshotId(snapshotId);
    names.volumeId(volumeId);
    return this.serial(async () => {
      const lvs = await this.lvs();
      const mine = (id: string) => lvs.find((lv) => lv.name === id && this.ours(lv));
      const snapshot = mine(snapshotId);
      return !!snapshot && !!mine(volumeId) && snapshot.origin === volumeId; // restoreInPlace's merge path
    });
  }

  /**
   * lvrename, then the id tag (one lvchange: one metadata commit). A crash between the two leaves the LV under
   * its new name with the old id tag: list() already shows it by its name, and the retried rename fixes the tag.
   */
  async renameVolume(volumeId: string, newVolumeId: string): Promise<void> {
    names.volumeId(volumeId);
    names.volumeId(newVolumeId);
    return this.serial(async () => {
      const lvs = await this.lvs();
      const from = lvs.find((lv) => lv.name === volumeId);
      const to = lvs.find((lv) => lv.name === newVolumeId);
      if (to) {
        const id = tagValue(to, 'thecloud.id');
        if (from || !this.ours(to) || (id !== volumeId && id !== newVolumeId)) {
          throw new Error(`an LV named ${newVolumeId} already exists in ${this.vg} (not ${volumeId} renamed)`);
        }
        if (id === volumeId) await this.lvm('lvchange', ['-q', '--deltag', TAG.id(volumeId), '--addtag', TAG.id(newVolumeId), this.lvPath(newVolumeId)]);
        return;
      }
      const lv = this.find(lvs, volumeId);
      if ((await this.nbd.find(volumeId)) || isOpen(lv)) throw new StorageBusyError(`${volumeId} is in use: detach it first`);
      await this.lvm('lvrename', ['-q', this.lvPath(volumeId), this.lvPath(newVolumeId)]);
      await this.lvm('lvchange', ['-q', '--deltag', TAG.id(volumeId), '--addtag', TAG.id(newVolumeId), this.lvPath(newVolumeId)]);
    });
  }

  // --- images -----------------------------------------------------------------------------------------------------

  async createImage(imageId: string, sizeGiB: number): Promise<void> {
    names.imageId(imageId);
    names.sizeGiB(sizeGiB);
    return this.serial(async () => {
      const lvs = await this.lvs();
      const existing = lvs.find((lv) => lv.name === imageId);
      if (existing) {
        if (this.ours(existing) && existing.sizeBytes === sizeGiB * GiB) return;
        throw new Error(`an LV named ${imageId} already exists in ${this.vg} (not this image)`);
      }
      this.checkCapacity(lvs, sizeGiB);
      await this.lvm('lvcreate', ['-q', '-V', `${sizeGiB}g`, '-T', this.lvPath(this.pool), '-n', imageId, ...tagArgs('image', imageId, this.cloudId), '--addtag', TAG.partial]);
    });
  }

  async completeImage(imageId: string): Promise<void> {
    names.imageId(imageId);
    return this.serial(async () => {
      this.find(await this.lvs(), imageId);
      await this.lvm('lvchange', ['-q', '--deltag', TAG.partial, this.lvPath(imageId)]);
    });
  }

  async deleteImage(imageId: string): Promise<void> {
    names.imageId(imageId);
    return this.serial(() => this.remove(imageId));
  }

  // --- exports ----------------------------------------------------------------------------------------------------

  async export(diskId: string, forHost: ComputeHost): Promise<DiskExport> {
    names.diskId(diskId);
    return this.serial(async () => {
      const lv = this.find(await this.lvs(), diskId);
      if (this.host.local && forHost === 'local') return { kind: 'block', devicePath: this.devicePath(lv.name) };
      const running = (await this.nbd.find(diskId)) ?? (await this.nbd.start(diskId, this.devicePath(lv.name)));
      return { kind: 'nbd', host: this.nbdAddress, port: running.port, exportName: diskId };
    });
  }

  async unexport(diskId: string): Promise<void> {
    names.diskId(diskId);
    return this.serial(() => this.nbd.stop(diskId));
  }

  // --- inventory --------------------------------------------------------------------------------------------------

  list(): Promise<StorageInventory> {
    return this.serial(async () => {
      const mine = (await this.lvs()).filter((lv) => this.ours(lv));
      const inv: StorageInventory = { volumes: [], snapshots: [], images: [], exports: [], leftovers: [] };
      for (const lv of mine) {
        const from = tagValue(lv, 'thecloud.from');
        const sizeGiB = lv.sizeBytes / GiB;
        if (TEMP_LV.test(lv.name)) inv.leftovers.push(lv.name);
        else if (names.VOLUME_ID.test(lv.name)) {
          const source = from && names.SNAPSHOT_ID.test(from) ? { snapshotId: from } : from && names.IMAGE_ID.test(from) ? { imageId: from } : undefined;
          inv.volumes.push({ volumeId: lv.name, sizeGiB, ...(source ? { source } : {}) });
        } else if (names.SNAPSHOT_ID.test(lv.name)) inv.snapshots.push({ snapshotId: lv.name, volumeId: from ?? '', sizeGiB });
        else if (names.IMAGE_ID.test(lv.name)) inv.images.push({ imageId: lv.name, sizeGiB, filled: !lv.tags.includes(TAG.partial) });
      }
      const ids = new Set(mine.map((lv) => lv.name));
      for (const e of await this.nbd.list()) {
        if (ids.has(e.diskId)) inv.exports.push({ diskId: e.diskId, export: { kind: 'nbd', host: this.nbdAddress, port: e.port, exportName: e.diskId } });
      }
      return inv;
    });
  }

  repair(): Promise<string[]> {
    return this.serial(async () => repairRestores(this.ctx(), await this.lvs()));
  }

  async probe(): Promise<ProbeResult> {
    try {
      const pool = (await this.lvs()).find((lv) => lv.name === this.pool);
      if (!pool) return { ok: false, detail: `volume group ${this.vg} on ${this.location} has no thin pool ${this.pool}` };
      if (pool.attr[0] !== 't') return { ok: false, detail: `${this.vg}/${this.pool} on ${this.location} is not a thin pool` };
      const size = (pool.sizeBytes / GiB).toFixed(1);
      return { ok: true, detail: `volume group ${this.vg} on ${this.location}: thin pool ${this.pool} of ${size} GiB, ${pool.dataPercent}% used` };
    } catch (e) {
      return { ok: false, detail: `volume group ${this.vg} on ${this.location} does not answer: ${(e as Error).message.slice(0, 300)}` };
    }
  }

  // --- helpers ----------------------------------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private lvPath(lv: string): string {
    return `${this.vg}/${lv}`;
  }

  private devicePath(lv: string): string {
    return `/dev/${this.vg}/${lv}`;
  }

  private lvs(): Promise<LvInfo[]> {
    return listLvs(this.host.run, this.vg);
  }

  /** An LVM command; "no space" becomes StorageCapacityError. */
  private async lvm(command: string, args: string[]): Promise<void> {
    try {
      await this.host.run(command, args, { timeoutMs: 120_000 });
    } catch (e) {
      if (e instanceof CommandError && NO_SPACE.test(e.stderr)) {
        throw new StorageCapacityError(`not enough space in ${this.vg}/${this.pool}: ${e.stderr.trim().split('\n')[0]}`);
      }
      throw e;
    }
  }

  /** Runs a step after `lv` was created; if the step fails, the LV is removed again (nothing half-made). */
  private async undoing(lv: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (e) {
      await this.host.run('lvremove', ['-q', '-y', this.lvPath(lv)], { allowFailure: true });
      throw e;
    }
  }

  private ours(lv: LvInfo): boolean {
    if (!lv.tags.includes(TAG.managed)) return false;
    return this.cloudId === undefined || lv.tags.includes(TAG.cloud(this.cloudId));
  }

  /** This installation's LV of that id, or StorageNotFoundError. */
  private find(lvs: LvInfo[], id: string): LvInfo {
    const lv = lvs.find((x) => x.name === id);
    if (!lv || !this.ours(lv) || tagValue(lv, 'thecloud.id') !== id) throw new StorageNotFoundError(`${id} does not exist on ${this.location}`);
    return lv;
  }

  private async remove(id: string): Promise<void> {
    let lv = (await this.lvs()).find((x) => x.name === id);
    if (!lv) return;
    if (!this.ours(lv)) throw new StorageNotFoundError(`${id} on ${this.location} is not this installation's`);
    if (await this.nbd.find(id)) throw new StorageBusyError(`${id} is in use (exported)`);
    // Open but not exported: a moment's open on the storage host (udev probing a new LV, a reader just done)
    // passes; seen as a DeleteVolume right after CreateVolume ending in `error`.
    for (let i = 0; lv && isOpen(lv) && i < 6; i++) {
      await sleep(500);
      lv = (await this.lvs()).find((x) => x.name === id);
    }
    if (!lv) return;
    if (isOpen(lv)) throw new StorageBusyError(`${id} is in use (open on ${this.location})`);
    await this.lvm('lvremove', ['-q', '-y', this.lvPath(id)]);
  }

  /**
   * Refuses a disk of `addGiB` more virtual size when the volumes and images would exceed the pool's size times
   * the over-subscription ratio (snapshots share their origin's blocks and are not counted), or when the pool's
   * data use has reached fullPercent (snapshots diverge as their volumes are written).
   */
  private checkCapacity(lvs: LvInfo[], addGiB: number): void {
    const pool = lvs.find((lv) => lv.name === this.pool);
    if (!pool) throw new Error(`volume group ${this.vg} has no thin pool ${this.pool}`);
    if (pool.dataPercent >= this.fullPercent) {
      throw new StorageCapacityError(`thin pool ${this.vg}/${this.pool} is ${pool.dataPercent}% full`);
    }
    const provisioned = lvs
      .filter((lv) => lv.pool === this.pool && (names.VOLUME_ID.test(lv.name) || names.IMAGE_ID.test(lv.name)))
      .reduce((sum, lv) => sum + lv.sizeBytes, 0);
    const limit = pool.sizeBytes * this.oversubscription;
    if (provisioned + addGiB * GiB > limit) {
      const free = Math.max(0, Math.floor((limit - provisioned) / GiB));
      throw new StorageCapacityError(`${addGiB} GiB more does not fit in thin pool ${this.vg}/${this.pool}: ${free} GiB left to provision`);
    }
  }

  private ctx() {
    return {
      run: this.host.run,
      vg: this.vg,
      cloudId: this.cloudId,
      lvs: () => this.lvs(),
      lvm: (c: string, a: string[]) => this.lvm(c, a),
    };
  }
}
