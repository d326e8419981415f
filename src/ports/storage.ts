import type { ProbeResult } from './compute.js';

/**
 * StorageBackend: EBS volumes and snapshots on the host (LVM logical volumes and copy-on-write snapshots).
 * Names are derived from EC2 ids (vol-..., snap-...), which the adapter validates before any command.
 */
export interface StorageBackend {
  readonly name: 'lvm' | 'noop';
  createVolume(volumeId: string, sizeGiB: number, fromSnapshotId?: string): Promise<{ devicePath: string }>;
  deleteVolume(volumeId: string): Promise<void>;
  resizeVolume(volumeId: string, sizeGiB: number): Promise<void>;
  createSnapshot(volumeId: string, snapshotId: string): Promise<void>;
  deleteSnapshot(snapshotId: string): Promise<void>;
  /** Merges a snapshot back into its origin volume (lvconvert --merge). */
  restoreSnapshot(snapshotId: string, volumeId: string): Promise<void>;
  probe(): Promise<ProbeResult>;
}
