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

  it('on close, takes no new work, lets work in flight finish within the grace, and then stops acting on failures', async () => {
    const q = new InstanceQueue();
    let finished = false;
    void q.run('i-a', async () => { await sleep(20); finished = true; }, () => undefined);
    assert.equal(await q.close(1_000), 0, 'everything finished within the grace');
    assert.equal(finished, true);
    let ran = false;
    void q.run('i-b', async () => { ran = true; }, () => undefined);
    await q.idle();
    assert.equal(ran, false, 'no new work once closing (its record stays transitional: reconciliation resumes it)');

    const slow = new InstanceQueue();
    const handled: unknown[] = [];
    let release!: () => void;
    void slow.run('i-c', () => new Promise<void>((_, reject) => { release = () => reject(new Error('cut short')); }), (e) => { handled.push(e); });
    assert.equal(await slow.close(30), 1, 'one instance still had work when the grace ran out');
    release();
    await slow.idle();
    assert.deepEqual(handled, [], 'a failure after the grace is not acted on: the record says where it stood');
  });
});

