/**
 * AMIs mapped to backend images (a Docker image reference, a libvirt base disk or kernel pair). Built-in
 * images are registered at start-up as public AMIs whose ids are derived from their name, so they are the
 * same on every restart and every host.
 */
import { createHash } from 'node:crypto';
import { Ec2Error, invalidParameterValue } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { ComputeRepository, ImageRow } from '../../db/repositories/compute.js';
import type { BackendImageInfo, ComputeBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';

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

export class ImageService {
  constructor(
    private readonly repo: ComputeRepository,
    private readonly compute: ComputeBackend,
    private readonly log: Logger,
  ) {}

  async ensureBuiltins(): Promise<void> {
    for (const b of BUILTIN_IMAGES[this.compute.name] ?? []) {
      try {
        const info = await this.compute.inspectImage(b.location);
        await this.repo.insertImage({
          id: builtinImageId(b.name), owner_id: SYSTEM_OWNER, owner_alias: 'thecloud', name: b.name, description: b.description,
          backend: this.compute.name, backend_ref: info.ref, architecture: info.architecture, root_device_name: '/dev/xvda',
          size_gib: info.sizeGiB, state: 'available', is_public: true, source_instance_id: null, image_location: b.location,
        });
      } catch (e) {
        this.log.warn('built-in image not available on this host', { image: b.name, location: b.location, error: (e as Error).message });
      }
    }
  }

  list(accountId: string): Promise<ImageRow[]> {
    return this.repo.images(accountId);
  }

  /** An image the account may launch or read (its own, or public), else InvalidAMIID.NotFound. */
  async visible(accountId: string, id: string): Promise<ImageRow> {
    const img = await this.repo.image(id);
    if (!img || (img.owner_id.trim() !== accountId && !img.is_public)) {
      throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
    }
    return img;
  }

  async checkNewName(accountId: string, name: string): Promise<void> {
    if (!AMI_NAME.test(name)) {
      throw new Ec2Error('InvalidAMIName.Malformed', `AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'`);
    }
    if ((await this.repo.images(accountId)).some((i) => i.owner_id.trim() === accountId && i.name === name)) {
      throw new Ec2Error('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI`);
    }
  }

  async register(accountId: string, name: string, location: string | undefined, description?: string): Promise<ImageRow> {
    if (!location) throw invalidParameterValue('ImageLocation', location, 'Give the backend image to register (for Docker, an image reference such as busybox:latest).');
    await this.checkNewName(accountId, name);
    let info;
    try {
      info = await this.compute.inspectImage(location);
    } catch (e) {
      throw new Ec2Error('InvalidParameterValue', `Image location '${location}' could not be used: ${(e as Error).message.split('\n')[0]}`);
    }
    const row: Omit<ImageRow, 'created_at'> = {
      id: newId('image'), owner_id: accountId, owner_alias: null, name, description: description ?? null, backend: this.compute.name,
      backend_ref: info.ref, architecture: info.architecture, root_device_name: '/dev/xvda', size_gib: info.sizeGiB,
      state: 'available', is_public: false, source_instance_id: null, image_location: location,
    };
    await this.insertChecked(row);
    return { ...row, created_at: new Date() };
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
      source_instance_id: instanceId, image_location: `${accountId}/${name}`,
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

  async deregister(accountId: string, id: string): Promise<void> {
    const img = await this.visible(accountId, id);
    if (img.owner_id.trim() !== accountId) throw new Ec2Error('AuthFailure', `Not authorized for image:${id}`, 400);
    await this.repo.setImageState(id, 'deregistered');
    await this.sweep();
  }

  /**
   * Removes from the backend the images this cloud made (CreateImage) that were deregistered; a registered
   * image is the user's and stays. A backend may refuse while instances still run on the image (a libvirt
   * overlay's base): it is tried again on every reconciliation until it goes.
   */
  async sweep(): Promise<void> {
    for (const img of await this.repo.deregisteredCaptures()) {
      try {
        await this.compute.deleteImage(img.backend_ref);
        await this.repo.setImageState(img.id, 'deregistered', '');
      } catch (e) {
        this.log.debug('backend image not removable yet', { imageId: img.id, error: (e as Error).message });
      }
    }
  }
}
