import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { InstanceQueue } from '../../src/services/instances/queue.js';

describe('unit: the per-instance work queue', () => {
  it('runs one instance\'s work in order, and different instances side by side', async () => {
    const q = new InstanceQueue();
    const log: string[] = [];
    const slow = (tag: string, ms: number) => async () => { log.push(`${tag}>`); await sleep(ms); log.push(`<${tag}`); };
    void q.run('i-a', slow('a1', 30), () => undefined);
    void q.run('i-a', slow('a2', 1), () => undefined);
    void q.run('i-b', slow('b1', 1), () => undefined);
    await q.idle();
    assert.deepEqual(log.filter((l) => l.includes('a')), ['a1>', '<a1', 'a2>', '<a2']);
    assert.ok(log.indexOf('<b1') < log.indexOf('<a1'), 'b did not wait for a');
  });

  it('a reservation makes instances busy until released, and work queued meanwhile waits for it', async () => {
    const q = new InstanceQueue();
    const release = q.reserve(['i-a', 'i-b']);
    assert.equal(q.busy('i-a'), true);
    assert.equal(q.busy('i-b'), true);
    assert.equal(q.busy('i-c'), false);
    let ran = false;
    void q.run('i-a', async () => { ran = true; }, () => undefined);
    await sleep(20);
    assert.equal(ran, false, 'queued work waits for the release');
    release();
    await q.idle();
    assert.equal(ran, true);
    assert.equal(q.busy('i-a'), false);
    assert.equal(q.busy('i-b'), false, 'a reservation with no work queued behind it ends with the release');
  });

  it('a failing piece of work goes to its error handler and does not block the next', async () => {
    const q = new InstanceQueue();
    const seen: string[] = [];
    void q.run('i-a', async () => { throw new Error('boom'); }, (e) => { seen.push((e as Error).message); });
    void q.run('i-a', async () => { seen.push('next'); }, () => undefined);
    await q.idle();
    assert.deepEqual(seen, ['boom', 'next']);
  });
});
