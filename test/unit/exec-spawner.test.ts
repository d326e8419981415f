import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spawner } from '../../src/adapters/exec/spawner.js';
import { run, CommandError } from '../../src/adapters/exec/index.js';

/** The helper process that starts host commands for the server (src/adapters/exec/spawner.ts). */
describe('command helper (spawner)', () => {
  const spawner = new Spawner();
  const t = 10_000;

  it('runs an argument array without a shell, with input, and gives stdout, stderr and the exit code', async () => {
    const r = await spawner.run({ command: 'sh', args: ['-c', 'cat; echo "$0 $1" >&2; exit 3', 'a b', '$(id)'], input: 'in\0put\n', timeoutMs: t });
    assert.equal(r.stdout, 'in\0put\n');
    assert.equal(r.stderr, 'a b $(id)\n');
    assert.equal(r.exitCode, 3);
    assert.equal(r.error, undefined);
  });

  it('keeps binary input and UTF-8 output intact, and gives a command no stdin when it has no input', async () => {
    const bytes = Buffer.from([0, 1, 2, 255, 254, 10]);
    const r = await spawner.run({ command: 'od', args: ['-An', '-tu1'], input: bytes, timeoutMs: t });
    assert.deepEqual(r.stdout.trim().split(/\s+/).map(Number), [...bytes]);
    const u = await spawner.run({ command: 'printf', args: ['%s', 'ünïcødé ✓'], timeoutMs: t });
    assert.equal(u.stdout, 'ünïcødé ✓');
    const none = await spawner.run({ command: 'cat', args: [], timeoutMs: t });
    assert.equal(none.exitCode, 0); // stdin is /dev/null: cat ends at once
  });

  it('runs commands at the same time and answers each its own', async () => {
    // Each command waits until all eight have started: one after another, the first would wait until its timeout.
    const dir = mkdtempSync(join(tmpdir(), 'spawner-'));
    try {
      const wait = `touch "$0/$1"; while [ "$(ls "$0" | wc -l)" -lt 8 ]; do sleep 0.05; done; echo "$1"`;
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => spawner.run({ command: 'sh', args: ['-c', wait, dir, String(i)], timeoutMs: 8000 })));
      assert.deepEqual(rs.map((r) => r.stdout), Array.from({ length: 8 }, (_, i) => `${i}\n`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says why a command has no exit status: not found, timed out', async () => {
    const missing = await spawner.run({ command: 'no-such-command-here', args: [], timeoutMs: t });
    assert.equal(missing.exitCode, -1);
    assert.match(missing.error ?? '', /ENOENT/);
    const slow = await spawner.run({ command: 'sleep', args: ['30'], timeoutMs: 300 });
    assert.equal(slow.exitCode, -1);
    assert.match(slow.error ?? '', /timed out after 300 milliseconds/);
  });

  it('fails the commands in flight when the helper dies, and starts a new one for the next command', async () => {
    const s = new Spawner();
    const pidOf = await s.run({ command: 'sh', args: ['-c', 'echo $PPID'], timeoutMs: t });
    const helperPid = Number(pidOf.stdout.trim());
    assert.ok(helperPid > 0 && helperPid !== process.pid, 'commands are children of the helper, not of the server');
    const inFlight = s.run({ command: 'sleep', args: ['5'], timeoutMs: t });
    await new Promise((r) => setTimeout(r, 200));
    process.kill(helperPid, 'SIGKILL');
    const lost = await inFlight;
    assert.equal(lost.exitCode, -1);
    assert.match(lost.error ?? '', /helper exited/);
    const again = await s.run({ command: 'sh', args: ['-c', 'echo $PPID'], timeoutMs: t });
    assert.notEqual(Number(again.stdout.trim()), helperPid);
  });

  it('is what run() uses: a failing command is a CommandError with its exit code and stderr', async () => {
    await assert.rejects(run('sh', ['-c', 'echo nope >&2; exit 4']), (e: unknown) => e instanceof CommandError && e.exitCode === 4 && /nope/.test(e.stderr));
    await assert.rejects(run('no-such-command-here', []), (e: unknown) => e instanceof CommandError && e.exitCode === undefined && /ENOENT/.test(e.message));
    const r = await run('sh', ['-c', 'echo $PPID']);
    assert.notEqual(Number(r.stdout.trim()), process.pid);
  });
});
