/** CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot over the snapshot service. */
import { defineHandler } from '../../server/registry.js';
import { column, constant, sqlText, text, isoTime, type Resource, type Sql, type Tag } from '../../describe/index.js';
import { snapshotVisibleTo } from '../../db/repositories/snapshot-sharing.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import type { SnapshotRow } from '../../db/repositories/volumes.js';
import { tagSetOrNone, tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = SnapshotRow & { tags: Tag[] };

export const snapshotResource: Resource<Row> = {
  from: 'snapshots',
  id: 'id',
  // Own snapshots, public ones and those shared with the caller (createVolumePermission).
  scope: (c) => sqlText((param) => snapshotVisibleTo(param(c.accountId), 'r')),
  tags: { type: 'snapshot' },
  filters: {
    'snapshot-id': column('id'),
    'volume-id': column('volume_id'),
    status: column('state'),
    progress: text(`r.progress::text || '%'`),
    'owner-id': text('r.account_id::text'),
    'owner-alias': constant(''),
    'volume-size': text('r.volume_size::text'),
    description: column('description'),
    'start-time': text(isoTime('r.started_at')),
    encrypted: constant('false'),
    'storage-tier': constant('standard'),
  },
  notFound: (ids) => notFound('InvalidSnapshot', 'snapshot', ids),
  maxResults: { min: 5, max: 1000 },
};

export function toSnapshot(s: SnapshotRow & { tags?: Tag[] }): Ec2.Snapshot {
  return {
    SnapshotId: s.id,
    VolumeId: s.volume_id,
    VolumeSize: s.volume_size,
    State: s.state,
    StateMessage: s.state_message ?? undefined,
    StartTime: s.started_at,
    Progress: `${s.progress}%`,
    OwnerId: s.account_id.trim(),
    Description: s.description,
    Encrypted: false,
    StorageTier: 'standard',
    Tags: tagSetOrNone(s.tags),
  };
}

export const createSnapshot = defineHandler('CreateSnapshot', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'snapshot'));
    await ctx.services.volumes.snapshots.checkCreateSnapshot(ctx.accountId, parseId('volume', input.VolumeId));
  },
  async handle(input, ctx) {
    const s = await ctx.services.volumes.snapshots.createSnapshot(ctx.accountId, input.VolumeId, input.Description ?? '');
    const tags = tagsFromSpecs(input.TagSpecifications, 'snapshot');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: s.id, type: 'snapshot' }], tags);
    return { ...toSnapshot(s), Tags: toTagList(tags) };
  },
});

const ACCOUNT_ID = /^\d{12}$/;

/**
 * OwnerIds (self, account ids; an alias such as amazon owns nothing here) and RestorableByUserIds narrow the
 * snapshots before ids and filters, as AWS reads them: `self` the snapshots the caller owns or was given
 * permission for, `all` the public ones, another account's id the caller's own snapshots that account may
 * restore (shared with it, or public).
 */
function ownersAndRestorable(input: Ec2.DescribeSnapshotsRequest, accountId: string): Sql | undefined {
  const owners = input.OwnerIds ?? [];
  const restorable = input.RestorableByUserIds ?? [];
  if (!owners.length && !restorable.length) return undefined;
  for (const u of restorable) {
    if (u !== 'self' && u !== 'all' && !ACCOUNT_ID.test(u)) throw new Ec2Error('InvalidUserID.Malformed', `Invalid user id: "${u}"`);
  }
  return sqlText((param) => {
    const conds: string[] = [];
    if (owners.length) {
      const ids = owners.map((o) => (o === 'self' ? accountId : o)).filter((o) => ACCOUNT_ID.test(o));
      conds.push(ids.length ? `r.account_id = ANY(${param(ids)}::text[])` : 'false');
    }
    if (restorable.length) {
      const any = restorable.map((u) => {
        if (u === 'all') return 'r.is_public';
        if (u === 'self' || u === accountId) return snapshotVisibleTo(param(accountId), 'r');
        return `(r.account_id = ${param(accountId)} AND (r.is_public OR EXISTS (SELECT 1 FROM snapshot_create_volume_permissions p
          WHERE p.snapshot_id = r.id AND p.account_id = ${param(u)})))`;
      });
      conds.push(`(${any.join(' OR ')})`);
    }
    return conds.join(' AND ');
  });
}

export const describeSnapshots = describeAction('DescribeSnapshots', {
  resource: snapshotResource, idKind: 'snapshot', ids: (i) => i.SnapshotIds, list: 'Snapshots', render: toSnapshot,
  check: (i, ctx) => void ownersAndRestorable(i, ctx.accountId), // refuses malformed OwnerIds / RestorableByUserIds
  where: (i, ctx) => ownersAndRestorable(i, ctx.accountId),
});

export const deleteSnapshot = defineHandler('DeleteSnapshot', {
  async validate(input, ctx) {
    await ctx.services.volumes.snapshots.checkDeleteSnapshot(ctx.accountId, parseId('snapshot', input.SnapshotId));
  },
  async handle(input, ctx) {
    await ctx.services.volumes.snapshots.deleteSnapshot(ctx.accountId, input.SnapshotId);
    await ctx.services.tags.forget([input.SnapshotId]);
    return {};
  },
});

export const copySnapshot = defineHandler('CopySnapshot', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'snapshot'));
    if (input.Encrypted) throw new Ec2Error('UnsupportedOperation', 'Encrypted snapshots are not supported by this cloud yet.');
    await ctx.services.volumes.snapshots.checkCopySnapshot(ctx.accountId, input.SourceRegion, parseId('snapshot', input.SourceSnapshotId), ctx.region);
  },
  async handle(input, ctx) {
    const s = await ctx.services.volumes.snapshots.copySnapshot(ctx.accountId, input.SourceRegion, input.SourceSnapshotId, ctx.region, input.Description);
    const tags = tagsFromSpecs(input.TagSpecifications, 'snapshot');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: s.id, type: 'snapshot' }], tags);
    return { SnapshotId: s.id, Tags: toTagList(tags) };
  },
});
