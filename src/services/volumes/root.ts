/**
 * Root volumes (libvirt instances on LVM storage): the image's disk is put once into an image disk on the storage
 * host (a thin LV named by the AMI id, filled by the compute backend through an export), and each instance's root
 * volume is a thin snapshot of it (storage.createVolume with an image source: a clone in about a second where a
 * copy takes tens, bench/storage.ts). The volume is a real EBS record, attached at the image's root device with
 * DeleteOnTermination (default true), exported to the compute host, and the backend object boots from it.
 */
import { newId } from '../../ids/index.js';
import { ROOT_DEVICES, type RootImage } from '../instances/volume-step.js';
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { VolumeAttachment } from '../../ports/compute.js';
import type { VolumeService } from './index.js';
import { checkVolumeShape } from '../../domain/volume-types.js';
import { InstanceQueue } from '../instances/queue.js';

/** One fill per image at a time. */
const imageQueue = new InstanceQueue();

/** Whether this process is filling the image's disk now (reconciliation leaves an unfilled one alone then). */
export function fillingImage(imageId: string): boolean {
  return imageQueue.busy(imageId);
}

/** Runs fn in the image's queue: never beside its fill. */
export function inImageQueue(imageId: string, fn: () => Promise<void>, onError: (e: unknown) => void): Promise<void> {
  return imageQueue.run(imageId, fn, onError);
}

/**
 * The image disk of `image`, made and filled once (a failed fill leaves no image disk behind). A disk still
 * marked unfilled here is what a crash mid-fill left (fills of one image run one at a time): made again.
 */
async function ensureImageDisk(svc: VolumeService, image: RootImage): Promise<void> {
  const { storage, compute } = svc.backends;
  await imageQueue.run(image.id, async () => {
    const existing = (await storage.list()).images.find((i) => i.imageId === image.id);
    if (existing?.filled) return;
    if (!compute.fillRootDisk) throw new Error(`the ${compute.name} backend cannot fill a root disk`);
    if (existing) {
      await storage.unexport(image.id).catch(() => {});
      await storage.deleteImage(image.id);
    }
    await storage.createImage(image.id, image.sizeGiB);
    try {
      await compute.fillRootDisk(image.backendRef, await storage.export(image.id, 'local'));
      await storage.unexport(image.id);
      await storage.completeImage(image.id);
    } catch (e) {
      await storage.unexport(image.id).catch(() => {});
      await storage.deleteImage(image.id).catch(() => {});
      throw e;
    }
  }, (e) => { throw e; });
}

export async function provisionRoot(svc: VolumeService, row: InstanceRow, image: RootImage, m: { sizeGiB?: number; type?: string; deleteOnTermination: boolean }): Promise<void> {
  const accountId = row.account_id.trim();
  const token = `${row.id}:root`;
  let v = await svc.repo.byClientToken(accountId, token);
  if (!v) {
    await ensureImageDisk(svc, image);
    const shape = checkVolumeShape({ type: m.type, sizeGiB: m.sizeGiB ?? image.sizeGiB }, image.sizeGiB);
    const id = newId('volume');
    await svc.repo.insertVolume({
      id, account_id: accountId, availability_zone: row.availability_zone, size_gib: shape.sizeGiB, volume_type: shape.type, iops: shape.iops,
      throughput: shape.throughput, snapshot_id: null, image_id: image.id, state: 'creating', client_token: token,
    });
    v = (await svc.repo.byClientToken(accountId, token))!;
  }
  if (v.state === 'creating') await svc.queue.run(v.id, () => svc.createDisk(v!.id), () => {});
  const a = await svc.repo.attachment(v.id);
  if (!a) {
    const now = await svc.volume(accountId, v.id);
    if (now.state !== 'available') throw new Error(`root volume ${v.id} is ${now.state}${now.state_message ? `: ${now.state_message}` : ''}`);
    const r = await svc.repo.attach({ volume_id: v.id, instance_id: row.id, device: image.rootDevice, delete_on_termination: m.deleteOnTermination }, (devices) => devices.includes(image.rootDevice));
    if (r !== 'ok') throw new Error(`root volume ${v.id} could not be attached at ${image.rootDevice} (${r})`);
  } else if (a.instance_id !== row.id) {
    throw new Error(`root volume ${v.id} is attached to ${a.instance_id}`);
  }
  // The backend object is made with the disk in its definition: attached from here on.
  await svc.repo.setAttachmentState(v.id, ['attaching'], 'attached');
}

/** The instance's root volume attachment, if it has one. */
async function rootAttachment(svc: VolumeService, instanceId: string) {
  return (await svc.repo.attachmentsOf([instanceId])).find((a) => ROOT_DEVICES.includes(a.device));
}

export async function rootDisk(svc: VolumeService, instanceId: string): Promise<VolumeAttachment | undefined> {
  const a = await rootAttachment(svc, instanceId);
  if (!a) return undefined;
  return { volumeId: a.volume_id, deviceName: a.device, export: await svc.backends.storage.export(a.volume_id, 'local') };
}

export async function releaseRoot(svc: VolumeService, instanceId: string): Promise<void> {
  const a = await rootAttachment(svc, instanceId);
  if (a) await svc.queue.run(a.volume_id, () => svc.release(a.volume_id, a.delete_on_termination), () => {});
  // A root volume whose attachment a crashed launch never wrote: found by its client token.
}
