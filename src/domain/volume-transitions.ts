/**
 * What reconciliation does with a volume, an attachment or a snapshot that has no work in flight, given its
 * recorded state and what the storage host (or the instance's record) shows. Data and pure functions only; the
 * volume service's reconcile applies them (src/services/volumes/reconcile.ts).
 */

export type VolumeAction =
  | 'none'
  /** redo the host work of the recorded transition (createVolume / deleteVolume are idempotent) */
  | 'resume'
  /** the disk is gone from the host: the volume is in error, saying so */
  | 'lost'
  /** a disk of a volume recorded as deleted (a crash after the record, before the host): remove it */
  | 'remove-disk';

/** rows: recorded state; columns: is the disk on the storage host? */
export const VOLUME_RECONCILE: Record<string, { present: VolumeAction; absent: VolumeAction }> = {
  creating: { present: 'resume', absent: 'resume' },
  available: { present: 'none', absent: 'lost' },
  'in-use': { present: 'none', absent: 'lost' },
  deleting: { present: 'resume', absent: 'resume' },
  deleted: { present: 'remove-disk', absent: 'none' },
  error: { present: 'none', absent: 'none' },
};

export function volumeAction(state: string, diskPresent: boolean): VolumeAction {
  const row = VOLUME_RECONCILE[state];
  return row ? row[diskPresent ? 'present' : 'absent'] : 'none';
}

export type AttachmentAction = 'none' | 'plug' | 'unplug' | 'release';

/**
 * rows: the attachment's recorded state; columns: the instance is live (running/stopped/pending/stopping, with
 * a host object) or gone (terminated, shutting down, missing). `release`: the instance is gone, detach (and
 * delete the volume when DeleteOnTermination says so).
 */
export const ATTACHMENT_RECONCILE: Record<string, { live: AttachmentAction; gone: AttachmentAction }> = {
  attaching: { live: 'plug', gone: 'release' },
  attached: { live: 'none', gone: 'release' },
  detaching: { live: 'unplug', gone: 'release' },
};

export function attachmentAction(state: string, instanceLive: boolean): AttachmentAction {
  const row = ATTACHMENT_RECONCILE[state];
  return row ? row[instanceLive ? 'live' : 'gone'] : 'none';
}

/** Instance states whose volumes stay attached. */
export const LIVE_INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped'];

export type SnapshotAction = 'none' | 'resume' | 'lost';

export function snapshotAction(state: string, onHost: boolean): SnapshotAction {
  if (state === 'pending') return 'resume';
  if (state === 'completed' && !onHost) return 'lost';
  return 'none';
}
