import type { QueryInterface } from 'sequelize';

/** A digest of a launch's parameters, so that a reused ClientToken with other parameters can be refused. */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE instances ADD COLUMN launch_fingerprint text');
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE instances DROP COLUMN launch_fingerprint');
}
