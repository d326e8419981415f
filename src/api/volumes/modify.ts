/** ModifyVolume (grow, change type/IOPS/throughput) and DescribeVolumesModifications. */
import { defineHandler } from '../../server/registry.js';
import { column, sql, text, isoTime, type Resource } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { ModificationRow } from '../../db/repositories/volumes.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

export const modificationResource: Resource<ModificationRow> = {
  from: 'volume_modifications',
  id: 'volume_id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  filters: {
    'volume-id': column('volume_id'),
    'modification-state': column('state'),
    'target-size': text('r.target_size::text'),
    'target-volume-type': column('target_type'),
    'target-iops': text(`coalesce(r.target_iops::text, '')`),
    'original-size': text('r.original_size::text'),
    'original-volume-type': column('original_type'),
    'start-time': text(isoTime('r.start_time')),
  },
  notFound: (ids) => notFound('InvalidVolumeModification', 'volume modification', ids),
  maxResults: { min: 5, max: 500 },
};

export function toModification(m: ModificationRow): Ec2.VolumeModification {
  return {
    VolumeId: m.volume_id,
    ModificationState: m.state,
    StatusMessage: m.status_message ?? undefined,
    TargetSize: m.target_size,
    TargetVolumeType: m.target_type,
    TargetIops: m.target_iops ?? undefined,
    TargetThroughput: m.target_throughput ?? undefined,
    TargetMultiAttachEnabled: false,
    OriginalSize: m.original_size,
    OriginalVolumeType: m.original_type,
    OriginalIops: m.original_iops ?? undefined,
    OriginalThroughput: m.original_throughput ?? undefined,
    OriginalMultiAttachEnabled: false,
    Progress: m.progress,
    StartTime: m.start_time,
    EndTime: m.end_time ?? undefined,
  };
}

const input = (i: Ec2.ModifyVolumeRequest) => ({ sizeGiB: i.Size, type: i.VolumeType, iops: i.Iops, throughput: i.Throughput });

export const modifyVolume = defineHandler('ModifyVolume', {
  async validate(i, ctx) {
    await ctx.services.volumes.checkModify(ctx.accountId, parseId('volume', i.VolumeId), input(i));
  },
  async handle(i, ctx) {
    return { VolumeModification: toModification(await ctx.services.volumes.modify(ctx.accountId, i.VolumeId, input(i))) };
  },
});

export const describeVolumesModifications = describeAction('DescribeVolumesModifications', {
  resource: modificationResource, idKind: 'volume', ids: (i) => i.VolumeIds, list: 'VolumesModifications', render: toModification,
});
