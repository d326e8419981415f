/**
 * Starts the real server in-process for tests: the same bootstrap as `npm start`, on a free port, with a
 * fresh database of its own in one PostgreSQL shared by the whole run (DATABASE_URL's server when set,
 * otherwise an embedded one under a temporary directory).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../../src/config/index.js';
import { startServer, type Running, type StartOptions } from '../../src/server/bootstrap.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { createLogger } from '../../src/server/log.js';

let cluster: Promise<{ adminUrl: string; embedded?: EmbeddedDatabase; dir?: string }> | undefined;

function startCluster() {
  cluster ??= (async () => {
    if (process.env.DATABASE_URL) return { adminUrl: process.env.DATABASE_URL };
    const dir = mkdtempSync(join(tmpdir(), 'thecloud-test-'));
    const embedded = await startEmbeddedPostgres(dir, () => {});
    return { adminUrl: embedded.url, embedded, dir };
  })();
  return cluster;
}

export async function stopCluster(): Promise<void> {
  if (!cluster) return;
  const c = await cluster;
  cluster = undefined;
  await c.embedded?.stop();
  if (c.dir) rmSync(c.dir, { recursive: true, force: true });
}

/** A new empty database on the shared cluster; returns its URL. */
export async function freshDatabase(): Promise<string> {
  const { adminUrl } = await startCluster();
  const name = `t_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Drops a database freshDatabase made (its server closed): a test that wrote many rows leaves no work to autovacuum. */
export async function dropDatabase(url: string): Promise<void> {
  const { adminUrl } = await startCluster();
  const name = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await client.end();
}

export interface TestServer extends Running {
  databaseUrl: string;
  /** The server's log lines (printed live instead when TEST_LOG is set). */
  logs: string[];
}

export const SECOND_ACCOUNT = { accountId: '111111111111', accessKeyId: 'AKIDSECOND', secretAccessKey: 'second-secret' };

export async function startTestServer(env: Record<string, string> = {}, databaseUrl?: string, opts: Pick<StartOptions, 'backends'> = {}): Promise<TestServer> {
  const url = databaseUrl ?? (await freshDatabase());
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    COMPUTE_BACKEND: 'noop',
    // Real instances get the real data plane (their containers and VMs have no other network).
    NETWORK_BACKEND: env.COMPUTE_BACKEND === 'docker' || env.COMPUTE_BACKEND === 'libvirt' ? 'ovs' : 'noop',
    STORAGE_BACKEND: 'noop',
    // The VPC resolver forwards nothing off this machine in tests (a test that wants forwarding names its stub).
    THECLOUD_DNS_UPSTREAMS: 'none',
    THECLOUD_ACCOUNTS: `${SECOND_ACCOUNT.accountId}:${SECOND_ACCOUNT.accessKeyId}:${SECOND_ACCOUNT.secretAccessKey}`,
    ...env,
  });
  const logs: string[] = [];
  const log = createLogger(process.env.TEST_LOG ? 'debug' : 'info', (l) => (process.env.TEST_LOG ? console.error(l) : logs.push(l)));
  const running = await startServer(config, { log, databaseUrl: url, ...opts });
  const close = running.close.bind(running);
  // This installation's switch objects go with the test's server (a later server on the same database rebuilds
  // them from the records at start-up).
  const clearNetwork = () => running.services.backends.network.sync({ vpcs: [], subnets: [], ports: [], security: { groups: [] } }).then(() => undefined);
  return Object.assign(running, {
    databaseUrl: url,
    logs,
    async close() {
      await close();
      if (config.networkBackend === 'ovs') await clearNetwork().catch(() => undefined);
    },
  });
}
