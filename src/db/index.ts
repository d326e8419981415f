/**
 * The database: a Sequelize connection to PostgreSQL (DATABASE_URL, or the embedded server), with the
 * versioned migrations under ./migrations applied at start-up by umzug.
 */
import { Sequelize } from 'sequelize';
import { Umzug, SequelizeStorage } from 'umzug';
import * as m001 from './migrations/001-base.js';
import * as m002 from './migrations/002-compute.js';
import * as m003 from './migrations/003-installation.js';
import * as m004 from './migrations/004-launch-fingerprint.js';
import * as m005 from './migrations/005-instance-steps.js';
import * as m006 from './migrations/006-describe-indexes.js';
import * as m007 from './migrations/007-image-sharing.js';
import * as m008 from './migrations/008-network-interfaces.js';
import * as m009 from './migrations/009-volumes.js';
import * as m010 from './migrations/010-metadata-options.js';
import * as m011 from './migrations/011-route-tables.js';
import * as m012 from './migrations/012-acls-dhcp-options.js';
import * as m013 from './migrations/013-snapshot-sharing.js';
import * as m014 from './migrations/014-root-volumes.js';
import * as m015 from './migrations/015-nat-gateways.js';
import * as m016 from './migrations/016-secondary-ips.js';
import * as m017 from './migrations/017-replace-root-volume-tasks.js';
import * as m018 from './migrations/018-vpc-cidr-blocks.js';
import * as m020 from './migrations/020-replace-root-method.js';
import * as m021 from './migrations/021-vpc-scoped-indexes.js';

/** Migrations in order; a new one is appended here with the next number. */
const MIGRATIONS = [
  { name: '001-base', ...m001 },
  { name: '002-compute', ...m002 },
  { name: '003-installation', ...m003 },
  { name: '004-launch-fingerprint', ...m004 },
  { name: '005-instance-steps', ...m005 },
  { name: '006-describe-indexes', ...m006 },
  { name: '007-image-sharing', ...m007 },
  { name: '008-network-interfaces', ...m008 },
  { name: '009-volumes', ...m009 },
  { name: '010-metadata-options', ...m010 },
  { name: '011-route-tables', ...m011 },
  { name: '012-acls-dhcp-options', ...m012 },
  { name: '013-snapshot-sharing', ...m013 },
  { name: '014-root-volumes', ...m014 },
  { name: '015-nat-gateways', ...m015 },
  { name: '016-secondary-ips', ...m016 },
  { name: '017-replace-root-volume-tasks', ...m017 },
  { name: '018-vpc-cidr-blocks', ...m018 },
  { name: '020-replace-root-method', ...m020 },
  { name: '021-vpc-scoped-indexes', ...m021 },
];

export async function connect(url: string): Promise<Sequelize> {
  const sequelize = new Sequelize(url, {
    dialect: 'postgres',
    logging: false,
    pool: { max: 10, min: 0, idle: 10_000 },
  });
  await sequelize.authenticate();
  return sequelize;
}

export async function migrate(sequelize: Sequelize): Promise<string[]> {
  const umzug = new Umzug({
    migrations: MIGRATIONS.map((m) => ({ name: m.name, up: m.up, down: m.down })),
    context: sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
  // Two servers starting on one database must not run the same migration twice.
  return sequelize.transaction(async (t) => {
    await sequelize.query('SELECT pg_advisory_xact_lock(727271)', { transaction: t });
    const done = await umzug.up();
    return done.map((d) => d.name);
  });
}

/** This database's installation id (see migration 003). */
export async function installationId(sequelize: Sequelize): Promise<string> {
  const [rows] = (await sequelize.query('SELECT id FROM installation')) as [{ id: string }[], unknown];
  return rows[0]!.id;
}
