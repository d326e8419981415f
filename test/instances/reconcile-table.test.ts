/**
 * The reconciliation table (src/domain/instance-transitions.ts), cell by cell, with a fake compute backend: for
 * each (recorded condition x host condition) an instance record is made as a crash leaves it and its object is
 * put on the fake host; after one reconciliation pass the test checks what a user would see: the instance's
 * state (and reason), what runs on the host for it, whether its address is still held. The expectations are
 * written out here, not read from the table, so a wrong cell in the table fails its test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DescribeImagesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { RECORDED_CONDITIONS, HOST_CONDITIONS, type HostCondition, type RecordedCondition } from '../../src/domain/instance-transitions.js';
import type { BackendState } from '../../src/ports/index.js';
import type { InstanceRow } from '../../src/db/repositories/compute.js';
import { useTestServer } from '../support/use-server.js';
import { FakeCompute } from '../support/fake-compute.js';

interface Outcome {
  state: string;
  /** The states of the objects on the host for the instance afterwards (one, or none) */
  host: BackendState[];
  reason?: string;
  activity?: string | null;
  /** A call the pass must have made (e.g. reboot), or 'no calls' */
  call?: 'reboot' | 'create' | 'none';
}

const GONE: Outcome = { state: 'terminated', host: [], reason: 'Server.InternalError' };
const TERMINATED: Outcome = { state: 'terminated', host: [] };
const RUNNING: Outcome = { state: 'running', host: ['running'], activity: null };
const LAUNCHED: Outcome = { state: 'running', host: ['running'], call: 'create' };

const EXPECT: Record<RecordedCondition, Record<HostCondition, Outcome>> = {
  launching: { missing: LAUNCHED, pending: LAUNCHED, running: LAUNCHED, stopping: LAUNCHED, stopped: LAUNCHED },
  pending: { missing: GONE, pending: RUNNING, running: RUNNING, stopping: { state: 'pending', host: ['stopping'] }, stopped: RUNNING },
  running: {
    missing: GONE,
    pending: RUNNING,
    running: { state: 'running', host: ['running'], call: 'none' },
    stopping: { state: 'running', host: ['stopping'] },
    stopped: { state: 'stopped', host: ['stopped'], reason: 'Client.InstanceInitiatedShutdown' },
  },
  rebooting: {
    missing: GONE,
    pending: RUNNING,
    running: { state: 'running', host: ['running'], activity: null, call: 'reboot' },
    stopping: { state: 'running', host: ['stopping'], activity: 'reboot' },
    stopped: RUNNING,
  },
  capturing: {
    missing: GONE,
    pending: RUNNING,
    running: { state: 'running', host: ['running'], activity: null, call: 'none' },
    stopping: { state: 'running', host: ['stopping'], activity: 'capture' },
    stopped: RUNNING,
  },
  stopping: {
    missing: GONE,
    pending: { state: 'stopped', host: ['stopped'] },
    running: { state: 'stopped', host: ['stopped'] },
    stopping: { state: 'stopped', host: ['stopped'] },
    stopped: { state: 'stopped', host: ['stopped'] },
  },
  stopped: {
    missing: GONE,
    pending: { state: 'stopped', host: ['pending'], call: 'none' },
    running: { state: 'running', host: ['running'] },
    stopping: { state: 'stopped', host: ['stopping'], call: 'none' },
    stopped: { state: 'stopped', host: ['stopped'], call: 'none' },
  },
  'shutting-down': { missing: TERMINATED, pending: TERMINATED, running: TERMINATED, stopping: TERMINATED, stopped: TERMINATED },
  gone: {
    missing: { state: 'none', host: [], call: 'none' },
    pending: { state: 'none', host: [] },
    running: { state: 'none', host: [] },
    stopping: { state: 'none', host: [] },
    stopped: { state: 'none', host: [] },
  },
};

/** The record a crash leaves in each recorded condition: state, journal, activity. */
const RECORDS: Record<Exclude<RecordedCondition, 'gone'>, { state: string; steps: string[]; activity?: string; made: boolean }> = {
  launching: { state: 'pending', steps: ['eni'], made: false },
  pending: { state: 'pending', steps: ['eni', 'backend'], made: true },
  running: { state: 'running', steps: ['eni', 'backend', 'power', 'plug'], made: true },
  rebooting: { state: 'running', steps: ['eni', 'backend', 'power', 'plug'], activity: 'reboot', made: true },
  capturing: { state: 'running', steps: ['eni', 'backend', 'power', 'plug'], activity: 'capture', made: true },
  stopping: { state: 'stopping', steps: ['eni', 'backend', 'power', 'plug'], made: true },
  stopped: { state: 'stopped', steps: ['eni', 'backend'], made: true },
  'shutting-down': { state: 'shutting-down', steps: ['eni', 'backend', 'power', 'plug'], made: true },
};

describe('reconciliation, cell by cell (recorded x host), with a fake backend', function () {
  this.timeout(60_000);
  const compute = new FakeCompute();
  let template: InstanceRow;

  // Reconciliation runs only when a test calls it.
  const t = useTestServer({ env: { THECLOUD_RECONCILE_SECONDS: '3600' }, backends: { compute } });
  before(async () => {
    const { ec2 } = t;
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await t.s.services.instances.queue.idle();
    template = (await t.s.services.instances.byIds('000000000000', [id]))[0]!;
    assert.equal(template.state, 'running', 'the template instance launched on the fake backend');
  });

  const newId = () => `i-${randomBytes(9).toString('hex').slice(0, 17)}`;

  /** A record copied from the template, in the given condition, with its address held. */
  async function record(id: string, r: (typeof RECORDS)[keyof typeof RECORDS], backendId: string | null, behavior = 'stop'): Promise<void> {
    const subnet = (await t.s.services.network.subnet(template.account_id.trim(), template.subnet_id))!;
    const eniId = `eni-${randomBytes(9).toString('hex').slice(0, 17)}`;
    const mac = `02:${randomBytes(5).toString('hex').match(/../g)!.join(':')}`;
    const ip = await t.s.services.network.createEni(
      { id: eniId, account_id: template.account_id.trim(), vpc_id: subnet.vpc_id, subnet_id: subnet.id, availability_zone: subnet.availability_zone, mac_address: mac, security_group_ids: template.security_group_ids, instance_id: id, device_index: 0, attachment_id: null },
      subnet,
    );
    await t.s.db.exec(
      `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, key_name, state, state_reason_code,
         state_reason_message, state_transition_reason, subnet_id, vpc_id, availability_zone, private_ip, mac_address, eni_id,
         security_group_ids, block_device_mappings, disable_api_termination, disable_api_stop, shutdown_behavior, backend, backend_id,
         steps_done, activity)
       SELECT $1, account_id, reservation_id, 0, image_id, instance_type, key_name, $2, NULL, NULL, '', subnet_id, vpc_id,
         availability_zone, $3::inet, $10, $4, security_group_ids, block_device_mappings, false, false, $5, backend, $6, $7, $8
       FROM instances WHERE id = $9`,
      [id, r.state, ip, eniId, behavior, backendId, r.steps, r.activity ?? null, template.id, mac],
    );
  }

  async function pass(): Promise<void> {
    await t.s.services.instances.reconcile();
    await t.s.services.instances.queue.idle();
  }

  async function check(id: string, want: Outcome, callsBefore: number, what: string): Promise<void> {
    const row = (await t.s.db.rows<{ state: string; state_reason_code: string | null; activity: string | null }>(
      'SELECT state, state_reason_code, activity FROM instances WHERE id = $1', [id]))[0];
    assert.equal(row?.state ?? 'none', want.state, `${what}: state`);
    assert.deepEqual(compute.of(id).map(([, o]) => o.state), want.host, `${what}: what the host runs for it`);
    if (want.reason) assert.equal(row?.state_reason_code, want.reason, `${what}: state reason`);
    if (want.activity !== undefined) assert.equal(row?.activity, want.activity, `${what}: activity`);
    const calls = compute.calls.slice(callsBefore);
    if (want.call === 'none') assert.deepEqual(calls, [], `${what}: no backend calls`);
    else if (want.call) assert.ok(calls.some((c) => c.startsWith(want.call!)), `${what}: ${want.call} called (calls: ${calls.join(', ')})`);
    // The address belongs to the instance's ENI, freed with it at termination.
    const eni = (await t.s.db.rows<{ eni_id: string }>('SELECT eni_id FROM instances WHERE id = $1', [id]))[0]?.eni_id;
    if (row?.state === 'terminated') assert.deepEqual(await t.s.services.network.ipsOf(eni!), [], `${what}: address released`);
    else if (row) assert.equal((await t.s.services.network.ipsOf(eni!)).length, 1, `${what}: address held`);
  }

  for (const recorded of RECORDED_CONDITIONS) {
    for (const host of HOST_CONDITIONS) {
      const want = EXPECT[recorded][host];
      it(`${recorded} x ${host} -> ${want.state}${want.host.length ? `, host ${want.host.join()}` : ', nothing on the host'}`, async () => {
        const id = newId();
        const obj = host === 'missing' ? undefined : compute.put(id, host);
        if (recorded !== 'gone') {
          const r = RECORDS[recorded];
          // A made instance records its object's id (or, for `missing`, the id of an object that vanished).
          await record(id, r, r.made ? (obj ?? `fake-${randomBytes(6).toString('hex')}`) : null);
        }
        const before = compute.calls.length;
        await pass();
        await check(id, want, before, `${recorded} x ${host}`);
        if (recorded === 'launching' && obj) assert.ok(!compute.objects.has(obj), 'the half-made object was removed, not adopted');
      });
    }
  }

  it('running x stopped with shutdown behaviour "terminate" -> terminated, nothing on the host', async () => {
    const id = newId();
    await record(id, RECORDS.running, compute.put(id, 'stopped'), 'terminate');
    await pass();
    await check(id, { state: 'terminated', host: [], reason: 'Client.InstanceInitiatedShutdown' }, compute.calls.length, 'guest shutdown, terminate');
  });

  it('a terminated record whose object is still on the host -> the object is removed', async () => {
    const id = newId();
    await record(id, { state: 'terminated', steps: [], made: true }, compute.put(id, 'running'));
    await pass();
    assert.deepEqual(compute.of(id), []);
  });

  it('a failing launch ends terminated with its reason, with nothing left on the host and its address released', async () => {
    const id = newId();
    await record(id, RECORDS.launching, null);
    compute.failing.set('start', new Error('the fake host refuses to start it'));
    try {
      await pass();
    } finally {
      compute.failing.clear();
    }
    await check(id, { state: 'terminated', host: [], reason: 'Server.InternalError' }, compute.calls.length, 'failed launch');
  });

  it('a record a pass snapshot saw is left alone if it changed before its turn (the next pass decides)', async () => {
    const id = newId();
    const obj = compute.put(id, 'stopped');
    await record(id, RECORDS.running, obj);
    // Between the snapshot and the decision, a command moves the record on (here: the user stops it).
    const queue = t.s.services.instances.queue;
    const run = queue.run.bind(queue);
    queue.run = (iid, work, onError) =>
      run(iid, async () => {
        if (iid === id) await t.s.db.exec(`UPDATE instances SET state = 'stopping', updated_at = clock_timestamp() WHERE id = $1`, [id]);
        return work();
      }, onError);
    try {
      await t.s.services.instances.reconcile();
    } finally {
      queue.run = run;
    }
    await t.s.services.instances.queue.idle();
    const row = (await t.s.db.rows<{ state: string }>('SELECT state FROM instances WHERE id = $1', [id]))[0];
    assert.equal(row?.state, 'stopping', 'not taken for a guest shutdown on a stale snapshot');
    await pass();
    await check(id, { state: 'stopped', host: ['stopped'] }, compute.calls.length, 'next pass');
  });
});
