/**
 * Wiring: the only place that knows every layer. Builds the database, adapters, services and the Koa app
 * from a Config, so that src/main.ts and the tests start the very same server.
 */
import { readFileSync } from 'node:fs';
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
import { sandboxOf } from '../services/instances/network-steps.js';
import { TagService } from '../services/tags/index.js';
import { ComputeRepository, type InstanceRow } from '../db/repositories/compute.js';
import { ImageRepository } from '../db/repositories/images.js';
import { ImageService } from '../services/images/index.js';
import { ImagePolicy } from '../services/images/policy.js';
import { LocalHostFiles } from '../adapters/host/files.js';
import { KeyPairService } from '../services/key-pairs/index.js';
import { InstanceService } from '../services/instances/index.js';
import { IdentitySigner, MetadataServer, MetadataService } from '../services/metadata/index.js';
import { TokenIssuer } from '../services/metadata/tokens.js';
import { join } from 'node:path';
import { VolumeService } from '../services/volumes/index.js';
import { VolumeRepository } from '../db/repositories/volumes.js';
import type { Services } from '../services/index.js';
import { DescribeEngine } from '../describe/index.js';
import { buildRegistry } from '../api/index.js';
import { createApp } from './app.js';
import { createLogger, type Logger } from './log.js';
import { createBackends } from '../adapters/index.js';
import { DnsResolver, upstreamsFrom } from '../services/dns/index.js';
import { DnsRepository } from '../db/repositories/dns.js';
import { DhcpRepository } from '../db/repositories/dhcp.js';
import { dhcpOptionsLookup } from '../services/network/dhcp.js';

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
  try {
    return await startOn(config, opts, log, url, embedded);
  } catch (e) {
    // Nothing half-started is left behind: the embedded PostgreSQL is shut down cleanly.
    await embedded?.stop().catch((s) => log.error('could not stop the embedded PostgreSQL', { error: s }));
    throw e;
  }
}

async function startOn(config: Config, opts: StartOptions, log: Logger, url: string, embedded: EmbeddedDatabase | undefined): Promise<Running> {
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
  network.addresses.pool = config.publicIpv4Pool;
  const accounts = new AccountService(new AccountRepository(db));
  const computeRepo = new ComputeRepository(db);
  const imagePolicy = new ImagePolicy({ config: config.imagePolicy, dataDir: config.dataDir, compute: backends.compute, files: new LocalHostFiles() });
  const images = new ImageService(new ImageRepository(db, backends.compute.name), backends.compute, imagePolicy, log);
  const keyPairs = new KeyPairService(computeRepo);
  // Volumes read instance records (attach) and instances make volumes (launch mappings): the lookup is lazy.
  const volumes: VolumeService = new VolumeService(new VolumeRepository(db), { byIds: (a: string, ids: string[]): Promise<InstanceRow[]> => instances.byIds(a, ids), whileShutDown: (id, fn) => instances.whileShutDown(id, fn) }, catalog, backends.storage, backends.compute, log);
  const instances: InstanceService = new InstanceService(computeRepo, network, images, keyPairs, backends.compute, log, {
    volumes,
    retentionMs: config.terminatedRetentionMs,
    maxInstances: config.maxInstances,
    onPurged: (ids) => tags.forget(ids),
  });
  const metadata = new MetadataService(computeRepo, network, keyPairs, tags, images, config.region);
  const services: Services = { accounts, catalog, network, tags, images, keyPairs, instances, volumes, metadata, backends, describe: new DescribeEngine(db) };
  // The instance metadata service: every VPC router the network backend realises from now on serves it.
  const limitHops = backends.network.limitMetadataHops?.bind(backends.network);
  const metadataDir = join(config.dataDir, 'metadata');
  const metadataServer = new MetadataServer(metadata, { signer: IdentitySigner.lazy(metadataDir), tokens: TokenIssuer.fromDir(metadataDir), log, limitHops });
  await backends.network.serveMetadata(metadataServer.accept);
  // The VPC resolver (169.254.169.253 and each VPC's base + 2): private names, the rest forwarded upstream.
  const resolver = new DnsResolver(new DnsRepository(db), { region: config.region, upstreams: upstreamsFrom(config.dnsUpstreams, hostResolvConf()), log });
  await backends.network.serveDns?.(resolver.respond);
  // The VPC's DHCP server (every plugged ENI's address, router and options set), as AWS's.
  await backends.network.serveDhcp?.(dhcpOptionsLookup(new DhcpRepository(db), config.region));

  tags.register('vpc', async (acct, ids) => new Set((await network.vpcs(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));
  tags.register('subnet', async (acct, ids) => new Set((await network.subnets(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));
  const idsIn = (rows: { id: string }[], ids: string[]) => new Set(rows.filter((r) => ids.includes(r.id)).map((r) => r.id));
  tags.register('instance', async (acct, ids) => idsIn(await instances.byIds(acct, ids), ids)); // by id in SQL, not the account's every row
  tags.register('image', async (acct, ids) => idsIn(await images.list(acct), ids));
  tags.register('volume', async (acct, ids) => idsIn(await volumes.repo.volumesOf(acct, ids), ids));
  tags.register('replaceRootVolumeTask', async (acct, ids) => new Set((await Promise.all(ids.map((id) => volumes.replacements.repo.task(id)))).flatMap((t) => (t && t.account_id === acct ? [t.id] : []))));
  tags.register('snapshot', async (acct, ids) => idsIn(await volumes.repo.snapshotsOf(acct, ids), ids));
  tags.register('keyPair', async (acct, ids) => idsIn(await keyPairs.list(acct), ids));
  tags.register('networkInterface', async (acct, ids) => new Set((await network.enis.ofAccount(acct, ids)).map((e) => e.id)));
  tags.register('networkAcl', async (acct, ids) => new Set((await Promise.all(ids.map((id) => networkRepo.acls.acl(acct, id)))).flatMap((a) => (a ? [a.id] : []))));
  tags.register('dhcpOptions', async (acct, ids) => new Set((await Promise.all(ids.map((id) => networkRepo.dhcp.one(acct, id)))).flatMap((d) => (d ? [d.id] : []))));
  tags.register('routeTable', async (acct, ids) => idsIn(await networkRepo.routes.tablesOf(acct, ids), ids));
  tags.register('internetGateway', async (acct, ids) => idsIn(await networkRepo.routes.gatewaysOf(acct, ids), ids));
  tags.register('address', async (acct, ids) => idsIn(await networkRepo.addresses.ofAccount(acct, ids), ids));
  tags.register('natGateway', async (acct, ids) => idsIn(await networkRepo.nats.ofAccount(acct, ids), ids));
  tags.register('securityGroup', async (acct, ids) => new Set((await network.securityGroups(acct)).filter((v) => ids.includes(v.id)).map((v) => v.id)));

  await accounts.seed(config.accounts);
  for (const a of config.accounts) await network.ensureDefaults(a.accountId);
  // The host reaches these VPCs through their router (THECLOUD_HOST_VPCS; `default`: the first account's default VPC).
  const firstDefault = (await network.vpcs(config.accounts[0]!.accountId)).find((v) => v.is_default)?.id;
  backends.network.setHostVpcs?.(config.hostVpcs.map((v) => (v === 'default' ? firstDefault : v)).filter((v): v is string => !!v));
  // The data plane from the records alone (VPCs, subnets, the ENIs of running instances, security groups),
  // before any instance work plugs a port; again whenever a backend call failed.
  const syncNetwork = () =>
    network
      .sync(async (eni, port) => {
        const row = eni.instance_id ? await computeRepo.instance(eni.instance_id) : undefined;
        if (!row?.backend_id || row.state !== 'running') return undefined;
        // Every attached interface: eth<device index> of a container, a tap of its own of a VM.
        if ((await backends.compute.state(row.backend_id)) !== 'running') return undefined;
        return sandboxOf(backends.compute, network, row.backend_id, port);
      })
      .catch((e) => {
        network.needsSync = true;
        log.error('network sync failed; will retry', { error: e });
      });
  await syncNetwork();
  await images.ensureBuiltins();
  // Reconcile records with the compute backend now and then periodically (a crash, a container that died).
  // One pass at a time; none once shutdown has begun.
  let closing = false;
  let pass: Promise<void> | undefined;
  const reconcile = (): Promise<void> => {
    if (closing || pass) return pass ?? Promise.resolve();
    pass = (network.needsSync ? syncNetwork() : Promise.resolve())
      .then(() => instances.reconcile())
      .then(() => images.sweep())
      .then(() => volumes.reconcile())
      .then(() => network.cidrs.purgeExpired())
      .catch((e) => log.error('reconciliation failed', { error: e }))
      .finally(() => (pass = undefined));
    return pass;
  };
  await reconcile();
  const timer = setInterval(() => void reconcile(), config.reconcileIntervalMs);
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
    /**
     * Graceful stop (SIGTERM): the listener stops taking connections and requests in flight finish; the
     * reconciliation pass in progress ends; backend work in flight gets the grace period, then stays in the
     * transitional state it recorded, which reconciliation resumes at the next start; the embedded PostgreSQL is
     * shut down cleanly.
     */
    async close() {
      closing = true;
      clearInterval(timer);
      await closeListener(server, 30_000);
      await backends.network.serveMetadata(null).catch((e) => log.warn('could not stop the metadata listeners', { error: e }));
      await backends.network.serveDhcp?.(null).catch((e) => log.warn('could not stop the DHCP server', { error: e }));
      await backends.network.serveDns?.(null).catch((e) => log.warn('could not stop the DNS listeners', { error: e }));
      metadataServer.close();
      await pass;
      const left = await instances.close(config.shutdownGraceMs);
      if (left) log.warn('shutdown: backend work still in flight is left to reconciliation at the next start', { instances: left });
      await db.close();
      if (embedded) await embedded.stop();
    },
  };
}

/** Stops taking connections and waits for the requests in flight (up to `ms`); idle keep-alive connections are closed. */
async function closeListener(server: Server, ms: number): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  // A connection becomes idle once its request is answered: close those as they come, until all are gone.
  const sweep = setInterval(() => server.closeIdleConnections?.(), 100);
  server.closeIdleConnections?.();
  const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
  await Promise.race([closed, timeout]);
  clearInterval(sweep);
  server.closeAllConnections?.();
}

/** The host's resolver configuration (the VPC resolver's default upstreams); none readable: no upstreams. */
function hostResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
