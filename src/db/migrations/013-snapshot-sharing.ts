import type { QueryInterface } from 'sequelize';

/**
 * createVolumePermission of snapshots (ModifySnapshotAttribute): the accounts a snapshot is shared with, and
 * `is_public` for the group all. Another account sees and restores a snapshot only through one of them.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    ALTER TABLE snapshots ADD COLUMN is_public boolean NOT NULL DEFAULT false;
    CREATE TABLE snapshot_create_volume_permissions (
      snapshot_id  text NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
      account_id   char(12) NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (snapshot_id, account_id)
    );
    CREATE INDEX snapshot_create_volume_permissions_account ON snapshot_create_volume_permissions (account_id, snapshot_id);
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE snapshot_create_volume_permissions; ALTER TABLE snapshots DROP COLUMN is_public');
}
