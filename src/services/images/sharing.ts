/**
 * Launch permissions, as on AWS: an image is private to its owner until shared with accounts (user ids) or
 * made public (the group `all`); DescribeImages' Owners and ExecutableUsers select among what an account sees.
 */
import { Ec2Error } from '../../errors/index.js';
import type { ImageScope } from '../../db/repositories/images.js';

const ACCOUNT_ID = /^\d{12}$/;

/** Owner aliases AWS answers `amazon` for; here the built-in images' owner is `thecloud`. */
const AMAZON_ALIASES = ['amazon', 'thecloud'];

/** DescribeImages' Owners (self, account ids, owner aliases) and ExecutableUsers (self, all, account ids). */
export function describeScope(callerId: string, owners?: string[], executableUsers?: string[]): ImageScope {
  const scope: ImageScope = {};
  if (owners?.length) {
    const accountIds: string[] = [];
    const aliases: string[] = [];
    for (const o of owners) {
      if (o === 'self') accountIds.push(callerId);
      else if (ACCOUNT_ID.test(o)) accountIds.push(o);
      else if (o === 'amazon') aliases.push(...AMAZON_ALIASES);
      else aliases.push(o);
    }
    scope.owners = { accountIds, aliases };
  }
  if (executableUsers?.length) {
    const e = { public: false, caller: false, accounts: [] as string[] };
    for (const u of executableUsers) {
      if (u === 'all') e.public = true;
      else if (u === 'self' || u === callerId) e.caller = true;
      else if (ACCOUNT_ID.test(u)) e.accounts.push(u);
      else throw new Ec2Error('InvalidUserID.Malformed', `Invalid user id: "${u}"`);
    }
    scope.executableBy = e;
  }
  return scope;
}

export interface LaunchPermissionItem {
  UserId?: string;
  Group?: string;
  OrganizationArn?: string;
  OrganizationalUnitArn?: string;
}

/** What a ModifyImageAttribute launchPermission change asks: accounts to add and remove, and the group all. */
export interface LaunchPermissionChange {
  add: string[];
  remove: string[];
  /** true: add the group all (public); false: remove it */
  public?: boolean;
}

/** Checks the items of a change as AWS does, and nets it out (an item both added and removed ends removed). */
export function launchPermissionChange(add: LaunchPermissionItem[], remove: LaunchPermissionItem[]): LaunchPermissionChange {
  const accounts = (items: LaunchPermissionItem[]) => {
    const ids: string[] = [];
    let all = false;
    for (const item of items) {
      if (item.OrganizationArn !== undefined || item.OrganizationalUnitArn !== undefined) {
        throw new Ec2Error('UnsupportedOperation', 'Sharing images with organizations or organizational units is not supported by this cloud.');
      }
      if (item.UserId !== undefined) {
        if (!ACCOUNT_ID.test(item.UserId)) throw new Ec2Error('InvalidAMIAttributeItemValue', `Invalid attribute item value "${item.UserId}" for userId item type.`);
        ids.push(item.UserId);
      }
      if (item.Group !== undefined) {
        if (item.Group !== 'all') throw new Ec2Error('InvalidAMIAttributeItemValue', `Invalid attribute item value "${item.Group}" for group item type.`);
        all = true;
      }
    }
    return { ids, all };
  };
  const a = accounts(add);
  const r = accounts(remove);
  return {
    add: [...new Set(a.ids.filter((id) => !r.ids.includes(id)))],
    remove: [...new Set(r.ids)],
    public: r.all ? false : a.all ? true : undefined,
  };
}
