/** ModifyImageAttribute and ResetImageAttribute: launch permissions (sharing) and the description. */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error, invalidParameterCombination, missingParameter } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { launchPermissionChange, type LaunchPermissionChange } from '../../services/images/sharing.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type Change = { launchPermission: LaunchPermissionChange } | { description: string };

/**
 * The one change a request asks for, in either of its forms: the typed members (LaunchPermission,
 * Description), or Attribute with OperationType and UserIds / UserGroups, or with Value.
 */
function changeOf(input: Ec2.ModifyImageAttributeRequest): Change {
  const changes: Change[] = [];
  if (input.LaunchPermission && (input.LaunchPermission.Add?.length || input.LaunchPermission.Remove?.length)) {
    changes.push({ launchPermission: launchPermissionChange(input.LaunchPermission.Add ?? [], input.LaunchPermission.Remove ?? []) });
  }
  if (input.Description?.Value !== undefined) changes.push({ description: input.Description.Value });
  if (input.ProductCodes?.length) throw new Ec2Error('InvalidParameterValue', 'Product codes cannot be added to an image on this cloud.');
  if (input.ImdsSupport) throw new Ec2Error('UnsupportedOperation', 'imdsSupport cannot be changed on this cloud.');
  if (input.Attribute !== undefined) {
    switch (input.Attribute) {
      case 'launchPermission': {
        if (input.OperationType !== 'add' && input.OperationType !== 'remove') {
          throw input.OperationType === undefined
            ? missingParameter('OperationType')
            : new Ec2Error('InvalidParameterValue', `Value (${input.OperationType}) for parameter operationType is invalid. Use add or remove.`);
        }
        const items = [
          ...(input.UserIds ?? []).map((UserId) => ({ UserId })),
          ...(input.UserGroups ?? []).map((Group) => ({ Group })),
          ...(input.OrganizationArns ?? []).map((OrganizationArn) => ({ OrganizationArn })),
          ...(input.OrganizationalUnitArns ?? []).map((OrganizationalUnitArn) => ({ OrganizationalUnitArn })),
        ];
        if (!items.length) throw missingParameter('UserId');
        const [add, remove] = input.OperationType === 'add' ? [items, []] : [[], items];
        changes.push({ launchPermission: launchPermissionChange(add, remove) });
        break;
      }
      case 'description':
        if (input.Value === undefined) throw missingParameter('Value');
        changes.push({ description: input.Value });
        break;
      default:
        throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Modifying this attribute is not supported.`);
    }
  }
  if (changes.length === 0) throw missingParameter('Attribute');
  if (changes.length > 1) throw invalidParameterCombination('Only one attribute can be modified at a time');
  return changes[0]!;
}

export const modifyImageAttribute = defineHandler('ModifyImageAttribute', {
  async validate(input, ctx) {
    await ctx.services.images.owned(ctx.accountId, parseId('image', input.ImageId));
    changeOf(input);
  },
  async handle(input, ctx) {
    const change = changeOf(input);
    if ('launchPermission' in change) await ctx.services.images.changeLaunchPermissions(ctx.accountId, input.ImageId, change.launchPermission);
    else await ctx.services.images.setDescription(ctx.accountId, input.ImageId, change.description);
    return {};
  },
});

export const resetImageAttribute = defineHandler('ResetImageAttribute', {
  async validate(input, ctx) {
    await ctx.services.images.owned(ctx.accountId, parseId('image', input.ImageId));
    // As on AWS, launchPermission is the only attribute that can be reset.
    if (input.Attribute !== 'launchPermission') {
      throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Only launchPermission can be reset.`);
    }
  },
  async handle(input, ctx) {
    await ctx.services.images.resetLaunchPermissions(ctx.accountId, input.ImageId);
    return {};
  },
});
