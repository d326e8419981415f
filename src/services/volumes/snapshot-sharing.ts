/**
 * createVolumePermission, as on AWS: a snapshot is private to its owner until shared with accounts (UserId) or
 * made public (the group `all`). Another account sees, restores (CreateVolume) and copies it only then;
 * otherwise it does not exist for that account (InvalidSnapshot.NotFound). Only the owner reads or changes
 * who it is shared with.
 */
import { Ec2Error } from '../../errors/index.js';
import type { SnapshotRow } from '../../db/repositories/volumes.js';
import type { SnapshotSharingRepository } from '../../db/repositories/snapshot-sharing.js';

const ACCOUNT_ID = /^\d{12}$/;

export interface PermissionItem {
  UserId?: string;
  Group?: string;
}

export interface PermissionChange {
  add: string[];
  remove: string[];
  /** true: add the group all; false: remove it */
  public?: boolean;
}

/** Checks the items as AWS does and nets them out (an account both added and removed ends removed). */
export function permissionChange(add: PermissionItem[], remove: PermissionItem[]): PermissionChange {
  const parse = (items: PermissionItem[]) => {
    const ids: string[] = [];
    let all = false;
    for (const item of items) {
      if (item.UserId !== undefined) {
        if (!ACCOUNT_ID.test(item.UserId)) throw new Ec2Error('InvalidParameterValue', `Value (${item.UserId}) for parameter userId is invalid. It must be a 12-digit account id.`);
        ids.push(item.UserId);
      }
      if (item.Group !== undefined) {
        if (item.Group !== 'all') throw new Ec2Error('InvalidParameterValue', `Value (${item.Group}) for parameter group is invalid. Valid value: all`);
        all = true;
      }
    }
    return { ids, all };
  };
  const a = parse(add);
  const r = parse(remove);
  return {
    add: [...new Set(a.ids.filter((id) => !r.ids.includes(id)))],
    remove: [...new Set(r.ids)],
    public: r.all ? false : a.all ? true : undefined,
  };
}

export class SnapshotSharing {
  constructor(readonly repo: SnapshotSharingRepository) {}

  /** The snapshot the account owns or may restore; InvalidSnapshot.NotFound otherwise. */
  async restorable(accountId: string, id: string): Promise<SnapshotRow> {
    const s = await this.repo.visible(accountId, id);
    if (!s) throw new Ec2Error('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
    return s;
  }

  /** The account's own snapshot: one it only may restore is refused, one it cannot see does not exist. */
  async owned(accountId: string, id: string): Promise<SnapshotRow> {
    const s = await this.restorable(accountId, id);
    if (s.account_id.trim() !== accountId) throw new Ec2Error('AuthFailure', `Not authorized for snapshot:${id}`, 400);
    return s;
  }

  async permissions(accountId: string, id: string): Promise<{ isPublic: boolean; accountIds: string[] }> {
    await this.owned(accountId, id);
    return this.repo.permissions(id);
  }

  async change(accountId: string, id: string, change: PermissionChange): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.change(id, change.add, change.remove, change.public);
  }

  async reset(accountId: string, id: string): Promise<void> {
    await this.owned(accountId, id);
    await this.repo.reset(id);
  }
}
