/**
 * SIGTERM is graceful: the listener stops taking connections, a request in flight is still answered, the
 * process exits 0, and the embedded PostgreSQL is shut down cleanly (it removes its postmaster.pid only then).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postmasterStatus } from '../../src/db/postmaster.js';
import { freePort, startChild } from '../support/child-server.js';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('SIGTERM', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'thecloud-sigterm-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('stops taking connections, answers the request in flight, exits 0 and shuts PostgreSQL down cleanly', async () => {
    const port = await freePort();
    const log = join(dir, 'server.log');
    const s = await startChild({ THECLOUD_DATA_DIR: dir, COMPUTE_BACKEND: 'noop', THECLOUD_AUTH: 'false' }, port, log);
    const pm = postmasterStatus(join(dir, 'postgres'));
    assert.equal(pm.kind, 'running');

    // A request in flight: headers and half of the body sent.
    const body = 'Action=DescribeInstances&Version=2016-11-15';
    const sock: Socket = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    sock.on('data', (d) => (answer += d.toString()));
    const ended = new Promise((r) => sock.once('close', r));
    sock.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);
    await new Promise((r) => setTimeout(r, 200));

    s.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!(await refused(port))) {
      assert.ok(Date.now() < deadline, 'the listener still takes connections');
      await new Promise((r) => setTimeout(r, 50));
    }
    sock.write(body.slice(10));
    await ended;
    assert.match(answer, /^HTTP\/1\.1 200 OK/, answer.slice(0, 300));
    assert.match(answer, /<DescribeInstancesResponse/);

    const r = await s.child;
    assert.equal(r.exitCode, 0, readFileSync(log, 'utf8').slice(-2000));
    assert.ok(!existsSync(join(dir, 'postgres', 'postmaster.pid')), 'PostgreSQL shut down cleanly (it removed its postmaster.pid)');
    assert.equal(postmasterStatus(join(dir, 'postgres')).kind, 'none');
    const text = readFileSync(log, 'utf8');
    assert.match(text, /"msg":"shutting down","signal":"SIGTERM"/);
    assert.match(text, /"msg":"stopped"/);
  });
});
