/**
 * The usual suite set-up in one call: inside a `describe`, `const t = useTestServer()` registers a `before` that
 * starts a test server (startTestServer) and an `after` that closes it; `t.s`, `t.url`, `t.ec2` (the default
 * account) and `t.other` (SECOND_ACCOUNT) can be read once that `before` has run, i.e. in tests and later hooks.
 *
 * A suite that needs a real backend passes `requires`, run first in the same `before` with mocha's context, so
 * needBackend skips the suite (or fails it under CI=true) before any server starts:
 *   const t = useTestServer({ env: { COMPUTE_BACKEND: 'docker' }, requires: (ctx) => needBackend(ctx, 'docker', probe) });
 * (A suite's own `before` registered ahead of this call runs first too: mocha drops the later `before` hooks
 * once one skips or fails.) Clean-up that needs the server goes in `beforeClose`; other `after` hooks of the
 * suite run after the close when registered after this call.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { StartOptions } from '../../src/server/bootstrap.js';
import { sdk } from './clients.js';
import { SECOND_ACCOUNT, startTestServer, type TestServer } from './server.js';

export interface UseTestServerOptions {
  /** the server's environment, over startTestServer's defaults */
  env?: Record<string, string>;
  /** checks made before the server starts, e.g. needBackend (which may skip the suite through `ctx`) */
  requires?: (ctx: Mocha.Context) => Promise<void>;
  /** backends given to the server in place of the configured ones */
  backends?: StartOptions['backends'];
  /** runs in the `after` hook while the server still answers (e.g. to terminate the suite's instances) */
  beforeClose?: (t: UsedTestServer) => Promise<void>;
}

export interface UsedTestServer {
  readonly s: TestServer;
  readonly url: string;
  /** a client of the default test account */
  readonly ec2: EC2Client;
  /** a client of SECOND_ACCOUNT */
  readonly other: EC2Client;
  /**
   * Closes the server and starts it again on the same database and environment; the clients follow it.
   * `whileDown` runs in between (e.g. to check what the host looks like with no server).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
}

export function useTestServer(opts: UseTestServerOptions = {}): UsedTestServer {
  let running: { s: TestServer; ec2: EC2Client; other: EC2Client } | undefined;
  const start = async (databaseUrl?: string) => {
    const s = await startTestServer(opts.env, databaseUrl, { backends: opts.backends });
    running = { s, ec2: sdk(s.url), other: sdk(s.url, SECOND_ACCOUNT) };
  };
  const now = () => {
    if (!running) throw new Error('useTestServer: the server is read before its suite\'s before hook started it');
    return running;
  };
  const t: UsedTestServer = {
    get s() { return now().s; },
    get url() { return now().s.url; },
    get ec2() { return now().ec2; },
    get other() { return now().other; },
    async restart(whileDown) {
      const { s } = now();
      running = undefined;
      await s.close();
      if (whileDown) await whileDown();
      await start(s.databaseUrl);
    },
  };
  before(async function () {
    if (opts.requires) await opts.requires(this);
    await start();
  });
  after(async () => {
    if (!running) return;
    try {
      if (opts.beforeClose) await opts.beforeClose(t);
    } finally {
      await running.s.close();
      running = undefined;
    }
  });
  return t;
}
