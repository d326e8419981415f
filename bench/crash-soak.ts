/**
 * Crash soak: many rounds of test/support/crash-rounds.ts (bursts of launch / stop / start / terminate, the
 * server killed with SIGKILL at a random moment, restarted at once, then the invariants checked), and the
 * numbers: how long the restart took until it served, how long until records and host agreed again, how many
 * rounds and operations. Stops at the first round that breaks an invariant and prints its seed to replay.
 *
 *   npx tsx bench/crash-soak.ts [--backend docker|libvirt] [--rounds 50] [--seed N] [--ops 10] [--max-live 6]
 *                               [--window-ms 3000] [--bound-s 60]
 *
 * Runs on this machine's Docker engine / libvirtd (scripts/setup-host.sh), with its own embedded PostgreSQL in a
 * temporary directory; every instance it makes is terminated, and anything left after a failure removed.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { freshDatabase, stopCluster } from '../test/support/server.js';
import { freePort } from '../test/support/child-server.js';
import { crashRounds, type RoundReport } from '../test/support/crash-rounds.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../src/adapters/libvirt/index.js';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}
const backend = arg('--backend', 'docker') as 'docker' | 'libvirt';
const rounds = Number(arg('--rounds', '50'));
const seed = Number(arg('--seed', String(Date.now() % 1_000_000)));
const isDocker = backend === 'docker';
const ops = Number(arg('--ops', isDocker ? '10' : '6'));
const maxLive = Number(arg('--max-live', isDocker ? '6' : '3'));
const windowMs = Number(arg('--window-ms', isDocker ? '3000' : '5000'));
const boundMs = Number(arg('--bound-s', isDocker ? '60' : '120')) * 1000;

// The pinned JS SDK's notice that later versions need Node 22 is known (as in test/support/hooks.ts).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0;
  return `median ${at(0.5)} ms, p90 ${at(0.9)} ms, max ${s[s.length - 1] ?? 0} ms`;
};

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'thecloud-crash-soak-'));
  chmodSync(scratch, 0o755); // as root, PostgreSQL runs as 'postgres', which must reach its directory in here
  process.env.TMPDIR = scratch; // the shared embedded PostgreSQL of test/support/server.ts goes there too
  console.log(`crash soak: backend ${backend}, ${rounds} rounds, seed ${seed}; load ${(await execa('uptime')).stdout.trim()}`);
  const reports: RoundReport[] = [];
  const t0 = Date.now();
  try {
    await crashRounds({
      backend,
      imageName: isDocker ? 'thecloud-busybox' : 'thecloud-tiny-vm',
      dbUrl: await freshDatabase(),
      port: await freePort(),
      logDir: scratch,
      seed,
      rounds,
      ops,
      maxLive,
      windowMs,
      boundMs,
      reboots: isDocker,
      adapter: (cloudId) => (isDocker ? new DockerComputeBackend({ cloudId }) : new LibvirtComputeBackend({ cloudId })),
      onRound: (r) => {
        reports.push(r);
        console.log(`round ${String(r.round).padStart(3)}: ${JSON.stringify(r.ops)} killed after ${r.killedAfterMs} ms; serving ${r.restartMs} ms after the kill; settled ${r.settleMs} ms later; ${r.live} live, ${r.terminated} terminated`);
      },
    });
    console.log(`\nall ${reports.length} rounds held every invariant (${Math.round((Date.now() - t0) / 1000)} s)`);
  } catch (e) {
    console.log(`\nFAILED after ${reports.length} good rounds: ${(e as Error).message}`);
    process.exitCode = 1;
  } finally {
    const opsSent = reports.reduce((n, r) => n + Object.values(r.ops).reduce((a, b) => a + b, 0), 0);
    console.log(`operations sent: ${opsSent}; kills: ${reports.length}`);
    if (reports.length) {
      console.log(`restart, kill to serving again: ${stats(reports.map((r) => r.restartMs))}`);
      console.log(`serving to records and host agreeing (nothing transitional): ${stats(reports.map((r) => r.settleMs))}`);
    }
    console.log(`load ${(await execa('uptime')).stdout.trim()}`);
    await stopCluster().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
}

void main();
