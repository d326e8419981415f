/**
 * A root volume replacement cut by a crash (COMPUTE_BACKEND=libvirt, STORAGE_BACKEND=lvm, the real server as a
 * child process): CreateReplaceRootVolumeTask with DeleteReplacedRootVolume and a snapshot of the current root
 * (the merge path) is killed (SIGKILL, THECLOUD_CRASH_AT=replace-root:merged, src/server/crash-points.ts) at its
 * point of no return: the root's LV is rolled back by `lvconvert --merge` but not yet renamed to the new volume,
 * the instance is shut down, the records still name the old root. Started again at once, the server finishes the
 * task: the new volume is the old root's LV (its UUID) under the new id, attached as the root; the old volume is
 * `deleted` and its LV name gone; no temporary LV is left; the instance runs again, booting from the snapshot's
 * bytes; the snapshot stays.
 * Run under the host lock: flock /tmp/thecloud-host.lock npx mocha test/volumes/root-replace-crash.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  CreateReplaceRootVolumeTaskCommand,
  CreateSnapshotCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeReplaceRootVolumeTasksCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  waitUntilSnapshotCompleted,
  waitUntilVolumeDeleted,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { needBackend } from '../support/backends.js';
import { freshDatabase } from '../support/server.js';
import { freePort, startChild, tail, type ChildServer } from '../support/child-server.js';
import { testStorage } from '../support/storage.js';
import { lvUuids as lvUuidsOf, waitBoots as waitBootsOn } from '../support/root-disk.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 300 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a root volume replacement (merge path) killed at its point of no return', function () {
  this.timeout(900_000);
  const compute = new LibvirtComputeBackend();
  let dbUrl: string;
  let port: number;
  let logDir: string;
  let db: pg.Client;
  let server: ChildServer | undefined;
  let cloudId: string | undefined;
  const instances: string[] = [];

  before(async function () {
    await needBackend(this, 'lvm', () => testStorage().backend.probe());
    await needBackend(this, 'libvirt', () => compute.probe());
    dbUrl = await freshDatabase();
    port = await freePort();
    logDir = mkdtempSync(join(tmpdir(), 'thecloud-replace-crash-'));
    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && server) console.log(`      server log (last 40 lines):\n${tail(server.log)}`);
  });
  after(async () => {
    if (server && instances.length) {
      await server.ec2.send(new TerminateInstancesCommand({ InstanceIds: instances })).catch(() => undefined);
      await waitUntilInstanceTerminated(fast(server.ec2), { InstanceIds: instances }).catch(() => undefined);
    }
    server?.child.kill('SIGTERM');
    await server?.child;
    await db?.end();
    if (cloudId) await testStorage(cloudId).cleanup();
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  const env = () => ({ DATABASE_URL: dbUrl, COMPUTE_BACKEND: 'libvirt', STORAGE_BACKEND: 'lvm', THECLOUD_RECONCILE_SECONDS: '2', LOG_LEVEL: 'info' });
  const one = async <T>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows[0] as T;

  async function consoleOf(id: string): Promise<string> {
    const { backend_id } = await one<{ backend_id: string }>('SELECT backend_id FROM instances WHERE id = $1', [id]);
    return compute.consoleOutput(backend_id);
  }
  const waitBoots = (id: string, count: number) => waitBootsOn(() => consoleOf(id), count);
  const lvUuids = () => lvUuidsOf(cloudId!);

  it('finishes after the restart: records and LVs agree, the old root deleted, the instance running from the snapshot', async () => {
    server = await startChild({ ...env(), THECLOUD_CRASH_AT: 'replace-root:merged' }, port, join(logDir, 'first.log'));
    let ec2 = server.ec2;
    cloudId = (await one<{ id: string }>('SELECT id FROM installation')).id;
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images![0]!;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const id = run.Instances![0]!.InstanceId!;
    instances.push(id);
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [id] });
    assert.deepEqual(await waitBoots(id, 1), [1]);
    const root = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }))).Volumes![0]!;
    const oldId = root.VolumeId!;
    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: oldId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [snap.SnapshotId!] });
    const uuid = (await lvUuids()).get(oldId);
    assert.ok(uuid);

    const task = (await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: snap.SnapshotId, DeleteReplacedRootVolume: true }))).ReplaceRootVolumeTask!;
    const taskId = task.ReplaceRootVolumeTaskId!;
    const exit = await server.child;
    assert.equal(exit.signal, 'SIGKILL', 'the server killed itself at the crash point');
    server = undefined;

    // What the crash left: the root merged under its old name, the records not yet moved, the instance down.
    const cut = await one<{ state: string; method: string; new_volume_id: string }>('SELECT state, method, new_volume_id FROM replace_root_volume_tasks WHERE id = $1', [taskId]);
    assert.deepEqual([cut.state, cut.method], ['in-progress', 'merged']);
    const newId = cut.new_volume_id;
    assert.equal((await one<{ state: string }>('SELECT state FROM volumes WHERE id = $1', [newId])).state, 'creating');
    assert.equal((await one<{ state: string }>('SELECT state FROM volumes WHERE id = $1', [oldId])).state, 'in-use');
    const lvsCut = await lvUuids();
    assert.equal(lvsCut.get(oldId), uuid, 'the merged root keeps its LV');
    assert.ok(!lvsCut.has(newId));
    const { backend_id } = await one<{ backend_id: string }>('SELECT backend_id FROM instances WHERE id = $1', [id]);
    assert.equal(await compute.state(backend_id), 'stopped');

    // Started again at once: reconciliation resumes the task.
    server = await startChild(env(), port, join(logDir, 'second.log'));
    ec2 = server.ec2;
    let state = '';
    for (let i = 0; i < 600 && state !== 'succeeded' && state !== 'failed'; i++) {
      state = (await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [taskId] }))).ReplaceRootVolumeTasks![0]!.TaskState!;
      if (state !== 'succeeded') await sleep(1000);
    }
    assert.equal(state, 'succeeded');
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [oldId] });
    const vols = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }))).Volumes!;
    assert.deepEqual(vols.map((v) => [v.VolumeId, v.State, v.SnapshotId, v.Attachments![0]!.State, v.Attachments![0]!.Device]), [[newId, 'in-use', snap.SnapshotId, 'attached', root.Attachments![0]!.Device]]);
    const lvs = await lvUuids();
    assert.equal(lvs.get(newId), uuid, 'the new root is the merged LV, renamed');
    assert.ok(!lvs.has(oldId), 'no LV under the old root\'s name');
    const inv = await testStorage(cloudId).backend.list();
    assert.deepEqual(inv.leftovers, []);
    assert.deepEqual(inv.volumes.map((v) => v.volumeId), [newId]);
    assert.ok(inv.snapshots.some((s) => s.snapshotId === snap.SnapshotId));
    assert.equal((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap.SnapshotId!] }))).Snapshots![0]!.State, 'completed');
    const inst = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
    assert.equal(inst.State!.Name, 'running');
    assert.equal(await compute.state(backend_id), 'running');
    assert.deepEqual(await waitBoots(id, 2), [1, 2], 'booted from the snapshot (its disk said 1)');
  });
});
