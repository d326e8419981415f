/**
 * The embedded PostgreSQL after a crash: the server is killed with SIGKILL (all its processes, or only the
 * node process, leaving PostgreSQL orphaned) and started again at once, ten times, and serves every time; a
 * stale postmaster.pid (a zombie, a PID reused by an unrelated process) does not stop it; a start that cannot
 * proceed says why in PostgreSQL's own words. No log line says "undefined".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { postmasterStatus, procInfo } from '../../src/db/postmaster.js';
import { freePort, startChild } from '../support/child-server.js';

const alive = (pid: number) => {
  const p = procInfo(pid);
  return !!p && p.state !== 'Z';
};

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('embedded PostgreSQL after a crash', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'thecloud-embedded-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the server starts right after a SIGKILL, ten times in a row, and serves every time', async () => {
    const port = await freePort();
    const env = { THECLOUD_DATA_DIR: dir, COMPUTE_BACKEND: 'noop', THECLOUD_AUTH: 'false' };
    const log = join(dir, 'server.log');
    const pgdir = join(dir, 'postgres');
    for (let round = 1; round <= 10; round++) {
      const s = await startChild(env, port, log);
      const d = await s.ec2.send(new DescribeInstancesCommand({})); // a request that needs the database
      assert.ok(Array.isArray(d.Reservations), `round ${round}: serves`);
      const pm = postmasterStatus(pgdir);
      assert.equal(pm.kind, 'running', `round ${round}: its PostgreSQL runs`);
      if (round % 2) {
        // The whole server: node, the postmaster and its backends (the postmaster leads its own process group).
        process.kill(-pm.pid!, 'SIGKILL');
        process.kill(s.pid, 'SIGKILL');
      } else {
        // Only node: PostgreSQL is left running, orphaned, holding the data directory.
        process.kill(s.pid, 'SIGKILL');
      }
      await s.child;
    }
    const s = await startChild(env, port, log);
    await s.ec2.send(new DescribeInstancesCommand({}));
    s.child.kill('SIGTERM');
    assert.equal((await s.child).exitCode, 0);
    const text = readFileSync(log, 'utf8');
    assert.doesNotMatch(text, /\bundefined\b/, 'no log line says undefined');
    assert.match(text, /left running uses|dead but not reaped|stale/, 'it said what it cleared');
  });

  it('a postmaster.pid naming an unrelated live process (a PID reused after a reboot) is stale', async () => {
    const logs: string[] = [];
    const db = await startEmbeddedPostgres(dir, (m) => logs.push(m));
    await db.stop();
    const other = execa('sleep', ['60']);
    try {
      writeFileSync(join(dir, 'postgres', 'postmaster.pid'), `${other.pid}\n${join(dir, 'postgres')}\n1700000000\n5432\n\nlocalhost\n  5432001  12345\nready\n`);
      const again = await startEmbeddedPostgres(dir, (m) => logs.push(m));
      await again.stop();
      assert.ok(alive(other.pid!), 'the unrelated process was left alone');
      assert.ok(logs.some((l) => l.includes(`PID ${other.pid}, which is not a PostgreSQL server`)), logs.join('\n'));
    } finally {
      other.kill();
      await other.catch(() => undefined);
    }
  });

  it('a postmaster.pid naming a zombie (a killed postmaster not reaped yet) is stale', async () => {
    // `sleep 30` never reaps its child: the child's PID stays a zombie while it lives.
    const parent = execa('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30']);
    try {
      let out = '';
      parent.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      await until('the zombie', 10_000, () => /^\d+\n/.test(out) && procInfo(Number(out.trim()))?.state === 'Z');
      const zombie = Number(out.trim());
      writeFileSync(join(dir, 'postgres', 'postmaster.pid'), `${zombie}\n${join(dir, 'postgres')}\n1700000000\n5432\n`);
      const logs: string[] = [];
      const db = await startEmbeddedPostgres(dir, (m) => logs.push(m));
      await db.stop();
      assert.ok(logs.some((l) => l.includes(`(PID ${zombie}) of a server that was killed is dead but not reaped`)), logs.join('\n'));
    } finally {
      parent.kill();
      await parent.catch(() => undefined);
    }
  });

  it('a start that cannot proceed says why in PostgreSQL\'s own words, at once', async () => {
    const version = join(dir, 'postgres', 'PG_VERSION');
    const was = readFileSync(version, 'utf8');
    writeFileSync(version, '9.6\n');
    try {
      const t = Date.now();
      await assert.rejects(startEmbeddedPostgres(dir, () => undefined), (e: Error) => {
        assert.match(e.message, /FATAL: database files are incompatible with server/);
        assert.match(e.message, /initialized by PostgreSQL version 9\.6/);
        assert.doesNotMatch(e.message, /\bundefined\b/);
        return true;
      });
      assert.ok(Date.now() - t < 30_000, 'not retried: it cannot pass by itself');
      assert.ok(!existsSync(join(dir, 'server.lock')), 'the data directory lock is released');
    } finally {
      writeFileSync(version, was);
    }
  });

  it('refuses a data directory a live server uses, naming it', async () => {
    const db = await startEmbeddedPostgres(dir, () => undefined);
    try {
      // The lock is this process's; a second server is another process.
      const r = await execa(process.execPath, ['--import', 'tsx', '-e', `import('./src/db/embedded.ts').then((m) => m.startEmbeddedPostgres(${JSON.stringify(dir)}, () => {})).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(3); })`], { reject: false });
      assert.equal(r.exitCode, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`another The Cloud server \\(PID ${process.pid}\\) uses the data directory`));
    } finally {
      await db.stop();
    }
  });
});
