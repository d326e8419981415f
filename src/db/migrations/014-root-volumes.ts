import type { QueryInterface } from 'sequelize';

/**
 * Root volumes (libvirt instances on LVM storage): a volume made from an image, not a snapshot, records the image
 * it was cloned from, so that its disk can be made again (idempotently) after a crash and DescribeVolumes is
 * truthful about where it came from.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`ALTER TABLE volumes ADD COLUMN image_id text`);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE volumes DROP COLUMN image_id');
}
