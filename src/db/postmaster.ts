/**
 * What a crash leaves of the embedded PostgreSQL, read from the process table (/proc) and the data directory:
 * the `postmaster.pid` of a server that is gone (its PID dead, a zombie nobody reaped yet, or reused by an
 * unrelated process after a reboot), or a postmaster still running whose server (our process) was killed.
 * Also the data directory's server lock, which tells whether another live server of ours uses it.
 */
import { readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ProcInfo {
  pid: number;
  /** R, S, D, Z (zombie), T ... as /proc/<pid>/stat says */
  state: string;
  ppid: number;
  /** Clock ticks after boot at which it started: with the boot id, a process's identity across PID reuse */
  startTicks: number;
  argv: string[];
  cwd?: string;
}

/** The process as /proc shows it, or undefined when there is none. */
export function procInfo(pid: number): ProcInfo | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const read = (f: string) => {
    try {
      return f === 'cwd' ? readlinkSync(`/proc/${pid}/cwd`) : readFileSync(`/proc/${pid}/${f}`, 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    pid,
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    startTicks: Number(rest[19]),
    argv: (read('cmdline') ?? '').split('\0').filter(Boolean),
    cwd: read('cwd'),
  };
}

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** The postmaster.pid of a data directory: its first lines are the PID, the data directory and the port. */
export function readPostmasterPid(dataDir: string): { pid: number; dataDir: string; port: number } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const [pid, dir, , port] = text.split('\n');
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return { pid: 0, dataDir: dir ?? '', port: Number(port) };
  return { pid: n, dataDir: dir ?? '', port: Number(port) };
}

/** Is `p` a PostgreSQL server process of `dataDir` (by its command line, or its working directory)? */
export function isPostmasterOf(p: ProcInfo, dataDir: string): boolean {
  const dir = resolve(dataDir);
  const exe = p.argv[0] ?? '';
  if (!/(^|\/)postgres$/.test(exe) && !/^postgres:/.test(exe)) return false;
  const d = p.argv.indexOf('-D');
  if (d >= 0 && p.argv[d + 1] !== undefined && resolve(p.argv[d + 1]!) === dir) return true;
  return p.cwd !== undefined && resolve(p.cwd) === dir;
}

/**
 * What the postmaster.pid of `dataDir` names, as the next start must treat it:
 * - `none`: no file, or its PID is gone (PostgreSQL removes such a file itself)
 * - `zombie`: the old postmaster died and is not reaped yet: the file is stale
 * - `alien`: the PID now belongs to an unrelated process (a reboot reused it): the file is stale
 * - `running`: a PostgreSQL server of this data directory still runs
 */
export function postmasterStatus(dataDir: string): { kind: 'none' | 'zombie' | 'alien' | 'running'; pid?: number; port?: number } {
  const file = readPostmasterPid(dataDir);
  if (!file) return { kind: 'none' };
  if (file.pid === 0) return { kind: 'alien' }; // unreadable: not a file a live server keeps
  const p = procInfo(file.pid);
  if (!p) return { kind: 'none', pid: file.pid };
  if (p.state === 'Z' || p.state === 'X') return { kind: 'zombie', pid: file.pid };
  if (p.pid === process.pid || !isPostmasterOf(p, dataDir)) return { kind: 'alien', pid: file.pid };
  return { kind: 'running', pid: file.pid, port: file.port };
}

export function removePostmasterPid(dataDir: string): void {
  rmSync(join(dataDir, 'postmaster.pid'), { force: true });
}

// ---- the server lock --------------------------------------------------------------------------------------------

interface LockHolder {
  pid: number;
  boot: string;
  startTicks: number;
}

const LOCK_FILE = 'server.lock';

/** The live server process (not this one) that holds the data directory's lock, if any. */
export function lockHolder(root: string): LockHolder | undefined {
  let holder: LockHolder;
  try {
    holder = JSON.parse(readFileSync(join(root, LOCK_FILE), 'utf8')) as LockHolder;
  } catch {
    return undefined;
  }
  if (holder.pid === process.pid || holder.boot !== bootId()) return undefined;
  const p = procInfo(holder.pid);
  if (!p || p.state === 'Z' || p.startTicks !== holder.startTicks) return undefined;
  return holder;
}

/** Takes the data directory's lock for this process; throws if another live server holds it. */
export function takeLock(root: string): void {
  const other = lockHolder(root);
  if (other) {
    throw new Error(`another The Cloud server (PID ${other.pid}) uses the data directory ${root}; stop it first, or give this one its own THECLOUD_DATA_DIR`);
  }
  const me = procInfo(process.pid);
  writeFileSync(join(root, LOCK_FILE), JSON.stringify({ pid: process.pid, boot: bootId(), startTicks: me?.startTicks ?? 0 }) + '\n');
}

export function releaseLock(root: string): void {
  const file = join(root, LOCK_FILE);
  if (!existsSync(file)) return;
  try {
    const holder = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
    if (holder.pid !== process.pid) return;
  } catch {
    /* unreadable: ours to replace */
  }
  rmSync(file, { force: true });
}
