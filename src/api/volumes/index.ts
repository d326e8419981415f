/** CreateVolume, DescribeVolumes, DeleteVolume, AttachVolume, DetachVolume over the volume service. */
import { defineHandler } from '../../server/registry.js';
import { column, constant, join, raw, sql, text, isoTime, type Resource, type Tag } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import type { VolumeRow, AttachmentRow } from '../../db/repositories/volumes.js';
import { tagSetOrNone, tagsFromSpecs, toTagList } from '../common.js';
import { validateTags } from '../../services/tags/index.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

type Row = VolumeRow & { tags: Tag[]; attachments: Array<Omit<AttachmentRow, 'attached_at'> & { attached_at: string }> | null };

/** A deleted volume stays visible a little while, as on AWS (the volume_deleted waiter sees it go). */
const VISIBLE = `(r.state <> 'deleted' OR r.updated_at > now() - interval '2 minutes')`;
const ATTACH = 'volume_attachments a';

export const volumeResource: Resource<Row> = {
  from: 'volumes',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId} AND ${raw(VISIBLE)}`,
  columns: `r.*, (SELECT json_agg(a ORDER BY a.device) FROM volume_attachments a WHERE a.volume_id = r.id) AS attachments`,
  tags: { type: 'volume' },
  filters: {
    'volume-id': column('id'),
    status: column('state'),
    'volume-type': column('volume_type'),
    size: text('r.size_gib::text'),
    'snapshot-id': text(`coalesce(r.snapshot_id, '')`),
    'availability-zone': column('availability_zone'),
    'create-time': text(isoTime('r.created_at')),
    encrypted: constant('false'),
    'multi-attach-enabled': constant('false'),
    fast_restored: constant('false'),
    'attachment.instance-id': join(ATTACH, 'a.volume_id = r.id', 'a.instance_id'),
    'attachment.device': join(ATTACH, 'a.volume_id = r.id', 'a.device'),
    'attachment.status': join(ATTACH, 'a.volume_id = r.id', 'a.state'),
    'attachment.delete-on-termination': join(ATTACH, 'a.volume_id = r.id', 'a.delete_on_termination::text'),
    'attachment.attach-time': join(ATTACH, 'a.volume_id = r.id', isoTime('a.attached_at')),
  },
  notFound: (ids) => notFound('InvalidVolume', 'volume', ids),
  maxResults: { min: 5, max: 500 },
};

export function toAttachment(a: { volume_id: string; instance_id: string; device: string; state: string; delete_on_termination: boolean; attached_at: Date | string }): Ec2.VolumeAttachment {
  return {
    VolumeId: a.volume_id,
    InstanceId: a.instance_id,
    Device: a.device,
    State: a.state,
    AttachTime: new Date(a.attached_at),
    DeleteOnTermination: a.delete_on_termination,
  };
}

export function toVolume(v: VolumeRow & { tags?: Tag[]; attachments?: Row['attachments'] }): Ec2.Volume {
  return {
    VolumeId: v.id,
    Size: v.size_gib,
    SnapshotId: v.snapshot_id ?? '',
    AvailabilityZone: v.availability_zone,
    State: v.state,
    CreateTime: v.created_at,
    Attachments: (v.attachments ?? []).map(toAttachment),
    Encrypted: false,
    VolumeType: v.volume_type,
    Iops: v.iops ?? undefined,
    Throughput: v.throughput ?? undefined,
    MultiAttachEnabled: false,
    Tags: tagSetOrNone(v.tags),
  };
}

const createInput = (input: Ec2.CreateVolumeRequest) => ({
  availabilityZone: input.AvailabilityZone,
  sizeGiB: input.Size,
  snapshotId: input.SnapshotId,
  volumeType: input.VolumeType,
  iops: input.Iops,
  throughput: input.Throughput,
  encrypted: input.Encrypted,
  clientToken: input.ClientToken,
});

export const createVolume = defineHandler('CreateVolume', {
  async validate(input, ctx) {
    validateTags(tagsFromSpecs(input.TagSpecifications, 'volume'));
    if (input.SnapshotId) parseId('snapshot', input.SnapshotId);
    await ctx.services.volumes.checkCreate(ctx.accountId, createInput(input));
  },
  async handle(input, ctx) {
    const { row, isNew } = await ctx.services.volumes.create(ctx.accountId, createInput(input));
    const tags = tagsFromSpecs(input.TagSpecifications, 'volume');
    if (isNew && tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: row.id, type: 'volume' }], tags);
    return { ...toVolume(row), Tags: toTagList(isNew ? tags : []) };
  },
});

export const describeVolumes = describeAction('DescribeVolumes', {
  resource: volumeResource, idKind: 'volume', ids: (i) => i.VolumeIds, list: 'Volumes', render: toVolume,
});

export const deleteVolume = defineHandler('DeleteVolume', {
  async validate(input, ctx) {
    await ctx.services.volumes.checkDelete(ctx.accountId, parseId('volume', input.VolumeId));
  },
  async handle(input, ctx) {
    await ctx.services.volumes.delete(ctx.accountId, input.VolumeId);
    return {};
  },
});

export const attachVolume = defineHandler('AttachVolume', {
  async validate(input, ctx) {
    await ctx.services.volumes.checkAttach(ctx.accountId, parseId('volume', input.VolumeId), parseId('instance', input.InstanceId), input.Device);
  },
  async handle(input, ctx) {
    return toAttachment(await ctx.services.volumes.attach(ctx.accountId, input.VolumeId, input.InstanceId, input.Device));
  },
});

export const detachVolume = defineHandler('DetachVolume', {
  async validate(input, ctx) {
    if (input.InstanceId) parseId('instance', input.InstanceId);
    await ctx.services.volumes.checkDetach(ctx.accountId, parseId('volume', input.VolumeId), input.InstanceId, input.Device);
  },
  async handle(input, ctx) {
    // Force changes nothing here: the host side never waits for the guest to let go of the device.
    return toAttachment(await ctx.services.volumes.detach(ctx.accountId, input.VolumeId, input.InstanceId, input.Device));
  },
});
