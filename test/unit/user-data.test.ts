import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { renderFirstBootScript } from '../../src/services/instances/user-data.js';

/** Runs a rendered script with the host's /bin/sh, with /var/lib/thecloud redirected into a temp dir. */
async function runScript(script: string, dir: string): Promise<{ stdout: string; exitCode: number }> {
  const local = script.replaceAll('/var/lib/thecloud', join(dir, 'state')).replace(/if \[ -d \/root \][^\n]*\n/, '').replace(/if \[ -d \/home\/ec2-user \][^\n]*\n/, '');
  const r = await execa('sh', ['-c', local], { reject: false });
  return { stdout: r.stdout, exitCode: r.exitCode ?? -1 };
}

describe('user data rendering', () => {
  it('runs a #! script with its interpreter', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ud-'));
    const s = renderFirstBootScript(Buffer.from('#!/bin/sh\necho "it\'s $((6*7))"\n'), [])!;
    const r = await runScript(s, dir);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /it's 42/);
  });

  it('applies #cloud-config write_files (plain and base64), bootcmd and runcmd in order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ud-'));
    const cfg = [
      '#cloud-config',
      'bootcmd:',
      '  - echo boot-first',
      'write_files:',
      `  - path: ${dir}/a/plain.txt`,
      '    content: "hello $(not expanded) `nor this`"',
      '    permissions: "0640"',
      `  - path: ${dir}/b64.bin`,
      '    encoding: b64',
      `    content: ${Buffer.from('binary\u0000data').toString('base64')}`,
      'runcmd:',
      `  - [sh, -c, "cat ${dir}/a/plain.txt"]`,
      '  - echo "run; second"',
    ].join('\n');
    const r = await runScript(renderFirstBootScript(Buffer.from(cfg), [])!, dir);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.equal(readFileSync(join(dir, 'a/plain.txt'), 'utf8'), 'hello $(not expanded) `nor this`');
    assert.equal(statSync(join(dir, 'a/plain.txt')).mode & 0o777, 0o640);
    assert.deepEqual(readFileSync(join(dir, 'b64.bin')), Buffer.from('binary\u0000data'));
    const at = (t: string) => r.stdout.indexOf(t);
    assert.ok(at('boot-first') >= 0 && at('boot-first') < at('hello $(not expanded)'), r.stdout);
    assert.ok(at('hello $(not expanded)') < at('run; second'), r.stdout);
  });

  it('runs the parts of multipart MIME user data in order, and gzip-compressed user data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ud-'));
    const mime = [
      'Content-Type: multipart/mixed; boundary="BOUND"',
      'MIME-Version: 1.0',
      '',
      '--BOUND',
      'Content-Type: text/cloud-config; charset="us-ascii"',
      '',
      '#cloud-config',
      'runcmd:',
      '  - echo part-one',
      '--BOUND',
      'Content-Type: text/x-shellscript; charset="us-ascii"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('#!/bin/sh\necho part-two\n').toString('base64'),
      '--BOUND--',
      '',
    ].join('\r\n');
    const r = await runScript(renderFirstBootScript(gzipSync(Buffer.from(mime)), [])!, dir);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.ok(r.stdout.indexOf('part-one') >= 0 && r.stdout.indexOf('part-one') < r.stdout.indexOf('part-two'), r.stdout);
  });

  it('keeps every user byte out of the shell parser (base64 inside single quotes)', () => {
    const s = renderFirstBootScript(Buffer.from("#!/bin/sh\necho '; rm -rf / #"), ['ssh-ed25519 AAAA x'])!;
    assert.ok(!s.includes('rm -rf'), 'the user text appears only base64-encoded');
    assert.match(s, /thecloud: ssh key installed/);
  });

  it('renders nothing when there is no user data and no key', () => {
    assert.equal(renderFirstBootScript(undefined, []), undefined);
  });
});
