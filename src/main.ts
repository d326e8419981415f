/**
 * Entry point.
 *   tsx src/main.ts                    start the API server (PORT, default 8080; embedded PostgreSQL without DATABASE_URL)
 *   tsx src/main.ts doctor             report whether each backend's host dependency is reachable, and list what
 *                                      other installations left on this host
 *   tsx src/main.ts doctor --remove-leftovers <installation>
 *                                      remove the host objects of that other installation ('none': those that
 *                                      carry no installation id), as listed by doctor
 *
 * SIGTERM (or SIGINT) stops the server gracefully (see Running.close); a second one ends it at once. Whatever
 * either leaves half done is finished by reconciliation at the next start.
 */
import { loadConfig, ConfigError, type Config } from './config/index.js';
import { startServer } from './server/bootstrap.js';
import { createLogger } from './server/log.js';
import { errorText } from './errors/text.js';
import { doctor } from './server/doctor.js';

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
  if (process.argv[2] === 'doctor') process.exit(await doctor(config, process.argv.slice(3)));
  const log = createLogger(config.logLevel);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn('second signal: exiting at once; reconciliation finishes what was in flight at the next start', { signal });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down', { signal });
    running.then((r) => r.close()).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (e) => {
        log.error('shutdown failed', { error: e });
        process.exit(1);
      },
    );
  };
  // Registered before the start, so that a SIGTERM during start-up is graceful too (it waits for the start).
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const running = startServer(config, { log });
  await running;
}

main().catch((e) => {
  console.error(`The Cloud could not start: ${errorText(e, { stack: true })}`);
  process.exit(1);
});
