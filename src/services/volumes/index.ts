/**
 * EBS volumes with EC2's semantics over a StorageBackend, and their attachments to instances over
 * the ComputeBackend. Every change writes the record in its transitional state first (creating, deleting,
 * attaching, detaching, pending), then does the host work in the volume's queue, then writes the final state;
 * a host failure leaves `error` (a volume or snapshot) or rolls the attachment back, with the reason kept.
 * Snapshots are in ./snapshots.ts; reconciliation (./reconcile.ts) finishes what a crash interrupted.
 */
import { Ec2Error, invalidParameterValue, missingParameter, unsupportedOperation } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { VolumeRepository, VolumeRow, AttachmentRow } from '../../db/repositories/volumes.js';
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { ComputeBackend, StorageBackend } from '../../ports/index.js';
import type { CatalogService } from '../catalog/index.js';
import type { Logger } from '../../server/log.js';
import { InstanceQueue } from '../instances/queue.js';
import { checkVolumeShape, deviceSlot } from '../../domain/volume-types.js';
import { why } from './why.js';
import { SnapshotService } from './snapshots.js';
import { reconcileVolumes } from './reconcile.js';
import { ROOT_DEVICES, type LaunchVolumes, type RootImage } from '../instances/volume-step.js';
import type { VolumeAttachment } from '../../ports/compute.js';
import * as root from './root.js';
import { RootReplacements } from './root-replace.js';
import { ReplaceTaskRepository } from '../../db/repositories/root-replacements.js';

export interface CreateVolumeInput {
  availabilityZone?: string;
  sizeGiB?: number;
  snapshotId?: string;
  volumeType?: string;
  iops?: number;
  throughput?: number;
  encrypted?: boolean;
  clientToken?: string;
}

/** What the volume service needs of instances: the records (read only). */
export interface InstanceLookup {
  byIds(accountId: string, ids: string[]): Promise<InstanceRow[]>;
  /** Runs work while the instance is shut down, then starts it again (CreateReplaceRootVolumeTask). */
  whileShutDown?<T>(instanceId: string, fn: (backendId: string) => Promise<T>): Promise<T>;
}

/**
 * The slot of a device already recorded: a root volume's device (/dev/xvda, /dev/sda1) is no data slot (sdX) and
 * is its own slot, so that attaching beside a root volume compares rather than refuses.
 */
function recordedSlot(device: string): string {
  return ROOT_DEVICES.includes(device) ? device : deviceSlot(device);
}

export class VolumeService implements LaunchVolumes {
  /** Host work per volume id, one at a time (a delete after a create runs after it). */
  readonly queue = new InstanceQueue();

  constructor(
    readonly repo: VolumeRepository,
    readonly instances: InstanceLookup,
    private readonly catalog: CatalogService,
    private readonly storage: StorageBackend,
    private readonly compute: ComputeBackend,
    private readonly log: Logger,
  ) {
    this.snapshots = new SnapshotService(this, storage, log);
    this.replacements = new RootReplacements(this, new ReplaceTaskRepository(repo.db), log, () => {
      const i = this.instances;
      return i.whileShutDown ? { whileShutDown: (id, fn) => i.whileShutDown!(id, fn) } : undefined;
    });
  }

  /** CreateReplaceRootVolumeTask (./root-replace.ts). */
  readonly replacements: RootReplacements;

  /** Snapshots (./snapshots.ts). */
  readonly snapshots: SnapshotService;

  /** The backends, for ./root.ts */
  get backends(): { storage: StorageBackend; compute: ComputeBackend } {
    return { storage: this.storage, compute: this.compute };
  }

  /** Root volumes: libvirt instances on LVM storage boot from an EBS volume (./root.ts). */
  get rootVolumes(): boolean {
    return this.storage.name === 'lvm' && this.compute.name === 'libvirt';
  }

  provisionRoot(row: InstanceRow, image: RootImage, m: { sizeGiB?: number; type?: string; deleteOnTermination: boolean }): Promise<void> {
    return root.provisionRoot(this, row, image, m);
  }

  rootDisk(instanceId: string): Promise<VolumeAttachment | undefined> {
    return root.rootDisk(this, instanceId);
  }

  async replacingRoot(instanceId: string): Promise<boolean> {
    return (await this.replacements.repo.unfinished(instanceId)).some((t) => t.state === 'in-progress');
  }

  releaseRoot(instanceId: string): Promise<void> {
    return root.releaseRoot(this, instanceId);
  }

  async volume(accountId: string, id: string): Promise<VolumeRow> {
    const v = await this.repo.volume(accountId, id);
    if (!v) throw new Ec2Error('InvalidVolume.NotFound', `The volume '${id}' does not exist.`);
    return v;
  }

  /** CreateVolume's checks, no write: what the volume will be. */
  async checkCreate(accountId: string, input: CreateVolumeInput): Promise<{ zone: string; shape: ReturnType<typeof checkVolumeShape> }> {
    if (input.encrypted) {
      throw unsupportedOperation('Encrypted volumes are not supported by this cloud yet: create the volume with Encrypted=false.');
    }
    if (!input.availabilityZone) throw missingParameter('AvailabilityZone');
    if (!this.catalog.zone(input.availabilityZone)) {
      throw invalidParameterValue('availabilityZone', input.availabilityZone, `The zone is not one of this region's (${this.catalog.zones().map((z) => z.name).join(', ')}).`);
    }
    let minGiB = 0;
    if (input.snapshotId) {
      const snap = await this.snapshots.restorable(accountId, input.snapshotId);
      if (snap.state !== 'completed') throw new Ec2Error('IncorrectState', `Snapshot '${snap.id}' is not 'completed'.`);
      minGiB = snap.volume_size;
    } else if (input.sizeGiB === undefined) {
      throw missingParameter('size');
    }
    const shape = checkVolumeShape({ type: input.volumeType, sizeGiB: input.sizeGiB, iops: input.iops, throughput: input.throughput }, minGiB);
    return { zone: input.availabilityZone, shape };
  }

  /** CreateVolume: the row (creating) now, the disk in the background. Idempotent by ClientToken. */
  async create(accountId: string, input: CreateVolumeInput): Promise<{ row: VolumeRow; isNew: boolean }> {
    if (input.clientToken) {
      const prior = await this.repo.byClientToken(accountId, input.clientToken);
      if (prior) return { row: this.checkSameRequest(prior, input), isNew: false };
    }
    const { zone, shape } = await this.checkCreate(accountId, input);
    const id = newId('volume');
    const ok = await this.repo.insertVolume({
      id, account_id: accountId, availability_zone: zone, size_gib: shape.sizeGiB, volume_type: shape.type, iops: shape.iops,
      throughput: shape.throughput, snapshot_id: input.snapshotId ?? null, state: 'creating', client_token: input.clientToken ?? null,
    });
    if (!ok) return this.create(accountId, input); // a concurrent call with the same token won
    void this.queue.run(id, () => this.createDisk(id), () => {});
    return { row: (await this.repo.volume(accountId, id))!, isNew: true };
  }

  private checkSameRequest(prior: VolumeRow, input: CreateVolumeInput): VolumeRow {
    const same = prior.availability_zone === input.availabilityZone && (input.sizeGiB === undefined || prior.size_gib === input.sizeGiB)
      && (prior.snapshot_id ?? undefined) === input.snapshotId && prior.volume_type === (input.volumeType ?? 'gp2');
    if (!same) throw new Ec2Error('IdempotentParameterMismatch', 'The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.');
    return prior;
  }

  /** The host side of a creating volume; also what reconciliation redoes (createVolume is idempotent). */
  async createDisk(id: string): Promise<void> {
    const rows = await this.repo.volumesIn(['creating']);
    const v = rows.find((r) => r.id === id);
    if (!v) return;
    try {
      await this.storage.createVolume(id, v.size_gib, v.snapshot_id ? { snapshotId: v.snapshot_id } : v.image_id ? { imageId: v.image_id } : undefined);
      await this.repo.setVolumeState(id, ['creating'], 'available');
    } catch (e) {
      this.log.error('creating a volume failed', { volumeId: id, error: e });
      await this.storage.deleteVolume(id).catch(() => {});
      await this.repo.setVolumeState(id, ['creating'], 'error', why(e));
    }
  }

  /** DeleteVolume's checks. */
  async checkDelete(accountId: string, id: string): Promise<VolumeRow> {
    const v = await this.volume(accountId, id);
    if (v.state === 'in-use') {
      const a = await this.repo.attachment(id);
      throw new Ec2Error('VolumeInUse', `Volume ${id} is currently attached to ${a?.instance_id ?? 'an instance'}`);
    }
    if (v.state !== 'available' && v.state !== 'error') {
      throw new Ec2Error('IncorrectState', `The volume '${id}' is '${v.state}'.`);
    }
    return v;
  }

  async delete(accountId: string, id: string): Promise<void> {
    const v = await this.checkDelete(accountId, id);
    if (!(await this.repo.setVolumeState(id, [v.state], 'deleting'))) return this.delete(accountId, id);
    void this.queue.run(id, () => this.deleteDisk(id), () => {});
  }

  async deleteDisk(id: string): Promise<void> {
    try {
      await this.storage.deleteVolume(id);
      await this.repo.setVolumeState(id, ['deleting'], 'deleted');
    } catch (e) {
      this.log.error('deleting a volume failed', { volumeId: id, error: e });
      await this.repo.setVolumeState(id, ['deleting'], 'error', why(e));
    }
  }

  // ---- attachments ----

  /** AttachVolume's checks: the volume, the instance and the device, as AWS answers them. */
  async checkAttach(accountId: string, volumeId: string, instanceId: string, device: string): Promise<{ volume: VolumeRow; instance: InstanceRow }> {
    const slot = deviceSlot(device);
    const volume = await this.volume(accountId, volumeId);
    const [instance] = await this.instances.byIds(accountId, [instanceId]);
    if (!instance) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
    if (volume.availability_zone !== instance.availability_zone) {
      throw new Ec2Error('InvalidVolume.ZoneMismatch', `The volume '${volumeId}' is not in the same availability zone as instance '${instanceId}'`);
    }
    if (volume.state === 'in-use') {
      const a = await this.repo.attachment(volumeId);
      throw new Ec2Error('VolumeInUse', `${volumeId} is already attached to an instance${a ? ` (${a.instance_id})` : ''}`);
    }
    if (volume.state !== 'available') throw new Ec2Error('IncorrectState', `vol '${volumeId}' is not 'available'.`);
    if (!['running', 'stopped'].includes(instance.state)) {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${instanceId}' is not in a valid state for this operation (${instance.state}).`);
    }
    if (!instance.backend_id) throw new Ec2Error('IncorrectInstanceState', `The instance '${instanceId}' has no host object yet.`);
    const taken = (await this.repo.attachmentsOf([instanceId])).some((a) => recordedSlot(a.device) === slot);
    if (taken) throw this.deviceInUse(device);
    return { volume, instance };
  }

  private deviceInUse(device: string) {
    return new Ec2Error('InvalidParameterValue', `Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`);
  }

  async attach(accountId: string, volumeId: string, instanceId: string, device: string, deleteOnTermination = false): Promise<AttachmentRow> {
    const { instance } = await this.checkAttach(accountId, volumeId, instanceId, device);
    const slot = deviceSlot(device);
    const r = await this.repo.attach(
      { volume_id: volumeId, instance_id: instanceId, device, delete_on_termination: deleteOnTermination },
      (devices) => devices.some((d) => recordedSlot(d) === slot),
    );
    if (r === 'device') throw this.deviceInUse(device);
    if (r === 'volume') return this.attach(accountId, volumeId, instanceId, device, deleteOnTermination); // answers why
    void this.queue.run(volumeId, () => this.plug(volumeId, instance.backend_id!), () => {});
    return (await this.repo.attachment(volumeId))!;
  }

  /** The host side of an attaching attachment: export the disk, plug it into the instance. */
  async plug(volumeId: string, backendId: string): Promise<void> {
    const a = await this.repo.attachment(volumeId);
    if (!a || a.state !== 'attaching') return;
    try {
      const exp = await this.storage.export(volumeId, 'local');
      await this.compute.attachVolume(backendId, { volumeId, deviceName: a.device, export: exp });
      await this.repo.setAttachmentState(volumeId, ['attaching'], 'attached');
    } catch (e) {
      this.log.error('attaching a volume failed', { volumeId, instanceId: a.instance_id, error: e });
      await this.compute.detachVolume(backendId, volumeId).catch(() => {});
      await this.storage.unexport(volumeId).catch(() => {});
      await this.repo.detached(volumeId);
    }
  }

  /** DetachVolume's checks: the attachment to undo. */
  async checkDetach(accountId: string, volumeId: string, instanceId?: string, device?: string): Promise<AttachmentRow> {
    const v = await this.volume(accountId, volumeId);
    const a = await this.repo.attachment(volumeId);
    if (!a || v.state !== 'in-use') throw new Ec2Error('IncorrectState', `Volume '${volumeId}' is in the '${v.state}' state.`);
    if (instanceId && a.instance_id !== instanceId) {
      throw new Ec2Error('InvalidAttachment.NotFound', `The volume '${volumeId}' is not attached to instance '${instanceId}'.`);
    }
    if (device && recordedSlot(device) !== recordedSlot(a.device)) {
      throw new Ec2Error('InvalidAttachment.NotFound', `The volume '${volumeId}' is not attached at '${device}'.`);
    }
    if (a.state === 'detaching') return a;
    if (a.state !== 'attached' && a.state !== 'attaching') throw new Ec2Error('IncorrectState', `Volume '${volumeId}' is '${a.state}'.`);
    return a;
  }

  async detach(accountId: string, volumeId: string, instanceId?: string, device?: string): Promise<AttachmentRow> {
    const a = await this.checkDetach(accountId, volumeId, instanceId, device);
    await this.repo.setAttachmentState(volumeId, ['attached', 'attaching'], 'detaching');
    void this.queue.run(volumeId, () => this.unplug(volumeId), () => {});
    return { ...a, state: 'detaching' };
  }

  /** The host side of a detaching attachment (also for an instance that is gone). */
  async unplug(volumeId: string): Promise<void> {
    const a = await this.repo.attachment(volumeId);
    if (!a || a.state !== 'detaching') return;
    const instance = await this.repo.instanceOf(a.instance_id);
    try {
      if (instance?.backend_id) await this.compute.detachVolume(instance.backend_id, volumeId);
      await this.storage.unexport(volumeId);
      await this.repo.detached(volumeId);
    } catch (e) {
      // It stays detaching; reconciliation tries again.
      this.log.error('detaching a volume failed', { volumeId, instanceId: a.instance_id, error: e });
    }
  }

  // ---- modifications (grow only) ----

  async checkModify(accountId: string, id: string, input: { sizeGiB?: number; type?: string; iops?: number; throughput?: number }) {
    const v = await this.volume(accountId, id);
    if (v.state !== 'available' && v.state !== 'in-use') throw new Ec2Error('IncorrectState', `The volume '${id}' is '${v.state}'.`);
    if (input.sizeGiB === undefined && input.type === undefined && input.iops === undefined && input.throughput === undefined) {
      throw new Ec2Error('MissingParameter', 'The request must contain at least one of Size, VolumeType, Iops or Throughput');
    }
    if (input.sizeGiB !== undefined && input.sizeGiB < v.size_gib) {
      throw new Ec2Error('InvalidParameterValue', `New size cannot be smaller than existing size (${v.size_gib}GiB).`);
    }
    const type = input.type ?? v.volume_type;
    const keep = type === v.volume_type;
    const shape = checkVolumeShape({
      type, sizeGiB: input.sizeGiB ?? v.size_gib,
      iops: input.iops ?? (keep && (type === 'gp3' || type === 'io1' || type === 'io2') ? (v.iops ?? undefined) : undefined),
      throughput: input.throughput ?? (keep && type === 'gp3' ? (v.throughput ?? undefined) : undefined),
    });
    const m = await this.repo.modification(id);
    if (m && (m.state === 'modifying' || m.state === 'optimizing')) {
      throw new Ec2Error('IncorrectModificationState', `Cannot modify volume ${id}: a modification is in progress (${m.state}).`);
    }
    return { volume: v, shape };
  }

  async modify(accountId: string, id: string, input: { sizeGiB?: number; type?: string; iops?: number; throughput?: number }) {
    const { volume, shape } = await this.checkModify(accountId, id, input);
    const started = await this.repo.startModification(volume, { size: shape.sizeGiB, type: shape.type, iops: shape.iops, throughput: shape.throughput });
    if (!started) throw new Ec2Error('IncorrectModificationState', `Cannot modify volume ${id}: a modification is in progress.`);
    void this.queue.run(id, () => this.grow(id), () => {});
    return (await this.repo.modification(id))!;
  }

  /** The host side of a modification: lvextend to the target size (type and IOPS are records only). */
  async grow(id: string): Promise<void> {
    const m = await this.repo.modification(id);
    if (!m || m.state !== 'modifying') return;
    try {
      if (m.target_size > m.original_size) await this.storage.resizeVolume(id, m.target_size);
      await this.repo.finishModification(id, true);
    } catch (e) {
      this.log.error('growing a volume failed', { volumeId: id, error: e });
      await this.repo.finishModification(id, false, why(e));
    }
  }

  /**
   * An instance that is gone (terminated) lets go of the volume: detached, and deleted when its attachment said
   * DeleteOnTermination, as AWS does at termination.
   */
  async release(volumeId: string, deleteOnTermination: boolean): Promise<void> {
    await this.repo.setAttachmentState(volumeId, ['attaching', 'attached'], 'detaching');
    await this.unplug(volumeId);
    if (!deleteOnTermination || (await this.repo.attachment(volumeId))) return;
    if (await this.repo.setVolumeState(volumeId, ['available'], 'deleting')) await this.deleteDisk(volumeId);
  }

  // ---- launch block device mappings (src/services/instances/volume-step.ts) ----

  /** Resolves when the volume's queued host work is done. */
  private settled(volumeId: string): Promise<void> {
    return this.queue.run(volumeId, async () => {}, () => {});
  }

  async provision(row: InstanceRow, m: Parameters<LaunchVolumes['provision']>[1]): Promise<void> {
    const accountId = row.account_id.trim();
    const { row: v } = await this.create(accountId, {
      availabilityZone: row.availability_zone, sizeGiB: m.sizeGiB, snapshotId: m.snapshotId, volumeType: m.type,
      iops: m.iops, throughput: m.throughput, clientToken: `${row.id}:${m.device}`,
    });
    await this.settled(v.id);
    const a = await this.repo.attachment(v.id);
    if (!a) {
      const now = await this.volume(accountId, v.id);
      if (now.state !== 'available') throw new Error(`volume ${v.id} for ${m.device} is ${now.state}${now.state_message ? `: ${now.state_message}` : ''}`);
      if (!row.backend_id) throw new Error(`instance ${row.id} has no host object to attach ${v.id} to`);
      const slot = deviceSlot(m.device);
      const r = await this.repo.attach({ volume_id: v.id, instance_id: row.id, device: m.device, delete_on_termination: m.deleteOnTermination },
        (devices) => devices.some((d) => recordedSlot(d) === slot));
      if (r !== 'ok') throw new Error(`volume ${v.id} could not be attached at ${m.device} (${r})`);
    } else if (a.instance_id !== row.id) {
      throw new Error(`volume ${v.id} is attached to ${a.instance_id}`);
    }
    await this.queue.run(v.id, () => this.plug(v.id, row.backend_id!), () => {});
    const done = await this.repo.attachment(v.id);
    if (done?.state !== 'attached') throw new Error(`volume ${v.id} could not be attached at ${m.device}`);
  }

  async releaseAll(instanceId: string): Promise<void> {
    for (const a of await this.repo.attachmentsOf([instanceId])) {
      if (ROOT_DEVICES.includes(a.device) && this.rootVolumes) continue; // the root volume: releaseRoot, after the backend object
      await this.queue.run(a.volume_id, () => this.release(a.volume_id, a.delete_on_termination), (e) => this.log.error('releasing a volume failed', { volumeId: a.volume_id, error: e }));
    }
  }

  /** See ./reconcile.ts. Never throws. */
  async reconcile(): Promise<void> {
    await reconcileVolumes(this, this.storage, this.log).catch((e) => this.log.error('volume reconciliation failed', { error: e }));
    await this.replacements.reconcile().catch((e) => this.log.error('root volume replacement reconciliation failed', { error: e }));
  }
}
