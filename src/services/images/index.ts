/**
 * AMIs mapped to backend images (a Docker image reference, a libvirt base disk or kernel pair). Built-in
 * images are registered at start-up as public AMIs whose ids are derived from their name, so they are the
 * same on every restart and every host. What accounts may register is the image policy's decision
 * (policy.ts); who may see and launch an image, its launch permissions (sharing.ts).
 */
import { createHash } from 'node:crypto';
import { Ec2Error, invalidParameterValue } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { ImageRepository, ImageRow } from '../../db/repositories/images.js';
import type { BackendImageInfo, ComputeBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { ImagePolicy } from './policy.js';
import { describeScope, type LaunchPermissionChange } from './sharing.js';

export const SYSTEM_OWNER = '999999999999';

/** Images every installation offers, per compute backend (built by scripts/). */
export const BUILTIN_IMAGES: Record<string, { name: string; location: string; description: string }[]> = {
  docker: [{ name: 'thecloud-busybox', location: 'thecloud/busybox:latest', description: 'BusyBox with dropbear SSH (built by scripts/build-base-image.sh)' }],
  libvirt: [{ name: 'thecloud-tiny-vm', location: process.env.THECLOUD_VM_IMAGE ?? 'kernel:/var/lib/thecloud/images/thecloud-test', description: 'Debian cloud kernel with a BusyBox initramfs (built by scripts/build-vm-image.sh)' }],
  noop: [{ name: 'thecloud-noop', location: 'noop:base', description: 'Image of the noop backend' }],
};

export function builtinImageId(name: string): string {
  return 'ami-' + createHash('sha256').update('thecloud-builtin:' + name).digest('hex').slice(0, 17);
}

const AMI_NAME = /^[a-zA-Z0-9()[\] ./\-'@_]{3,128}$/;

const notFound = (id: string) => new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);

export class ImageService {
  /** Registrations and sweeps one at a time: an import reused by a registration must not be swept meanwhile. */
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repo: ImageRepository,
    private readonly compute: ComputeBackend,
    private readonly policy: ImagePolicy,
    private readonly log: Logger,
  ) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  async ensureBuiltins(): Promise<void> {
    for (const b of BUILTIN_IMAGES[this.compute.name] ?? []) {
      try {
        const info = await this.compute.inspectImage(b.location);
        await this.repo.insertImage({
          id: builtinImageId(b.name), owner_id: SYSTEM_OWNER, owner_alias: 'thecloud', name: b.name, description: b.description,
          backend: this.compute.name, backend_ref: info.ref, architecture: info.architecture, root_device_name: '/dev/xvda',
          size_gib: info.sizeGiB, state: 'available', is_public: true, source_instance_id: null, image_location: b.location,
          backend_copy: false,
        });
      } catch (e) {
        this.log.warn('built-in image not available on this host', { image: b.name, location: b.location, error: (e as Error).message });
      }
    }
  }

  /**
   * The images the account sees (its own, public ones, those shared with it), narrowed by DescribeImages'
   * Owners and ExecutableUsers.
   */
  list(accountId: string, select: { owners?: string[]; executableUsers?: string[] } = {}): Promise<ImageRow[]> {
    return this.repo.images(accountId, describeScope(accountId, select.owners, select.executableUsers));
  }

  /** Checks Owners and ExecutableUsers (for validate, before DryRun). */
  checkSelection(accountId: string, select: { owners?: string[]; executableUsers?: string[] }): void {
    describeScope(accountId, select.owners, select.executableUsers);
  }

  /** An image the account may read (its own, public, or shared with it), else InvalidAMIID.NotFound. */
  async visible(accountId: string, id: string): Promise<ImageRow> {
    const img = await this.repo.visibleImage(accountId, id);
    if (!img) throw notFound(id);
    return img;
  }

  /**
   * An image the account may launch (RunInstances). As on AWS, an image that exists but was not shared with
   * the account is refused with AuthFailure, one that does not exist with InvalidAMIID.NotFound.
   */
  async launchable(accountId: string, id: string): Promise<ImageRow> {
    const img = await this.repo.visibleImage(accountId, id);
    if (img) return img;
    if (await this.repo.image(id)) throw new Ec2Error('AuthFailure', `Not authorized for images: [${id}]`, 400);
    throw notFound(id);
  }

  /** An image the account owns: others' images it sees are refused with AuthFailure. */
  async owned(accountId: string, id: string): Promise<ImageRow> {
    const img = await this.visible(accountId, id);
    if (img.owner_id.trim() !== accountId) throw new Ec2Error('AuthFailure', `Not authorized for image:${id}`, 400);
    return img;
  }

  async checkNewName(accountId: string, name: string): Promise<void> {
    if (!AMI_NAME.test(name)) {
      throw new Ec2Error('InvalidAMIName.Malformed', `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`);
    }
    if (await this.repo.nameTaken(accountId, name)) {
      throw new Ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI`);
    }
  }

  /** Whether the account may register this location (the image policy); nothing is read or pulled. */
  async checkLocation(accountId: string, location: string | undefined): Promise<string> {
    if (!location) throw invalidParameterValue('ImageLocation', location ?? '', 'Give the backend image to register (for Docker, an image reference such as busybox:latest).');
    return this.policy.admit(accountId, location);
  }

  async register(accountId: string, name: string, location: string | undefined, description?: string): Promise<ImageRow> {
    await this.checkNewName(accountId, name);
    const admitted = await this.checkLocation(accountId, location);
    return this.exclusive(async () => {
      let info;
      try {
        info = await this.compute.inspectImage(admitted);
      } catch (e) {
        throw new Ec2Error('InvalidParameterValue', `Image location '${location}' could not be used: ${(e as Error).message.split('\n')[0]}`);
      }
      const row: Omit<ImageRow, 'created_at'> = {
        id: newId('image'), owner_id: accountId, owner_alias: null, name, description: description ?? null, backend: this.compute.name,
        backend_ref: info.ref, architecture: info.architecture, root_device_name: '/dev/xvda', size_gib: info.sizeGiB,
        state: 'available', is_public: false, source_instance_id: null, image_location: location!, backend_copy: info.copy ?? false,
      };
      await this.insertChecked(row);
      return { ...row, created_at: new Date() };
    });
  }

  /**
   * Records a pending image, then captures it in the background with `capture` (which the instance service
   * sequences with the instance's other operations): 'available' when it succeeds, 'failed' when not.
   */
  async createFromInstance(
    accountId: string,
    name: string,
    description: string | undefined,
    instanceId: string,
    architecture: string,
    capture: (imageId: string) => Promise<BackendImageInfo>,
  ): Promise<ImageRow> {
    await this.checkNewName(accountId, name);
    const id = newId('image');
    const row: Omit<ImageRow, 'created_at'> = {
      id, owner_id: accountId, owner_alias: null, name, description: description ?? null, backend: this.compute.name,
      backend_ref: '', architecture, root_device_name: '/dev/xvda', size_gib: 8, state: 'pending', is_public: false,
      source_instance_id: instanceId, image_location: `${accountId}/${name}`, backend_copy: false,
    };
    await this.insertChecked(row);
    void capture(id)
      .then((info) => this.repo.setImageState(id, 'available', info.ref, info.sizeGiB))
      .catch(async (e) => {
        this.log.error('image capture failed', { imageId: id, error: (e as Error).message });
        await this.repo.setImageState(id, 'failed');
      });
    return { ...row, created_at: new Date() };
  }

  private async insertChecked(row: Omit<ImageRow, 'created_at'>): Promise<void> {
    try {
      await this.repo.insertImage(row);
    } catch (e) {
      if (/unique|duplicate/i.test((e as Error).message)) throw new Ec2Error('InvalidAMIName.Duplicate', `AMI name ${row.name} is already in use by AMI`);
      throw e;
    }
  }

  // ---- attributes

  /** The launch permissions of an image the account owns (DescribeImageAttribute launchPermission). */
  async launchPermissions(accountId: string, id: string): Promise<{ public: boolean; accounts: string[] }> {
    const img = await this.owned(accountId, id);
    return { public: img.is_public, accounts: await this.repo.launchPermissions(id) };
  }

  /** ModifyImageAttribute launchPermission; the owner's own id is implied and not recorded. */
  async changeLaunchPermissions(accountId: string, id: string, change: LaunchPermissionChange): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.changeLaunchPermissions(id, { ...change, add: change.add.filter((a) => a !== accountId) });
  }

  /** ResetImageAttribute launchPermission: private again, shared with no one. */
  async resetLaunchPermissions(accountId: string, id: string): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.changeLaunchPermissions(id, { add: [], remove: await this.repo.launchPermissions(id), public: false });
  }

  async setDescription(accountId: string, id: string, description: string): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.setDescription(id, description === '' ? null : description);
  }

  async deregister(accountId: string, id: string): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.setImageState(id, 'deregistered');
    await this.sweep();
  }

  /**
   * Removes from the backend what the cloud made for deregistered images: captured images (CreateImage) and
   * copies of registered host files; a registered image itself (a Docker image, a kernel directory) is the
   * host's and stays. A copy shared by a live image stays; a backend may refuse while instances still use one
   * (a libvirt overlay's base): it is tried again on every reconciliation until it goes.
   */
  sweep(): Promise<void> {
    return this.exclusive(async () => {
      for (const img of await this.repo.deregisteredCopies()) {
        try {
          await this.compute.deleteImage(img.backend_ref);
          await this.repo.setImageState(img.id, 'deregistered', '');
        } catch (e) {
          this.log.debug('backend image not removable yet', { imageId: img.id, error: (e as Error).message });
        }
      }
    });
  }
}
