import type { QueryInterface } from 'sequelize';

/**
 * Secondary private addresses (AssignPrivateIpAddresses): an ENI owns several allocations, exactly one of them
 * its primary address. Which one was told by allocation time until now; addresses allocated in one transaction
 * (RunInstances with SecondaryPrivateIpAddressCount) share that time, so the flag says it. Every allocation made
 * before this migration is its owner's only one, hence primary.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`ALTER TABLE ip_allocations ADD COLUMN is_primary boolean NOT NULL DEFAULT true`);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE ip_allocations DROP COLUMN is_primary');
}
