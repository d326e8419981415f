/**
 * DescribeVolumeStatus, Describe/ModifyVolumeAttribute (autoEnableIO, productCodes) and EnableVolumeIO. I/O is
 * never suspended here (no consistency check ever finds a problem to pause it for), so every usable volume's
 * status is ok and EnableVolumeIO only checks that the volume exists.
 */
import { defineHandler } from '../../server/registry.js';
import { column, constant, raw, sql, text, type Resource } from '../../describe/index.js';
import { Ec2Error, missingParameter, notFound } from '../../errors/index.js';
import type { VolumeRow } from '../../db/repositories/volumes.js';
import { parseId } from '../../ids/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { describeAction } from '../describe-action.js';

const STATUS = `CASE WHEN r.state IN ('available', 'in-use') THEN 'ok' ELSE 'insufficient-data' END`;

export const volumeStatusResource: Resource<VolumeRow> = {
  from: 'volumes',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId} AND ${raw(`r.state <> 'deleted'`)}`,
  filters: {
    'availability-zone': column('availability_zone'),
    'volume-status.status': text(STATUS),
    'volume-status.details-name': constant(['io-enabled', 'io-performance']),
    'volume-status.details-status': text(`CASE WHEN r.state IN ('available', 'in-use') THEN 'passed' ELSE 'insufficient-data' END`),
    'event.event-type': constant([]),
    'action.code': constant([]),
  },
  notFound: (ids) => notFound('InvalidVolume', 'volume', ids),
  maxResults: { min: 5, max: 1000 },
};

function toStatus(v: VolumeRow): Ec2.VolumeStatusItem {
  const ok = v.state === 'available' || v.state === 'in-use';
  return {
    VolumeId: v.id,
    AvailabilityZone: v.availability_zone,
    VolumeStatus: {
      Status: ok ? 'ok' : 'insufficient-data',
      Details: [
        { Name: 'io-enabled', Status: ok ? 'passed' : 'insufficient-data' },
        { Name: 'io-performance', Status: 'not-applicable' },
      ],
    },
    Actions: [],
    Events: [],
  };
}

export const describeVolumeStatus = describeAction('DescribeVolumeStatus', {
  resource: volumeStatusResource, idKind: 'volume', ids: (i) => i.VolumeIds, list: 'VolumeStatuses', render: toStatus,
});

export const describeVolumeAttribute = defineHandler('DescribeVolumeAttribute', {
  async validate(input, ctx) {
    if (!['autoEnableIO', 'productCodes'].includes(input.Attribute)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Unknown attribute.`);
    }
    return { volume: await ctx.services.volumes.volume(ctx.accountId, parseId('volume', input.VolumeId)) };
  },
  async handle(input, _ctx, { volume }) {
    return input.Attribute === 'autoEnableIO'
      ? { VolumeId: volume.id, AutoEnableIO: { Value: volume.auto_enable_io } }
      : { VolumeId: volume.id, ProductCodes: [] };
  },
});

export const modifyVolumeAttribute = defineHandler('ModifyVolumeAttribute', {
  async validate(input, ctx) {
    if (input.AutoEnableIO?.Value === undefined) throw missingParameter('AutoEnableIO');
    return { volume: await ctx.services.volumes.volume(ctx.accountId, parseId('volume', input.VolumeId)) };
  },
  async handle(input, ctx, { volume }) {
    await ctx.services.volumes.repo.setAutoEnableIo(volume.id, input.AutoEnableIO!.Value!);
    return {};
  },
});

export const enableVolumeIO = defineHandler('EnableVolumeIO', {
  async validate(input, ctx) {
    await ctx.services.volumes.volume(ctx.accountId, parseId('volume', input.VolumeId));
  },
  async handle() {
    return {};
  },
});
