/**
 * Entry point.
 *   tsx src/main.ts          start the API server (PORT, default 8080; embedded PostgreSQL without DATABASE_URL)
 *   tsx src/main.ts doctor   report, for each backend, whether its host dependency is reachable
 */
import { loadConfig, ConfigError, type Config } from './config/index.js';
import { startServer } from './server/bootstrap.js';
import { createBackends, createStorage } from './adapters/index.js';
import { createLogger } from './server/log.js';

async function doctor(config: Config): Promise<number> {
  const backends = await createBackends(config);
  let ok = true;
  for (const [kind, backend] of Object.entries(backends)) {
    const r = await backend.probe();
    ok &&= r.ok;
    console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${kind.padEnd(8)} ${backend.name.padEnd(8)} ${r.detail}`);
  }
  if (config.storageBackend !== 'lvm') {
    // Not in use, so not a failure; but whether STORAGE_BACKEND=lvm would work is worth knowing.
    const lvm = await createStorage({ ...config, storageBackend: 'lvm' });
    const r = await lvm.probe();
    console.log(`info lvm      ${r.ok ? 'answers' : 'does not answer'}: ${r.detail}`);
  }
  const db = config.databaseUrl ? `DATABASE_URL (${config.databaseUrl.replace(/:[^:@/]*@/, ':***@')})` : `embedded PostgreSQL in ${config.dataDir}/postgres`;
  console.log(`info database ${db}`);
  return ok ? 0 : 1;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`configuration error: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  if (process.argv[2] === 'doctor') process.exit(await doctor(config));
  const log = createLogger(config.logLevel);
  const running = await startServer(config, { log });
  const stop = async (signal: string) => {
    log.info('shutting down', { signal });
    await running.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
