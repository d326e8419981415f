/**
 * The real server (src/main.ts) as a child process, for tests that kill it (SIGKILL, SIGTERM) and start it again
 * at once as a supervisor would. Its log goes to a file whose tail a failing test prints.
 */
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { DescribeRegionsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { sdk } from './clients.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface ChildServer {
  child: ResultPromise;
  pid: number;
  url: string;
  ec2: EC2Client;
  log: string;
}

/**
 * Starts the server (one node process, not npx, so that a signal reaches the server itself) and waits until it
 * answers, up to `timeoutMs`. Throws, with the tail of its log, if it exits first or does not answer in time.
 */
export async function startChild(env: Record<string, string>, port: number, log: string, timeoutMs = 90_000): Promise<ChildServer> {
  const child = execa(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PORT: String(port), HOST: '127.0.0.1', NETWORK_BACKEND: 'noop', ...env },
    reject: false,
    stdin: 'ignore',
    stdout: { file: log, append: true },
    stderr: { file: log, append: true },
  });
  let exited: { code?: number; signal?: string } | undefined;
  void child.then((r) => (exited = { code: r.exitCode, signal: r.signal }));
  const url = `http://127.0.0.1:${port}`;
  const ec2 = sdk(url);
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`the server exited (code ${exited.code ?? '-'}, signal ${exited.signal ?? '-'}) before serving:\n${tail(log)}`);
    try {
      await ec2.send(new DescribeRegionsCommand({}));
      return { child, pid: child.pid!, url, ec2, log };
    } catch (e) {
      if (Date.now() > end) {
        child.kill('SIGKILL');
        throw new Error(`the server did not answer within ${timeoutMs} ms (${String(e)}):\n${tail(log)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A small seeded PRNG (mulberry32), so that a failing random run replays with its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
