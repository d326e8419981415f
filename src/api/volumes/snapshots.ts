/** CreateSnapshot, DescribeSnapshots, DeleteSnapshot over the volume service. */
import { defineHandler } from '../../server/registry.js';
import { column, constant, sql, text, isoTime, validateRequest, type Resource, type Tag } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import type { SnapshotRow } from '../../db/repositories/volumes.js';
import { describeRequest, parseIds, tagSetOrNone, tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Row = SnapshotRow & { tags: Tag[] };

export const snapshotResource: Resource<Row> = {
  from: 'snapshots',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
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
    OwnerId: s.account_id,
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

/** Snapshots are never shared yet: OwnerIds other than self / the caller, and RestorableByUserIds of others, select none. */
function ownWhere(input: Ec2.DescribeSnapshotsRequest, accountId: string) {
  const owners = input.OwnerIds ?? [];
  const restorable = input.RestorableByUserIds ?? [];
  const none = (owners.length && !owners.some((o) => o === 'self' || o === accountId))
    || (restorable.length && !restorable.some((o) => o === 'self' || o === accountId));
  return none ? sql`false` : undefined;
}

export const describeSnapshots = defineHandler('DescribeSnapshots', {
  validate(input) {
    validateRequest(snapshotResource, describeRequest(input, parseIds('snapshot', input.SnapshotIds)));
  },
  async handle(input, ctx) {
    const where = input.SnapshotIds?.length ? undefined : ownWhere(input, ctx.accountId);
    const page = await ctx.services.describe.page(snapshotResource, describeRequest(input, input.SnapshotIds), ctx, { where });
    return { Snapshots: streamed(page.rows, (rows) => rows.map(toSnapshot)), NextToken: page.nextToken };
  },
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
