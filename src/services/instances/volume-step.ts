/**
 * The launch step of RunInstances' BlockDeviceMappings: each EBS mapping other than the root device becomes a
 * volume in the instance's zone (its own size, type, or snapshot), attached at its device, with
 * DeleteOnTermination as asked (AWS's default for launch mappings: true). Undone at terminate (and after a
 * failed launch): every volume attached to the instance is detached, and deleted where DeleteOnTermination says
 * so. Both are idempotent: a mapping's volume is found again by its client token (instance id and device).
 *
 * With the Docker backend the root device is the container's own filesystem, not an EBS volume: a root mapping
 * is accepted (DeleteOnTermination) but makes no volume, and a VolumeSize or SnapshotId for it is refused.
 */
import { Ec2Error } from '../../errors/index.js';
import { checkVolumeShape, deviceSlot } from '../../domain/volume-types.js';
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { InstanceStep } from './steps.js';
import type { VolumeAttachment } from '../../ports/compute.js';

/** A mapping of RunInstances, as the SDKs send it. */
export interface LaunchMapping {
  DeviceName?: string;
  NoDevice?: string;
  VirtualName?: string;
  Ebs?: { VolumeSize?: number; VolumeType?: string; Iops?: number; Throughput?: number; SnapshotId?: string; DeleteOnTermination?: boolean; Encrypted?: boolean };
}

/** What the step needs of the volume service (src/services/volumes). */
export interface LaunchVolumes {
  /** Makes (or finds) the mapping's volume and attaches it; resolves once attached, throws why it could not. */
  provision(row: InstanceRow, m: { device: string; sizeGiB?: number; type?: string; iops?: number; throughput?: number; snapshotId?: string; deleteOnTermination: boolean }): Promise<void>;
  /** Detaches every volume of the instance but its root volume, deleting those with DeleteOnTermination. */
  releaseAll(instanceId: string): Promise<void>;
  /** Root volumes: the instance's root disk is an EBS volume (libvirt on LVM storage). */
  readonly rootVolumes?: boolean;
  /**
   * Makes (or finds) the instance's root volume, a clone of the image's disk (made once per image), recorded as
   * attached at the image's root device; the backend object is then made with it (InstanceSpec.rootDisk).
   */
  provisionRoot?(row: InstanceRow, image: RootImage, m: { sizeGiB?: number; type?: string; deleteOnTermination: boolean }): Promise<void>;
  /** Detaches the root volume (the backend object is gone) and deletes it with DeleteOnTermination. */
  releaseRoot?(instanceId: string): Promise<void>;
  /** The root volume's export for the backend object (InstanceSpec.rootDisk); undefined without one. */
  rootDisk?(instanceId: string): Promise<VolumeAttachment | undefined>;
  /** A CreateReplaceRootVolumeTask of the instance is in progress (it shuts the instance down and starts it). */
  replacingRoot?(instanceId: string): Promise<boolean>;
}

/** The image a root volume is cloned from. */
export interface RootImage {
  id: string;
  backendRef: string;
  sizeGiB: number;
  rootDevice: string;
}

export const ROOT_DEVICES = ['/dev/xvda', '/dev/sda1', '/dev/sda'];

/**
 * RunInstances' checks of the mappings (no write): AWS's codes for a bad device, size, type or IOPS. With root
 * volumes (`root` given: libvirt on LVM) the root mapping may set VolumeSize (at least the image's size) and
 * VolumeType; a SnapshotId for it is refused (the root is cloned from the image).
 */
export function checkLaunchMappings(mappings: LaunchMapping[] | undefined, root?: { imageId: string; sizeGiB: number }): void {
  const slots = new Set<string>();
  for (const m of mappings ?? []) {
    if (!m.DeviceName) throw new Ec2Error('MissingParameter', 'The request must contain the parameter BlockDeviceMapping.DeviceName');
    if (!m.Ebs || m.NoDevice !== undefined || m.VirtualName) continue;
    if (m.Ebs.Encrypted) throw new Ec2Error('UnsupportedOperation', 'Encrypted volumes are not supported by this cloud yet.');
    if (ROOT_DEVICES.includes(m.DeviceName)) {
      if (root) {
        if (m.Ebs.SnapshotId !== undefined) throw new Ec2Error('UnsupportedOperation', `The root volume of ${m.DeviceName} is cloned from the image ${root.imageId}: a SnapshotId cannot be set for it.`);
        const size = m.Ebs.VolumeSize ?? root.sizeGiB;
        if (size < root.sizeGiB) throw new Ec2Error('InvalidBlockDeviceMapping', `Volume of size ${size}GB is smaller than snapshot of image '${root.imageId}', expect size >= ${root.sizeGiB}GB`);
        checkVolumeShape({ type: m.Ebs.VolumeType, sizeGiB: size, iops: m.Ebs.Iops, throughput: m.Ebs.Throughput });
        continue;
      }
      if (m.Ebs.VolumeSize !== undefined || m.Ebs.SnapshotId !== undefined) {
        throw new Ec2Error('UnsupportedOperation', `The root device ${m.DeviceName} is the instance's own filesystem here, not an EBS volume: its size and snapshot cannot be set.`);
      }
      continue;
    }
    const slot = deviceSlot(m.DeviceName);
    if (slots.has(slot)) throw new Ec2Error('InvalidBlockDeviceMapping', `The device '${m.DeviceName}' is used in more than one block-device mapping`);
    slots.add(slot);
    if (m.Ebs.VolumeSize === undefined && !m.Ebs.SnapshotId) throw new Ec2Error('InvalidBlockDeviceMapping', `The mapping for ${m.DeviceName} needs a VolumeSize or a SnapshotId.`);
    if (!m.Ebs.SnapshotId) checkVolumeShape({ type: m.Ebs.VolumeType, sizeGiB: m.Ebs.VolumeSize, iops: m.Ebs.Iops, throughput: m.Ebs.Throughput });
  }
}

/** The EBS mappings that make volumes. */
export function dataMappings(mappings: unknown[]): Array<LaunchMapping & { DeviceName: string; Ebs: NonNullable<LaunchMapping['Ebs']> }> {
  return (mappings as LaunchMapping[]).filter(
    (m): m is LaunchMapping & { DeviceName: string; Ebs: NonNullable<LaunchMapping['Ebs']> } =>
      !!m.DeviceName && !!m.Ebs && m.NoDevice === undefined && !m.VirtualName && !ROOT_DEVICES.includes(m.DeviceName),
  );
}

/**
 * The root volume (libvirt on LVM storage), before the backend object that boots from it; undone after that
 * object is gone. Idempotent both ways: the volume is found again by its client token (instance id and 'root').
 */
export const rootVolumeStep: InstanceStep = {
  name: 'root-volume',
  phase: 'launch',
  async do({ row, volumes, rootImage }) {
    if (!volumes?.rootVolumes || !volumes.provisionRoot || !rootImage) return { nothingMade: true };
    const image = await rootImage(row);
    const m = (row.block_device_mappings as LaunchMapping[]).find((x) => x.DeviceName === image.rootDevice && x.Ebs && x.NoDevice === undefined);
    await volumes.provisionRoot(row, image, { sizeGiB: m?.Ebs?.VolumeSize, type: m?.Ebs?.VolumeType, deleteOnTermination: m?.Ebs?.DeleteOnTermination ?? true });
  },
  async undo({ row, volumes }) {
    await volumes?.releaseRoot?.(row.id);
  },
};

export const volumesStep: InstanceStep = {
  name: 'volumes',
  phase: 'launch',
  async do({ row, volumes }) {
    const wanted = dataMappings(row.block_device_mappings);
    if (!wanted.length) return { nothingMade: true };
    if (!volumes) throw new Error('no volume service to make the block device mappings');
    for (const m of wanted) {
      await volumes.provision(row, {
        device: m.DeviceName, sizeGiB: m.Ebs.VolumeSize, type: m.Ebs.VolumeType, iops: m.Ebs.Iops, throughput: m.Ebs.Throughput,
        snapshotId: m.Ebs.SnapshotId, deleteOnTermination: m.Ebs.DeleteOnTermination ?? true,
      });
    }
  },
  async undo({ row, volumes }) {
    await volumes?.releaseAll(row.id);
  },
};
