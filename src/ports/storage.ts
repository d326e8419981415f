import type { ProbeResult } from './compute.js';

/**
 * StorageBackend: the disks of EBS (volumes, snapshots, and the image disks root volumes are cloned from) on a
 * storage host, and their exports to the hosts that run instances.
 *
 * EC2's rules, which every adapter keeps even where its medium's rules differ (LVM's classic snapshots do not):
 * - a volume has exactly the size asked for, in GiB, and grows only;
 * - a snapshot is the volume's bytes at the moment it was taken, outlives its volume, and never becomes invalid
 *   (no copy-on-write space of its own that could run out);
 * - restoring a snapshot gives exactly those bytes, into a new volume or in place, and changes no other disk;
 * - a disk that cannot be made for want of space throws StorageCapacityError and leaves nothing behind.
 * Disks carry their EC2 id and the installation's id (LVM tags), so `list()` can reconcile records with what
 * exists after a crash. Ids are validated before any command; the names that reach a command derive from them.
 */

/** Where a new volume's bytes come from: nothing (zeros), an EBS snapshot, or an image disk (a root volume). */
export type VolumeSource = { snapshotId: string } | { imageId: string };

/**
 * How a host reaches an exported disk: the device path itself where the disk is on that host, or an NBD export
 * (host, port and export name) that the compute side connects to (QEMU natively; a container through a local
 * block device it makes of it).
 */
export type DiskExport =
  | { kind: 'block'; devicePath: string }
  | { kind: 'nbd'; host: string; port: number; exportName: string };

/** The host an export is for: 'local' is the machine this server runs on. */
export type ComputeHost = 'local' | (string & {});

/** Not enough space in the pool or volume group. The service answers AWS's InsufficientVolumeCapacity. */
export class StorageCapacityError extends Error {
  override readonly name = 'StorageCapacityError';
}

/** The volume, snapshot or image disk does not exist on the storage host (or is another installation's). */
export class StorageNotFoundError extends Error {
  override readonly name = 'StorageNotFoundError';
}

/** The disk is in use (exported to a host, or open there) and cannot be deleted or restored in place now. */
export class StorageBusyError extends Error {
  override readonly name = 'StorageBusyError';
}

export interface StoredVolume {
  volumeId: string;
  sizeGiB: number;
  /** The snapshot or image it was made from, as recorded when it was made */
  source?: VolumeSource;
}

export interface StoredSnapshot {
  snapshotId: string;
  /** The volume it was taken of (kept after that volume is deleted, as DescribeSnapshots shows it) */
  volumeId: string;
  /** The volume's size when it was taken */
  sizeGiB: number;
}

export interface StoredImage {
  imageId: string;
  sizeGiB: number;
  /** completeImage() was called: its fill finished. false: being filled, or a fill a crash interrupted (unusable). */
  filled: boolean;
}

export interface StorageInventory {
  volumes: StoredVolume[];
  snapshots: StoredSnapshot[];
  images: StoredImage[];
  /** Disks (volume or image ids) exported now, and how */
  exports: Array<{ diskId: string; export: DiskExport }>;
  /** This installation's temporary disks left by an interrupted operation (repair() finishes or removes them) */
  leftovers: string[];
}

export interface StorageBackend {
  readonly name: 'lvm' | 'noop';
  /** Where the disks live, for messages: 'memory', 'local', 'ssh://root@127.0.0.1:10022' ... */
  readonly location: string;

  /** A new volume of exactly sizeGiB (at least the source's size). Idempotent for the same id and size. */
  createVolume(volumeId: string, sizeGiB: number, source?: VolumeSource): Promise<void>;
  /** Idempotent (a missing volume is fine); StorageBusyError while exported. Its snapshots stay. */
  deleteVolume(volumeId: string): Promise<void>;
  /** Grows the volume to sizeGiB (RangeError for a smaller size). An export shows the new size once re-made. */
  resizeVolume(volumeId: string, sizeGiB: number): Promise<void>;

  /** A point-in-time snapshot of the volume (crash-consistent: what was written to it when the call was made). */
  createSnapshot(volumeId: string, snapshotId: string): Promise<void>;
  /**
   * Snapshots of several volumes at one point in time (CreateSnapshots, crash-consistent): every write a client
   * was told is done before the call is in its snapshot, and no write acknowledged after one snapshot was taken
   * is in another. All or nothing: on failure none of them is left. Idempotent like createSnapshot.
   */
  createSnapshots(items: Array<{ volumeId: string; snapshotId: string }>): Promise<void>;
  /** Idempotent. Volumes restored from it are unaffected. */
  deleteSnapshot(snapshotId: string): Promise<void>;
  /**
   * Rolls the volume back to the snapshot's bytes, in place (the volume keeps its id and at least its size).
   * The snapshot survives unchanged; no other disk changes. The volume must not be exported (StorageBusyError).
   */
  restoreSnapshotInPlace(snapshotId: string, volumeId: string): Promise<void>;
  /**
   * Whether restoreSnapshotInPlace(snapshotId, volumeId) rolls the volume's own disk back (LVM: the snapshot's
   * origin is that very LV, so `lvconvert --merge` applies) rather than swapping in a clone of the snapshot.
   * false when either is missing.
   */
  restoreMerges(snapshotId: string, volumeId: string): Promise<boolean>;
  /**
   * Gives the volume's disk another volume id (LVM: `lvrename` and its id tag), bytes and identity unchanged:
   * CreateReplaceRootVolumeTask rolls a root back by merge and hands the disk to the new volume. Idempotent: done
   * when `newVolumeId` exists and `volumeId` does not. Not while exported (StorageBusyError); an error when
   * `newVolumeId` is already another disk's.
   */
  renameVolume(volumeId: string, newVolumeId: string): Promise<void>;

  /** A blank image disk of sizeGiB, to be filled through an export (export(imageId, ...)) before use. */
  createImage(imageId: string, sizeGiB: number): Promise<void>;
  /** Marks the image disk filled: only then can volumes be cloned from it. */
  completeImage(imageId: string): Promise<void>;
  /** Idempotent. Volumes cloned from it are unaffected. */
  deleteImage(imageId: string): Promise<void>;

  /** Makes the volume or image disk reachable from `forHost`. Idempotent: the same disk gets the same export. */
  export(diskId: string, forHost: ComputeHost): Promise<DiskExport>;
  /** Idempotent. The caller has disconnected every client first. */
  unexport(diskId: string): Promise<void>;

  /** Everything of this installation on the storage host, for reconciliation. */
  list(): Promise<StorageInventory>;
  /** Finishes or removes what an interrupted operation left (see StorageInventory.leftovers); says what it did. */
  repair(): Promise<string[]>;
  /** For `doctor`: does the volume group answer? Never throws. */
  probe(): Promise<ProbeResult>;
}
