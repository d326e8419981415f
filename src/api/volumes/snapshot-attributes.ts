/** Describe/Modify/ResetSnapshotAttribute: createVolumePermission (sharing) and productCodes (always none). */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error, invalidParameterCombination, missingParameter } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { permissionChange, type PermissionChange } from '../../services/volumes/snapshot-sharing.js';
import type * as Ec2 from '../../protocol/generated/types.js';

const badAttribute = (a: string, why: string) => new Ec2Error('InvalidParameterValue', `Value (${a}) for parameter attribute is invalid. ${why}`);

/** The change a request asks for, in either form: CreateVolumePermission, or Attribute + OperationType + UserIds / GroupNames. */
function changeOf(input: Ec2.ModifySnapshotAttributeRequest): PermissionChange {
  const typed = input.CreateVolumePermission && (input.CreateVolumePermission.Add?.length || input.CreateVolumePermission.Remove?.length);
  const flat = input.OperationType !== undefined || input.UserIds?.length || input.GroupNames?.length;
  if (input.Attribute !== undefined && input.Attribute !== 'createVolumePermission') {
    throw badAttribute(input.Attribute, input.Attribute === 'productCodes' ? 'Product codes cannot be added to a snapshot.' : 'Unknown attribute.');
  }
  if (typed && flat) throw invalidParameterCombination('Use either CreateVolumePermission or OperationType with UserIds/GroupNames, not both');
  if (typed) return permissionChange(input.CreateVolumePermission!.Add ?? [], input.CreateVolumePermission!.Remove ?? []);
  if (!flat) throw missingParameter(input.Attribute === undefined ? 'Attribute' : 'OperationType');
  if (input.OperationType !== 'add' && input.OperationType !== 'remove') {
    throw input.OperationType === undefined
      ? missingParameter('OperationType')
      : new Ec2Error('InvalidParameterValue', `Value (${input.OperationType}) for parameter operationType is invalid. Use add or remove.`);
  }
  const items = [...(input.UserIds ?? []).map((UserId) => ({ UserId })), ...(input.GroupNames ?? []).map((Group) => ({ Group }))];
  if (!items.length) throw missingParameter('UserId');
  return input.OperationType === 'add' ? permissionChange(items, []) : permissionChange([], items);
}

export const describeSnapshotAttribute = defineHandler('DescribeSnapshotAttribute', {
  async validate(input, ctx) {
    if (input.Attribute !== 'createVolumePermission' && input.Attribute !== 'productCodes') {
      throw badAttribute(input.Attribute, 'Valid values: createVolumePermission, productCodes.');
    }
    await ctx.services.volumes.snapshots.sharing.owned(ctx.accountId, parseId('snapshot', input.SnapshotId));
  },
  async handle(input, ctx) {
    if (input.Attribute === 'productCodes') return { SnapshotId: input.SnapshotId, ProductCodes: [] };
    const p = await ctx.services.volumes.snapshots.sharing.permissions(ctx.accountId, input.SnapshotId);
    return {
      SnapshotId: input.SnapshotId,
      CreateVolumePermissions: [...(p.isPublic ? [{ Group: 'all' }] : []), ...p.accountIds.map((UserId) => ({ UserId }))],
    };
  },
});

export const modifySnapshotAttribute = defineHandler('ModifySnapshotAttribute', {
  async validate(input, ctx) {
    await ctx.services.volumes.snapshots.sharing.owned(ctx.accountId, parseId('snapshot', input.SnapshotId));
    changeOf(input);
  },
  async handle(input, ctx) {
    await ctx.services.volumes.snapshots.sharing.change(ctx.accountId, input.SnapshotId, changeOf(input));
    return {};
  },
});

export const resetSnapshotAttribute = defineHandler('ResetSnapshotAttribute', {
  async validate(input, ctx) {
    await ctx.services.volumes.snapshots.sharing.owned(ctx.accountId, parseId('snapshot', input.SnapshotId));
    // As on AWS, createVolumePermission is the only attribute that can be reset.
    if (input.Attribute !== 'createVolumePermission') throw badAttribute(input.Attribute, 'Only createVolumePermission can be reset.');
  },
  async handle(input, ctx) {
    await ctx.services.volumes.snapshots.sharing.reset(ctx.accountId, input.SnapshotId);
    return {};
  },
});
