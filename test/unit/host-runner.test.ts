import assert from 'node:assert/strict';
import { run, type Runner } from '../../src/adapters/exec/index.js';
import { HostUnreachableError, parseSshUrl, remoteCommandLine, shellQuote, sshHost } from '../../src/adapters/exec/hosts.js';

/** Arguments a remote shell must receive exactly as given. */
const NASTY = [
  '',
  ' ',
  "it's",
  "''",
  '"$(reboot)"',
  '`id`',
  '$HOME ${PATH} $((1+1))',
  'a;b|c&d>e<f',
  '\\',
  '\\\'',
  'line1\nline2',
  '\t*?[a-z]~#!',
  '-n',
  '--',
  'ünïcødé ✓',
];

describe('host runners: quoting for a remote shell', () => {
  it('quotes every argument so that sh receives exactly the array', async () => {
    // What sshd does with the command line: hand it to the login shell as one string.
    const line = remoteCommandLine('printf', ['%s\\0', ...NASTY]);
    const r = await run('sh', ['-c', line]);
    assert.deepEqual(r.stdout.split('\0').slice(0, -1), NASTY);
  });

  it('refuses NUL, non-strings and command names with shell syntax', () => {
    assert.throws(() => shellQuote('a\0b'), /NUL/);
    assert.throws(() => shellQuote(1 as unknown as string), /not a string/);
    for (const bad of ['ls;reboot', '$(id)', '-rf', 'a b', '../x', '']) {
      assert.throws(() => remoteCommandLine(bad, []), /unsafe command name/, bad);
    }
    assert.equal(remoteCommandLine('/usr/sbin/lvs', ['a']), "/usr/sbin/lvs 'a'");
  });

  it('parses ssh:// URLs and refuses what would read as an ssh option', () => {
    assert.deepEqual(parseSshUrl('ssh://127.0.0.1:10022'), { user: 'root', host: '127.0.0.1', port: 10022 });
    assert.deepEqual(parseSshUrl('ssh://admin@storage-1.lan'), { user: 'admin', host: 'storage-1.lan', port: 22 });
    for (const bad of ['ssh://-oProxyCommand=x', 'ssh://h:99999', 'http://h', 'ssh://u;x@h']) {
      assert.throws(() => parseSshUrl(bad), /not an ssh:/, bad);
    }
  });

  it('runs ssh with the pinned host key, the destination, then one quoted command line', async () => {
    const calls: Array<readonly string[]> = [];
    const fake: Runner = async (command, args) => {
      calls.push([command, ...args]);
      return { stdout: 'ok\n', stderr: '', exitCode: 0 };
    };
    const host = sshHost({ url: 'ssh://root@10.0.0.5:2222', identityFile: '/k', knownHostsFile: '/kh', runner: fake, controlDir: '/tmp/thecloud-ssh-test' });
    assert.equal(host.local, false);
    assert.equal(host.address, '10.0.0.5');
    await host.run('lvs', ['vg/a b']);
    // (the first call is the `true` that opens the shared connection)
    const argv = calls[calls.length - 1]!;
    assert.equal(argv[0], 'ssh');
    assert.ok(argv.includes('StrictHostKeyChecking=yes') && argv.includes('UserKnownHostsFile=/kh'));
    assert.deepEqual(argv.slice(-3), ['root@10.0.0.5', '--', "lvs 'vg/a b'"]);
  });

  it("tells an unreachable host (ssh's exit 255) from a failing command", async () => {
    const answer = (exitCode: number, stderr: string): Runner => async () => ({ stdout: '', stderr, exitCode });
    const opts = { url: 'ssh://h', identityFile: '/k', knownHostsFile: '/kh', controlDir: '/tmp/thecloud-ssh-test' };
    await assert.rejects(sshHost({ ...opts, runner: answer(255, 'ssh: connect to host h port 22: Connection refused') }).run('true', []), HostUnreachableError);
    await assert.rejects(sshHost({ ...opts, runner: answer(5, 'Failed to find logical volume') }).run('lvs', []), /lvs .*failed \(exit 5\)/);
    // A connection lost mid-command: ssh's 255 with its message suppressed says what probably happened.
    await assert.rejects(sshHost({ ...opts, runner: answer(255, '') }).run('dd', []), /dd .*failed \(exit 255\).*connection to ssh:\/\/h was probably lost/);
    const allowed = await sshHost({ ...opts, runner: answer(5, 'x') }).run('lvs', [], { allowFailure: true });
    assert.equal(allowed.exitCode, 5);
  });

  it('asks a read-only command again after a lost connection, never one that changes something', async () => {
    const opts = { url: 'ssh://h', identityFile: '/k', knownHostsFile: '/kh', controlDir: '/tmp/thecloud-ssh-test', retryPauseMs: 1 };
    // ssh answers 255 with no message `lost` times, then the command's own answer.
    const flaky = (lost: number) => {
      const seen: string[] = [];
      const runner: Runner = async (_c, args) => {
        // The shared master's state, asked only for the message of a final failure; the `true` that opens it.
        if (args.includes('check')) return { stdout: '', stderr: 'Master running (pid=4242)\r\n', exitCode: 0 };
        if (args[args.length - 1] === 'true') return { stdout: '', stderr: '', exitCode: 0 };
        seen.push(args[args.length - 1]!);
        return seen.length <= lost ? { stdout: '', stderr: '', exitCode: 255 } : { stdout: 'lvs out', stderr: '', exitCode: 0 };
      };
      return { seen, host: sshHost({ ...opts, runner }) };
    };
    const once = flaky(1);
    assert.equal((await once.host.run('lvs', ['vg'], { readOnly: true })).stdout, 'lvs out');
    assert.deepEqual(once.seen, ["lvs 'vg'", "lvs 'vg'"]);
    const twice = flaky(2);
    assert.equal((await twice.host.run('cat', ['/p'], { readOnly: true, allowFailure: true })).stdout, 'lvs out');
    assert.equal(twice.seen.length, 3);
    // Lost three times: given up, with the message that says what probably happened.
    const thrice = flaky(3);
    await assert.rejects(thrice.host.run('lvs', ['vg'], { readOnly: true }), /connection to ssh:\/\/h was probably lost.*\(control master now: Master running \(pid=4242\)\)/);
    assert.equal(thrice.seen.length, 3);
    // A command that changes something may have run: asked once only.
    const write = flaky(1);
    await assert.rejects(write.host.run('lvcreate', ['-n', 'x']), /lvcreate .*failed \(exit 255\)/);
    assert.equal(write.seen.length, 1);
    // A read-only command's own failure (with a message) is its answer, not retried.
    const seen: string[] = [];
    const failing: Runner = async (_c, args) =>
      args[args.length - 1] === 'true' ? { stdout: '', stderr: '', exitCode: 0 } : (seen.push(args[args.length - 1]!), { stdout: '', stderr: 'Volume group "vg" not found', exitCode: 5 });
    await assert.rejects(sshHost({ ...opts, runner: failing }).run('lvs', ['vg'], { readOnly: true }), /exit 5/);
    assert.equal(seen.length, 1);
  });

  it('opens the shared connection with one login before a burst of commands, not one login each', async () => {
    const opts = { url: 'ssh://h', identityFile: '/k', knownHostsFile: '/kh', controlDir: '/tmp/thecloud-ssh-test' };
    const log: string[] = [];
    let opened = false;
    const runner: Runner = async (_c, args) => {
      const line = args[args.length - 1]!;
      log.push(`${line} ${opened ? 'after' : 'before'}`);
      if (line === 'true') {
        await new Promise((r) => setTimeout(r, 50));
        opened = true;
      }
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const host = sshHost({ ...opts, runner });
    await Promise.all(Array.from({ length: 10 }, (_, i) => host.run('cat', [`/f${i}`], { readOnly: true })));
    assert.equal(log.filter((l) => l.startsWith('true ')).length, 1, 'one login first');
    assert.deepEqual(log.filter((l) => !l.startsWith('true ') && l.endsWith(' before')), [], 'no command before it');
    await host.run('cat', ['/again']);
    assert.equal(log.filter((l) => l.startsWith('true ')).length, 1, 'none again while the connection is fresh');
  });
});
