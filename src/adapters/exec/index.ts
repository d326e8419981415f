import { spawn } from 'node:child_process';
import { isIP, Server as NetServer } from 'node:net';
import { Socket as DgramSocket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { Spawner } from './spawner.js';

/**
 * The one way this project runs a host command: an argument array (never a shell string), a timeout,
 * and stderr carried in the error. Adapters take a Runner so tests can substitute a fake.
 */
export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | undefined,
    readonly stderr: string,
  ) {
    super(`${command} ${args.join(' ')} failed (exit ${exitCode ?? 'none'}): ${stderr.trim().slice(0, 2000)}`);
    this.name = 'CommandError';
  }
}

export type Runner = (
  command: string,
  args: readonly string[],
  opts?: RunOptions,
) => Promise<RunResult>;

export interface RunOptions {
  timeoutMs?: number;
  input?: string | Buffer;
  allowFailure?: boolean;
  /**
   * The command only reads (lvs, cat of a pid file): running it twice is harmless. A runner may then retry it
   * when the way to the host failed under it (sshHost does, on ssh's 255 with no message); a command that changes
   * something is never retried, since it may have run.
   */
  readOnly?: boolean;
}

/**
 * THECLOUD_TRACE_EXEC=1: every host command run here is written to stderr with its duration and exit code, for
 * profiling (bench/README.md: which commands a launch or a CreateVolume costs). Off by default.
 */
const TRACE = process.env.THECLOUD_TRACE_EXEC === '1';
function trace(command: string, args: readonly string[], started: number, ms: number, exitCode: number): void {
  const line = [command, ...args].join(' ').replace(/\s+/g, ' ');
  process.stderr.write(`[@${started.toFixed(0)} exec ${ms.toFixed(0).padStart(5)} ms${exitCode ? ` exit ${exitCode}` : ''}] ${line.length > 300 ? `${line.slice(0, 300)}...` : line}\n`);
}

/** Commands are started by a small helper process (spawner.ts: forking the big server costs ~4x more). */
const spawner = process.env.THECLOUD_SPAWNER === '0' ? undefined : new Spawner();

export const run: Runner = async (command, args, opts = {}) => {
  for (const a of args) {
    if (typeof a !== 'string') throw new TypeError(`argument to ${command} is not a string`);
    if (a.includes('\0')) throw new TypeError(`argument to ${command} contains NUL`);
  }
  const started = TRACE ? performance.now() : 0;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let out: RunResult;
  let message: string | undefined;
  if (spawner) {
    const r = await spawner.run({ command, args, input: opts.input, timeoutMs });
    out = { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    message = r.error;
  } else {
    const result = await execa(command, [...args], { timeout: timeoutMs, input: opts.input, reject: false, stripFinalNewline: false });
    out = { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode ?? -1 };
    message = result.exitCode === undefined ? String(result.message ?? '') : undefined;
  }
  if (TRACE) trace(command, args, started, performance.now() - started, out.exitCode);
  if (out.exitCode !== 0 && !opts.allowFailure) {
    throw new CommandError(command, args, out.exitCode === -1 ? undefined : out.exitCode, out.stderr || message || '');
  }
  return out;
};

/** Names that reach a host command: letters, digits, and - _ . only, not starting with '-'. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function assertSafeName(kind: string, value: string): string {
  if (!SAFE_NAME.test(value)) throw new TypeError(`unsafe ${kind} name: ${JSON.stringify(value)}`);
  return value;
}

/** The arguments of a process started below: strings without NUL (run checks its own with its own messages). */
function checkArgs(command: string, args: readonly string[]): void {
  for (const a of args) {
    if (typeof a !== 'string' || a.includes('\0')) throw new TypeError(`bad argument to ${command}`);
  }
}

/** Hands a child's output stream to `onLine` one non-blank line at a time; `flush` gives the unterminated rest. */
function readLines(stream: NodeJS.ReadableStream | null | undefined, onLine: (line: string) => void): { flush(): void } {
  let partial = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(l);
  });
  return {
    flush: () => {
      if (partial.trim()) onLine(partial);
      partial = '';
    },
  };
}

/** A long-running host process started by `startDaemon`. */
export interface Daemon {
  pid: number;
  /** Resolves once it has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: string | null }>;
  signal(sig: NodeJS.Signals): void;
}

/**
 * Starts a long-running host process (a server), argument array only, in its own process group so that a
 * signal meant for this process's group (a terminal's Ctrl-C) does not reach it: its owner ends it. `onLine`
 * gets each line it writes to stderr.
 */
export function startDaemon(
  command: string,
  args: readonly string[],
  opts: { uid?: number; gid?: number; env?: Record<string, string>; onLine: (line: string) => void },
): Daemon {
  checkArgs(command, args);
  const child = execa(command, [...args], {
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    detached: true,
    cleanup: false,
    extendEnv: true,
    env: opts.env,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  const lines = readLines(child.stderr, opts.onLine);
  const exited = child.then(
    (r) => ({ code: r.exitCode ?? null, signal: r.signal ?? null }),
    () => ({ code: null, signal: null }),
  );
  return {
    pid: child.pid ?? 0,
    exited: exited.then((r) => {
      lines.flush();
      return r;
    }),
    signal: (sig) => {
      try {
        child.kill(sig);
      } catch {
        /* gone already */
      }
    },
  };
}

/** A short-lived command whose output is read line by line while it runs (`watchLines`). */
export interface LineWatch {
  /** Resolves once it has exited (never rejects). */
  exited: Promise<void>;
  /** Ends it (SIGTERM); harmless once it has exited. */
  stop(): void;
}

export type LineWatcher = (
  command: string,
  args: readonly string[],
  onLine: (line: string) => void,
  opts?: { timeoutMs?: number },
) => LineWatch;

/**
 * Runs a command (argument array only) and hands each line it writes to stdout to `onLine` as it comes, for
 * listeners such as `virsh event --loop`. It is killed at the timeout (default 60 s) or when this process exits.
 */
export const watchLines: LineWatcher = (command, args, onLine, opts = {}) => {
  checkArgs(command, args);
  const child = execa(command, [...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'ignore',
    buffer: false,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
  });
  const lines = readLines(child.stdout, onLine);
  const exited = child.then(
    () => undefined,
    () => undefined,
  );
  return {
    exited: exited.then(() => {
      lines.flush();
    }),
    stop: () => {
      try {
        child.kill('SIGTERM');
      } catch {
        /* gone already */
      }
    },
  };
};

/**
 * A listening TCP socket inside a named network namespace, owned by this process: a short-lived child
 * (`ip netns exec NS node -e ...`) binds it there and hands it back over Node's IPC channel, then exits. The
 * socket stays in that namespace for its whole life, so connections accepted on it come from that namespace
 * (their remote address is the peer's address there), while the code that serves them runs here. No shell:
 * the namespace name is checked and the address and port are arguments.
 */
export function listenInNetns(netns: string, address: string, port: number, timeoutMs = 15_000): Promise<NetServer> {
  return handOver(netns, 'tcp', address, port, timeoutMs, (h): h is NetServer => h instanceof NetServer);
}

/** The same for a UDP socket bound to address:port inside the namespace (datagrams to it arrive here). */
export function bindUdpInNetns(netns: string, address: string, port: number, timeoutMs = 15_000): Promise<DgramSocket> {
  return handOver(netns, 'udp', address, port, timeoutMs, (h): h is DgramSocket => h instanceof DgramSocket);
}

function handOver<T>(netns: string, kind: 'tcp' | 'udp', address: string, port: number, timeoutMs: number, isHandle: (h: unknown) => h is T): Promise<T> {
  assertSafeName('network namespace', netns);
  if (isIP(address) === 0) throw new TypeError(`invalid listen address ${JSON.stringify(address)}`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`invalid port ${port}`);
  return new Promise<T>((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', NETNS_LISTENER, kind, address, String(port)], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // The child is a plain Node: no loaders or flags of this process (tsx, inspector) are passed on.
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    let stderr = '';
    let done = false;
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const finish = (err: Error | undefined, handle?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
      } else resolve(handle!);
    };
    const timer = setTimeout(() => finish(new Error(`no ${kind} socket from namespace ${netns} within ${timeoutMs} ms`)), timeoutMs);
    child.on('message', (msg: unknown, handle: unknown) => {
      if (isHandle(handle)) finish(undefined, handle);
      else finish(new Error(`binding ${kind} ${address}:${port} in ${netns} failed: ${JSON.stringify(msg)}`));
    });
    child.on('error', (e) => finish(e));
    child.on('exit', (code) => finish(new Error(`ip netns exec ${netns} exited (${code}) before handing over a socket: ${stderr.trim().slice(0, 500)}`)));
  });
}

const NETNS_LISTENER = `
const [kind, address, port] = process.argv.slice(1);
const fail = (e) => process.send({ error: String(e && e.message || e) }, () => process.exit(1));
if (kind === 'udp') {
  const s = require('dgram').createSocket({ type: 'udp4', reuseAddr: false });
  s.on('error', fail);
  s.bind({ address, port: Number(port), exclusive: true }, () => process.send('bound', s, () => process.exit(0)));
} else {
  const s = require('net').createServer();
  s.on('error', fail);
  s.listen({ host: address, port: Number(port), exclusive: true }, () => process.send('listening', s, () => process.exit(0)));
}
`;
