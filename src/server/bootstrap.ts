/**
 * Wiring: the only place that knows every layer. Builds the database, adapters, services and the Koa app
 * from a Config, so that src/main.ts and the tests start the very same server.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import { connect, migrate, installationId } from '../db/index.js';
import { Db } from '../db/sql.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../db/embedded.js';
import { AccountRepository } from '../db/repositories/accounts.js';
import { TagRepository } from '../db/repositories/tags.js';
import { NetworkRepository } from '../db/repositories/network.js';
import { AccountService } from '../services/accounts/index.js';
import { CatalogService } from '../services/catalog/index.js';
import { NetworkService } from '../services/network/index.js';
import { TagService } from '../services/tags/index.js';
import { ComputeRepository } from '../db/repositories/compute.js';
import { ImageRepository } from '../db/repositories/images.js';
import { ImageService } from '../services/images/index.js';
import { ImagePolicy } from '../services/images/policy.js';
import { LocalHostFiles } from '../adapters/host/files.js';
import { KeyPairService } from '../services/key-pairs/index.js';
import { InstanceService } from '../services/instances/index.js';
import type { Services } from '../services/index.js';
import { DescribeEngine } from '../describe/index.js';
import { buildRegistry } from '../api/index.js';
import { createApp } from './app.js';
import { createLogger, type Logger } from './log.js';
import { createBackends } from '../adapters/index.js';

export interface Running {
  url: string;
  port: number;
  services: Services;
  db: Db;
  log: Logger;
  close(): Promise<void>;
}

export async function resolveDatabaseUrl(config: Config, log: Logger): Promise<{ url: string; embedded?: EmbeddedDatabase }> {
  if (config.databaseUrl) return { url: config.databaseUrl };
  const embedded = await startEmbeddedPostgres(config.dataDir, (m) => log.info(m));
  return { url: embedded.url, embedded };
}

export interface StartOptions {
  log?: Logger;
  databaseUrl?: string;
  /** Adapters to use instead of those the configuration names (tests that need a scripted backend). */
  backends?: Partial<Awaited<ReturnType<typeof createBackends>>>;
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<Running> {
  const log = opts.log ?? createLogger(config.logLevel);
  const { url, embedded } = opts.databaseUrl ? { url: opts.databaseUrl, embedded: undefined } : await resolveDatabaseUrl(config, log);
  const sequelize = await connect(url);
  const applied = await migrate(sequelize);
  if (applied.length) log.info('migrations applied', { applied });
  const db = new Db(sequelize);

  const cloudId = await installationId(sequelize);
  const backends = { ...(await createBackends(config, cloudId)), ...opts.backends };
  const catalog = new CatalogService(config.region);
  const networkRepo = new NetworkRepository(db);
  const tags = new TagService(new TagRepository(db));
  const network = new NetworkService(networkRepo, catalog, backends.network, log);
  const accounts = new AccountService(new AccountRepository(db));
  const computeRepo = new ComputeRepository(db);
  const imagePolicy = new ImagePolicy({ config: config.imagePolicy, dataDir: config.dataDir, compute: backends.compute, files: new LocalHostFiles() });
  const images = new ImageService(new ImageRepository(db, backends.compute.name), backends.compute, imagePolicy, log);
  const keyPairs = new KeyPairService(computeRepo);
  const instances = new InstanceService(computeRepo, network, images, keyPairs, backends.compute, log, {
    retentionMs: config.terminatedRetentionMs,
    maxInstances: config.maxInstances,
    onPurged: (ids) => tags.forget(ids),
  });
  const services: Services = { accounts, catalog, network, tags, images, keyPairs, instances, backends, describe: new DescribeEngine(db) };

  tags.register('vpc', async (acct, ids) => new Set((await network.vpcs(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));
  tags.register('subnet', async (acct, ids) => new Set((await network.subnets(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));
  const idsIn = (rows: { id: string }[], ids: string[]) => new Set(rows.filter((r) => ids.includes(r.id)).map((r) => r.id));
  tags.register('instance', async (acct, ids) => idsIn(await instances.list(acct), ids));
  tags.register('image', async (acct, ids) => idsIn(await images.list(acct), ids));
  tags.register('keyPair', async (acct, ids) => idsIn(await keyPairs.list(acct), ids));
  tags.register('securityGroup', async (acct, ids) => new Set((await network.securityGroups(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));

  await accounts.seed(config.accounts);
  for (const a of config.accounts) {
    await network.ensureDefaults(a.accountId);
    await network.reconcile(a.accountId);
  }
  await images.ensureBuiltins();
  // Reconcile records with the compute backend now and then periodically (a crash, a container that died).
  const reconcile = () =>
    instances
      .reconcile()
      .then(() => images.sweep())
      .catch((e) => log.error('reconciliation failed', { error: (e as Error).message }));
  await reconcile();
  const timer = setInterval(reconcile, config.reconcileIntervalMs);
  timer.unref();

  const app = createApp({
    registry: buildRegistry(),
    services,
    region: config.region,
    authEnabled: config.authEnabled,
    defaultAccountId: config.accounts[0]!.accountId,
    lookupCredentials: (akid) => accounts.lookup(akid),
    log,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, config.host, () => resolve(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  const shownHost = config.host === '0.0.0.0' ? 'localhost' : config.host;
  log.info('listening', { url: `http://${shownHost}:${port}`, compute: backends.compute.name, storage: backends.storage.name, network: backends.network.name });

  return {
    url: `http://${shownHost === 'localhost' ? '127.0.0.1' : shownHost}:${port}`,
    port,
    services,
    db,
    log,
    async close() {
      clearInterval(timer);
      await new Promise<void>((r) => server.close(() => r()));
      await instances.queue.idle();
      server.closeAllConnections?.();
      await db.close();
      if (embedded) await embedded.stop();
    },
  };
}
