/** CreateReplaceRootVolumeTask and DescribeReplaceRootVolumeTasks over the volume service (services/volumes/root-replace.ts). */
import { defineHandler } from '../../server/registry.js';
import { column, isoTime, sql, text, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { ReplaceTaskRow } from '../../db/repositories/root-replacements.js';
import { tagSetOrNone, tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

const TAG_TYPE = 'replace-root-volume-task';

export const replaceTaskResource: Resource<ReplaceTaskRow & { tags: Tag[] }> = {
  from: 'replace_root_volume_tasks',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  tags: { type: TAG_TYPE },
  filters: {
    'instance-id': column('instance_id'),
    'replace-root-volume-task-id': column('id'),
    'task-state': column('state'),
    'snapshot-id': text(`coalesce(r.snapshot_id, '')`),
    'start-time': text(isoTime('r.start_time')),
  },
  notFound: (ids) => notFound('InvalidReplaceRootVolumeTaskId', 'replace root volume task', ids),
  maxResults: { min: 1, max: 50 },
};

export function toTask(t: ReplaceTaskRow & { tags?: Tag[] }): Ec2.ReplaceRootVolumeTask {
  return {
    ReplaceRootVolumeTaskId: t.id,
    InstanceId: t.instance_id,
    TaskState: t.state,
    StartTime: new Date(t.start_time).toISOString(),
    CompleteTime: t.complete_time ? new Date(t.complete_time).toISOString() : undefined,
    SnapshotId: t.snapshot_id ?? undefined,
    ImageId: t.image_id ?? undefined,
    DeleteReplacedRootVolume: t.delete_replaced,
    Tags: tagSetOrNone(t.tags),
  };
}

const input = (i: Ec2.CreateReplaceRootVolumeTaskRequest) => ({
  instanceId: i.InstanceId, snapshotId: i.SnapshotId, imageId: i.ImageId, deleteReplaced: i.DeleteReplacedRootVolume, clientToken: i.ClientToken,
});

export const createReplaceRootVolumeTask = defineHandler('CreateReplaceRootVolumeTask', {
  async validate(i, ctx) {
    validateTags(tagsFromSpecs(i.TagSpecifications, TAG_TYPE));
    parseId('instance', i.InstanceId);
    if (i.SnapshotId !== undefined) parseId('snapshot', i.SnapshotId);
    if (i.ImageId !== undefined) parseId('image', i.ImageId);
    await ctx.services.volumes.replacements.validate(ctx.accountId, input(i));
  },
  async handle(i, ctx) {
    const { task, isNew } = await ctx.services.volumes.replacements.create(ctx.accountId, input(i));
    const tags = tagsFromSpecs(i.TagSpecifications, TAG_TYPE);
    if (isNew && tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: task.id, type: TAG_TYPE }], tags);
    return { ReplaceRootVolumeTask: { ...toTask(task), Tags: toTagList(tags) } };
  },
});

export const describeReplaceRootVolumeTasks = describeAction('DescribeReplaceRootVolumeTasks', {
  resource: replaceTaskResource, idKind: 'replaceRootVolumeTask', ids: (i) => i.ReplaceRootVolumeTaskIds, list: 'ReplaceRootVolumeTasks', render: toTask,
});
