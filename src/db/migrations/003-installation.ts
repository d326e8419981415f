import type { QueryInterface } from 'sequelize';

/**
 * The installation's id, made once per database. Backend objects carry it, so that servers on different
 * databases that share one Docker engine or libvirt host never reconcile each other's instances away.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE installation (
      id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
      singleton   boolean NOT NULL DEFAULT true UNIQUE CHECK (singleton),
      created_at  timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO installation (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 16));
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE installation');
}
