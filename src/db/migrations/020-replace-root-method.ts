import type { QueryInterface } from 'sequelize';

/**
 * CreateReplaceRootVolumeTask: how the task makes the new root, chosen once before any host work and kept so that
 * a resumed task goes on the same way: 'clone' (a thin clone of the snapshot or image; the old root is kept until
 * deleted), 'merge' (DeleteReplacedRootVolume with a snapshot of the current root's own disk: that disk is rolled
 * back by `lvconvert --merge` and renamed to the new volume), 'merged' (the merge is done: the point of no return,
 * after which the task only goes forward). NULL: not chosen yet.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`ALTER TABLE replace_root_volume_tasks ADD COLUMN method text`);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`ALTER TABLE replace_root_volume_tasks DROP COLUMN method`);
}
