/** CreateSnapshots: crash-consistent snapshots of the volumes attached to an instance. */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error, missingParameter } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import type { CreateSnapshotsInput } from '../../services/volumes/multi-snapshots.js';
import type * as Ec2 from '../../protocol/generated/types.js';

function inputOf(input: Ec2.CreateSnapshotsRequest): CreateSnapshotsInput {
  const spec = input.InstanceSpecification;
  if (!spec?.InstanceId) throw missingParameter('InstanceSpecification.InstanceId');
  if (input.CopyTagsFromSource !== undefined && input.CopyTagsFromSource !== 'volume') {
    throw new Ec2Error('InvalidParameterValue', `Value (${input.CopyTagsFromSource}) for parameter CopyTagsFromSource is invalid. Valid value: volume`);
  }
  if (input.OutpostArn) throw new Ec2Error('UnsupportedOperation', 'Outposts are not supported by this cloud.');
  return {
    instanceId: parseId('instance', spec.InstanceId),
    excludeBootVolume: spec.ExcludeBootVolume,
    excludeDataVolumeIds: spec.ExcludeDataVolumeIds?.map((id) => parseId('volume', id)),
    description: input.Description,
  };
}

export const createSnapshots = defineHandler('CreateSnapshots', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'snapshot'));
    await ctx.services.volumes.snapshots.multi.check(ctx.accountId, inputOf(input));
  },
  async handle(input, ctx) {
    const rows = await ctx.services.volumes.snapshots.multi.create(ctx.accountId, inputOf(input));
    const given = tagsFromSpecs(input.TagSpecifications, 'snapshot');
    const fromVolumes = input.CopyTagsFromSource === 'volume' ? await ctx.services.tags.byResource(ctx.accountId, rows.map((r) => r.volume_id)) : new Map();
    const out: Ec2.SnapshotInfo[] = [];
    for (const s of rows) {
      // A tag given for the snapshots wins over the volume's tag of the same key.
      const copied = (fromVolumes.get(s.volume_id) ?? []).filter((t: { key: string }) => !given.some((g) => g.key === t.key));
      const tags = [...copied, ...given];
      if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: s.id, type: 'snapshot' }], tags);
      out.push({
        SnapshotId: s.id,
        VolumeId: s.volume_id,
        VolumeSize: s.volume_size,
        State: s.state,
        StartTime: s.started_at,
        Progress: `${s.progress}%`,
        OwnerId: s.account_id.trim(),
        Description: s.description,
        Encrypted: false,
        Tags: toTagList(tags),
      });
    }
    return { Snapshots: out };
  },
});
