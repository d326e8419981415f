/**
 * Crash safety with real backends, randomized and seeded (test/support/crash-rounds.ts): bursts of launch /
 * stop / start / terminate (and reboot on Docker), the server killed with SIGKILL at a random moment and
 * restarted at once, then every live record has exactly one backend object and the reverse, nothing is still
 * transitional after the bound, and terminated instances are gone from the host. A few rounds with a fixed seed
 * here; bench/crash-soak.ts runs many. THECLOUD_CRASH_SEED replays another seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needBackend } from '../support/backends.js';
import { freshDatabase } from '../support/server.js';
import { freePort } from '../support/child-server.js';
import { crashRounds, type CrashOptions } from '../support/crash-rounds.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';

const SEED = Number(process.env.THECLOUD_CRASH_SEED ?? 20261126);

const CASES: Omit<CrashOptions, 'dbUrl' | 'port' | 'logDir' | 'seed'>[] = [
  {
    backend: 'docker', imageName: 'thecloud-busybox', rounds: 3, ops: 10, maxLive: 6, windowMs: 3000, boundMs: 60_000, reboots: true,
    adapter: (cloudId) => new DockerComputeBackend({ cloudId }),
  },
  {
    backend: 'libvirt', imageName: 'thecloud-tiny-vm', rounds: 2, ops: 6, maxLive: 3, windowMs: 5000, boundMs: 120_000, reboots: false,
    adapter: (cloudId) => new LibvirtComputeBackend({ cloudId }),
  },
];

for (const c of CASES) describe(`crash safety on the ${c.backend} backend (SIGKILL at random moments, seed ${SEED})`, function () {
  this.timeout(600_000);
  let logDir: string;

  before(async function () {
    await needBackend(this, c.backend, () => c.adapter('0000000000000000').probe());
    logDir = mkdtempSync(join(tmpdir(), `thecloud-crash-${c.backend}-`));
  });
  after(() => {
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  it(`${c.rounds} rounds: records and host agree after each restart, nothing stuck, nothing leaked`, async () => {
    await crashRounds({
      ...c,
      seed: SEED,
      dbUrl: await freshDatabase(),
      port: await freePort(),
      logDir,
      onRound: (r) => console.log(`      (round ${r.round}: ${JSON.stringify(r.ops)}, killed after ${r.killedAfterMs} ms, serving again ${r.restartMs} ms later, settled ${r.settleMs} ms after that; ${r.live} live, ${r.terminated} terminated)`),
    });
  });
});
