/**
 * The only names that reach an LVM command: checked EC2 ids, the LV names derived from them, and the tags that
 * mark an LV as this installation's. An LV is named by its EC2 id (vol-…, snap-…, ami-…); the temporary LVs of an
 * in-place restore by a fixed prefix and the id. Tags (LVM allows [A-Za-z0-9_+.-/=!:&#]) carry the kind, the EC2
 * id, the installation's id and, for snapshots and volumes, where they came from.
 */
import type { VolumeSource } from '../../ports/storage.js';

const HEX = '([0-9a-f]{8}|[0-9a-f]{17})';
export const VOLUME_ID = new RegExp(`^vol-${HEX}$`);
export const SNAPSHOT_ID = new RegExp(`^snap-${HEX}$`);
export const IMAGE_ID = new RegExp(`^ami-${HEX}$`);
/** An LVM VG or LV name as this project allows it (narrower than LVM: no leading '-', '.', '_' or '+'). */
const LVM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$/;
const CLOUD_ID = /^[0-9a-f]{8,64}$/;

function check(kind: string, value: unknown, re: RegExp): string {
  if (typeof value !== 'string' || !re.test(value)) throw new TypeError(`invalid ${kind}: ${JSON.stringify(value)}`);
  return value;
}

export const volumeId = (v: string) => check('volume id', v, VOLUME_ID);
export const snapshotId = (v: string) => check('snapshot id', v, SNAPSHOT_ID);
export const imageId = (v: string) => check('image id', v, IMAGE_ID);
export const cloudId = (v: string) => check('installation (cloud) id', v, CLOUD_ID);

/** A volume group or thin pool name from the configuration. */
export function lvmName(kind: string, v: string): string {
  check(kind, v, LVM_NAME);
  // LVM reserves these (its own sub-LVs and snapshot names).
  if (/^(snapshot|pvmove)/.test(v) || /_(cdata|cmeta|corig|cpool|cvol|mimage|mlog|pmspare|rimage|rmeta|tdata|tmeta|vdata|vorigin|wcorig)/.test(v)) {
    throw new TypeError(`invalid ${kind}: ${JSON.stringify(v)} is reserved by LVM`);
  }
  return v;
}

/** A disk that can be exported: a volume or an image disk. */
export function diskId(v: string): string {
  if (typeof v === 'string' && (VOLUME_ID.test(v) || IMAGE_ID.test(v))) return v;
  throw new TypeError(`invalid volume or image id: ${JSON.stringify(v)}`);
}

export type DiskKind = 'volume' | 'snapshot' | 'image';

export function kindOf(id: string): DiskKind {
  if (VOLUME_ID.test(id)) return 'volume';
  if (SNAPSHOT_ID.test(id)) return 'snapshot';
  if (IMAGE_ID.test(id)) return 'image';
  throw new TypeError(`invalid disk id: ${JSON.stringify(id)}`);
}

/** Temporary LVs of an in-place restore: the new bytes of a volume, the old volume, the snapshot's keeper. */
export const restoreLv = (vol: string) => `rst.${volumeId(vol)}`;
export const replacedLv = (vol: string) => `old.${volumeId(vol)}`;
export const keeperLv = (snap: string) => `keep.${snapshotId(snap)}`;
export const TEMP_LV = /^(rst|old|keep)\.((vol|snap)-[0-9a-f]+)$/;

export const TAG = {
  managed: 'thecloud.managed',
  /** An image disk being filled (removed by completeImage): a crash leaves it, and the disk is never used. */
  partial: 'thecloud.partial',
  kind: (k: DiskKind | 'temporary') => `thecloud.kind=${k}`,
  id: (id: string) => `thecloud.id=${id}`,
  cloud: (id: string) => `thecloud.cloud=${cloudId(id)}`,
  /** The volume a snapshot was taken of; the snapshot or image a volume was made from. */
  from: (id: string) => `thecloud.from=${id}`,
};

/** The tags of a new disk, as `--addtag X` pairs. */
export function tagArgs(kind: DiskKind | 'temporary', id: string, cloud: string | undefined, from?: string): string[] {
  const tags = [TAG.managed, TAG.kind(kind), TAG.id(id), ...(cloud ? [TAG.cloud(cloud)] : []), ...(from ? [TAG.from(from)] : [])];
  return tags.flatMap((t) => ['--addtag', t]);
}

export function sourceId(source: VolumeSource | undefined): string | undefined {
  if (!source) return undefined;
  if ('snapshotId' in source) return snapshotId(source.snapshotId);
  if ('imageId' in source) return imageId(source.imageId);
  throw new TypeError('invalid volume source');
}

/** A size in GiB as EBS allows it (1 GiB to 64 TiB). */
export function sizeGiB(v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > 65536) throw new RangeError(`invalid size: ${v} GiB (1 to 65536)`);
  return v;
}
