import type { QueryInterface } from 'sequelize';

/**
 * Instance metadata options (RunInstances MetadataOptions, ModifyInstanceMetadataOptions): one jsonb object of
 * the keys that differ from AWS's defaults (src/services/metadata/options.ts fills the rest), so every instance
 * launched before this migration reads as the defaults it was served with.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`ALTER TABLE instances ADD COLUMN metadata_options jsonb NOT NULL DEFAULT '{}'`);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE instances DROP COLUMN metadata_options');
}
