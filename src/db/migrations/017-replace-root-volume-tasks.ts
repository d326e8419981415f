import type { QueryInterface } from 'sequelize';

/**
 * CreateReplaceRootVolumeTask: one row per task, written `pending` before any host work, with the volume that is
 * being replaced and the one replacing it (made under a client token derived from the task id), so that a task a
 * crash interrupted can be told apart from one still running.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE replace_root_volume_tasks (
      id text PRIMARY KEY,
      account_id char(12) NOT NULL,
      instance_id text NOT NULL,
      snapshot_id text,
      image_id text,
      delete_replaced boolean NOT NULL DEFAULT false,
      state text NOT NULL,
      state_message text,
      old_volume_id text,
      new_volume_id text,
      client_token text,
      start_time timestamptz NOT NULL DEFAULT clock_timestamp(),
      complete_time timestamptz,
      UNIQUE (account_id, client_token)
    )`);
  await qi.sequelize.query(`CREATE INDEX replace_root_volume_tasks_instance ON replace_root_volume_tasks (instance_id)`);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE replace_root_volume_tasks');
}
