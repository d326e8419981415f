/**
 * Host commands started by a small helper process rather than by the server itself.
 *
 * Why: a process is started by fork + exec, and fork copies the parent's page tables, so its cost grows with the
 * parent's memory. Measured here (Node 20, 2 cores): `/bin/true` costs ~3.4 ms from a fresh Node process and ~14 ms
 * from one holding 300 MB (the server with its clients, caches and, in tests, everything mocha loads), ~20 ms
 * through execa. A launch runs a dozen commands (veth pair, ethtool, ovs-vsctl, ovs-ofctl, ip in the
 * container's namespace ...), most of them on its critical path and all of them taking CPU from the container's
 * own start on a small host. The helper is a plain Node process of ~40 MB that does nothing else: it spawns each
 * command (argument array, no shell, exactly as before) and sends back its output and exit status.
 *
 * Protocol: one JSON object per line each way. Request {id, command, args, input (base64, optional), timeoutMs};
 * answer {id, stdout, stderr, exitCode, error}. Commands run concurrently; answers come in any order.
 *
 * The helper lives as long as the server: started at the first command, it exits when its stdin closes (the
 * server is gone) and ignores SIGINT/SIGTERM (the server, still shutting down gracefully, may need it). If it dies,
 * the commands in flight fail (they may have run: never run twice) and the next command starts a new helper.
 * THECLOUD_SPAWNER=0 turns it off (each command forked by the server, as execa does).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export interface SpawnResult {
  stdout: string;
  stderr: string;
  /** -1 when the command did not exit by itself (not started, killed by the timeout or a signal). */
  exitCode: number;
  /** Why there is no exit status (not started, timed out, killed by a signal), as execa words it. */
  error?: string;
}

export interface SpawnRequest {
  command: string;
  args: readonly string[];
  input?: string | Buffer;
  timeoutMs: number;
}

/** The helper's program (plain JavaScript, run with `node -e`: no loader, no project code). */
const HELPER = String.raw`
'use strict';
const { spawn } = require('node:child_process');
const { createInterface } = require('node:readline');
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
const reply = (m) => process.stdout.write(JSON.stringify(m) + '\n');
createInterface({ input: process.stdin }).on('line', (line) => {
  let r;
  try { r = JSON.parse(line); } catch { return; }
  let done = false, timedOut = false, child;
  const finish = (m) => { if (!done) { done = true; reply({ id: r.id, ...m }); } };
  try {
    child = spawn(r.command, r.args, { stdio: [r.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (e) {
    return finish({ stdout: '', stderr: '', exitCode: -1, error: String(e && e.message) });
  }
  const out = [], err = [];
  child.stdout.on('data', (c) => out.push(c));
  child.stderr.on('data', (c) => err.push(c));
  let kill;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    kill = setTimeout(() => child.kill('SIGKILL'), 5000);
  }, r.timeoutMs);
  child.on('error', (e) => { clearTimeout(timer); clearTimeout(kill); finish({ stdout: '', stderr: '', exitCode: -1, error: String(e && e.message) }); });
  child.on('close', (code, signal) => {
    clearTimeout(timer);
    clearTimeout(kill);
    const error = timedOut ? 'Command timed out after ' + r.timeoutMs + ' milliseconds' : signal ? 'Command was killed with ' + signal : undefined;
    finish({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode: code === null ? -1 : code, error });
  });
  if (r.input !== undefined) {
    child.stdin.on('error', () => {});
    child.stdin.end(Buffer.from(r.input, 'base64'));
  }
});
process.stdin.on('end', () => process.exit(0));
`;

type Helper = ChildProcessByStdio<Writable, Readable, null>;

export class Spawner {
  private helper?: Helper;
  private nextId = 1;
  private readonly pending = new Map<number, (r: SpawnResult) => void>();

  run(req: SpawnRequest): Promise<SpawnResult> {
    const helper = this.helper ?? this.start();
    const id = this.nextId++;
    const line = JSON.stringify({
      id,
      command: req.command,
      args: req.args,
      input: req.input === undefined ? undefined : Buffer.from(req.input).toString('base64'),
      timeoutMs: req.timeoutMs,
    });
    return new Promise<SpawnResult>((resolve) => {
      this.pending.set(id, resolve);
      this.hold();
      helper.stdin.write(line + '\n');
    });
  }

  private start(): Helper {
    // NODE_OPTIONS would load the server's loader (tsx) into the helper too: the commands get the rest of the env.
    const { NODE_OPTIONS: _skip, ...env } = process.env;
    const helper = spawn(process.execPath, ['--max-old-space-size=64', '-e', HELPER], { stdio: ['pipe', 'pipe', 'inherit'], env });
    this.helper = helper;
    helper.stdin.on('error', () => undefined); // gone: handled at 'exit'
    createInterface({ input: helper.stdout }).on('line', (line) => {
      let m: SpawnResult & { id: number };
      try {
        m = JSON.parse(line) as SpawnResult & { id: number };
      } catch {
        return;
      }
      const resolve = this.pending.get(m.id);
      if (!resolve) return;
      this.pending.delete(m.id);
      this.release();
      resolve({ stdout: m.stdout, stderr: m.stderr, exitCode: m.exitCode, error: m.error ?? undefined });
    });
    helper.on('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      // Each command in flight may or may not have run: failed, never run again.
      for (const [id, resolve] of this.pending) {
        this.pending.delete(id);
        resolve({ stdout: '', stderr: '', exitCode: -1, error: `the command helper exited (${signal ?? `code ${code}`}) before the command ended` });
      }
    });
    this.idle(helper);
    return helper;
  }

  /** The helper keeps the server's event loop alive only while a command of it runs (a CLI like doctor can exit). */
  private hold(): void {
    if (this.pending.size === 1 && this.helper) {
      this.helper.ref();
      (this.helper.stdout as unknown as { ref(): void }).ref();
      (this.helper.stdin as unknown as { ref(): void }).ref();
    }
  }

  private release(): void {
    if (this.pending.size === 0 && this.helper) this.idle(this.helper);
  }

  private idle(helper: Helper): void {
    helper.unref();
    (helper.stdout as unknown as { unref(): void }).unref();
    (helper.stdin as unknown as { unref(): void }).unref();
  }
}
