import type { QueryInterface } from 'sequelize';

/**
 * Launch permissions of images (ModifyImageAttribute): the accounts an image is shared with; `is_public`
 * stays the group `all`. And which images' backend objects are copies the cloud made (a host file imported
 * into the storage pool), to be removed once nothing uses them, as captured images are.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE image_launch_permissions (
      image_id    text NOT NULL REFERENCES images(id) ON DELETE CASCADE,
      account_id  char(12) NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (image_id, account_id)
    );
    CREATE INDEX image_launch_permissions_account ON image_launch_permissions (account_id, image_id);
    ALTER TABLE images ADD COLUMN backend_copy boolean NOT NULL DEFAULT false;
    -- Copies imported before this migration: libvirt's import-<digest>.qcow2 volumes.
    UPDATE images SET backend_copy = true WHERE backend = 'libvirt' AND backend_ref LIKE 'disk:import-%';
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE images DROP COLUMN backend_copy; DROP TABLE image_launch_permissions');
}
