/**
 * CreateReplaceRootVolumeTask on the real hosts (COMPUTE_BACKEND=libvirt, STORAGE_BACKEND=lvm): the root volume,
 * and no other disk, goes back to the snapshot. The test VM's init keeps a boot counter on its root disk
 * (/dev/vda): boot 1, snapshot, reboot (boot 2 on disk), replace the root from the snapshot, and the next boot
 * counts 2 again (the disk holds 1 again, the first marker). A data volume attached to the same instance and the
 * image's LV are read on the storage host before and after: byte-identical. The snapshot itself is unchanged
 * (a volume restored from it reads the same before and after). That first task keeps the replaced root, so the
 * new root is a clone. A second task, with DeleteReplacedRootVolume and a snapshot of the current root, takes
 * the merge path, driven by the AWS CLI (create) and boto3 (waiting for it): the root's own LV is rolled back by
 * `lvconvert --merge` (a MiB written on the storage host after the snapshot is gone again) and renamed to the
 * new volume (its LV UUID kept), and every other LV of the installation keeps its UUID (but the merged snapshot,
 * whose keeper, a copy-on-write twin with the same bytes, takes its name: restore.ts). Then a third task restores
 * the launch state (a fresh clone of the image: boot 1) and deletes the volume it replaces; a stop and start keep
 * the root's data.
 * Run under the host lock: flock /tmp/thecloud-host.lock npx mocha test/volumes/root-replace-libvirt.test.ts
 */
import assert from 'node:assert/strict';
import {
  CreateTagsCommand,
  AttachVolumeCommand,
  CreateReplaceRootVolumeTaskCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeReplaceRootVolumeTasksCommand,
  DescribeVolumesCommand,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  waitUntilVolumeDeleted,
  waitUntilVolumeInUse,
  type EC2Client,
  type ReplaceRootVolumeTask,
} from '@aws-sdk/client-ec2';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { awsClientEnv, needClient } from '../../compat/support.js';
import type { TestServer } from '../support/server.js';
import { lvmServer } from '../support/lvm-server.js';
import { testStorage } from '../support/storage.js';
import { lvUuids as lvUuidsOf, waitBoots as waitBootsOn } from '../support/root-disk.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 300 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const AWS = process.env.AWS_CLI ?? 'aws';
const PYTHON = process.env.PYTHON ?? 'python3';
const PY_DIR = fileURLToPath(new URL('../../compat/python/', import.meta.url));

describe('replacing the root volume of a libvirt instance on real LVM', function () {
  this.timeout(900_000);
  const compute = new LibvirtComputeBackend();
  const f = lvmServer('libvirt', () => compute.probe());
  const instances = f.instances;
  let s: TestServer;
  let ec2: EC2Client;
  let cloudId: string;
  before(async function () {
    ({ s, ec2, cloudId } = f);
    await needClient(this, 'aws-cli', AWS, ['--version']);
    await needClient(this, 'boto3', PYTHON, ['-c', 'import boto3']);
  });

  /** The AWS CLI against the server: its JSON answer. */
  async function aws(args: string[]): Promise<any> {
    const r = await execa(AWS, ['ec2', ...args, '--endpoint-url', s.url, '--output', 'json'], {
      env: awsClientEnv({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' }),
      extendEnv: false, reject: false, timeout: 60_000,
    });
    assert.equal(r.exitCode, 0, `aws ec2 ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return JSON.parse(String(r.stdout));
  }
  /** boto3 (compat/python/replace_root.py) waits for the task to finish: the task, and the instance's tasks. */
  async function boto3Finished(taskId: string, instanceId: string): Promise<{ task: Record<string, any>; listed: string[] }> {
    const r = await execa(PYTHON, ['replace_root.py', s.url], {
      cwd: PY_DIR, env: awsClientEnv({ PYTHONDONTWRITEBYTECODE: '1' }), extendEnv: false, reject: false, timeout: 900_000,
      input: JSON.stringify({ taskId, instanceId }),
    });
    assert.equal(r.exitCode, 0, `replace_root.py exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
    return JSON.parse(String(r.stdout));
  }

  /** The instance's console (the guest's init prints its boot counter there, which lives on the root disk). */
  async function consoleOf(id: string): Promise<string> {
    const [row] = await s.services.instances.byIds('000000000000', [id]);
    return compute.consoleOutput(row!.backend_id!);
  }
  const waitBoots = (id: string, count: number) => waitBootsOn(() => consoleOf(id), count);
  async function rootOf(id: string) {
    const vols = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }))).Volumes!;
    return vols;
  }
  /** md5 of one MiB of a volume at `mib`, read on the storage host. */
  async function mibSum(volumeId: string, mib: number): Promise<string> {
    const { host, vg } = testStorage(cloudId);
    const tmp = `/tmp/${volumeId}.mib`;
    await host.run('dd', [`if=/dev/${vg}/${volumeId}`, `of=${tmp}`, 'bs=1M', `skip=${mib}`, 'count=1', 'iflag=direct']);
    const sum = (await host.run('md5sum', [tmp])).stdout.split(' ')[0]!;
    await host.run('rm', ['-f', tmp]);
    return sum;
  }
  const lvUuids = () => lvUuidsOf(cloudId!);
  async function finished(taskId: string): Promise<ReplaceRootVolumeTask> {
    for (let i = 0; i < 600; i++) {
      const t = (await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: [taskId] }))).ReplaceRootVolumeTasks![0]!;
      if (t.TaskState === 'succeeded' || t.TaskState === 'failed') return t;
      await sleep(1000);
    }
    throw new Error(`task ${taskId} did not finish`);
  }

  it('restores the root from its snapshot as a new volume and changes no other disk; stop/start keep the root', async () => {
    const storage = testStorage(cloudId);
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images![0]!;
    const rootDevice = image.RootDeviceName!;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const id = run.Instances![0]!.InstanceId!;
    const zone = run.Instances![0]!.Placement!.AvailabilityZone!;
    instances.push(id);
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [id] });
    assert.deepEqual(await waitBoots(id, 1), [1]);
    const root1 = (await rootOf(id)).find((v) => v.Attachments![0]!.Device === rootDevice)!;

    // A data volume with known bytes, attached to the same instance: it must not change.
    const data = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [data.VolumeId!] });
    await storage.scribble(data.VolumeId!, 2);
    const data0 = await storage.checksum(data.VolumeId!, 2);
    await ec2.send(new AttachVolumeCommand({ VolumeId: data.VolumeId, InstanceId: id, Device: '/dev/sdf' }));
    await waitUntilVolumeInUse(fast(ec2), { VolumeIds: [data.VolumeId!] });
    const image0 = await storage.checksum(image.ImageId!, 32);

    // The first marker: the disk says boot 1. Snapshot it; reboot (the disk says 2).
    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: root1.VolumeId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [snap.SnapshotId!] });
    /** A snapshot's bytes: a volume restored from it, read on the storage host (and deleted again). */
    const probe = async (snapshotId = snap.SnapshotId) => {
      const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snapshotId }));
      await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [v.VolumeId!] });
      const sum = await storage.checksum(v.VolumeId!, 32);
      // Deleted before the next LV listing (a delete that ends in `error` is asked again).
      for (let i = 0; i < 3; i++) {
        await ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId }));
        let state: string | undefined = 'deleting';
        for (let j = 0; j < 120 && state === 'deleting'; j++) {
          await sleep(1000);
          state = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'volume-id', Values: [v.VolumeId!] }] }))).Volumes![0]?.State;
        }
        if (state !== 'error') break;
      }
      await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [v.VolumeId!] });
      return sum;
    };
    const snap0 = await probe();
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(await waitBoots(id, 2), [1, 2]);

    // Refusals first: an AMI, a snapshot of another volume, an unknown task.
    await assert.rejects(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, ImageId: image.ImageId })), { name: 'UnsupportedOperation' });
    const dataSnap = await ec2.send(new CreateSnapshotCommand({ VolumeId: data.VolumeId }));
    await assert.rejects(ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: dataSnap.SnapshotId })), { name: 'InvalidParameterValue' });
    await assert.rejects(ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: ['replacevol-0123456789abcdef0'] })), { name: 'InvalidReplaceRootVolumeTaskId.NotFound' });

    const created = (await ec2.send(new CreateReplaceRootVolumeTaskCommand({
      InstanceId: id, SnapshotId: snap.SnapshotId, ClientToken: `rr-${id}`,
      TagSpecifications: [{ ResourceType: 'replace-root-volume-task', Tags: [{ Key: 'why', Value: 'test' }] }],
    }))).ReplaceRootVolumeTask!;
    assert.match(created.ReplaceRootVolumeTaskId!, /^replacevol-[0-9a-f]{17}$/);
    assert.ok(['pending', 'in-progress'].includes(created.TaskState!), created.TaskState);
    assert.equal(created.SnapshotId, snap.SnapshotId);
    assert.deepEqual(created.Tags, [{ Key: 'why', Value: 'test' }]);
    const again = (await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, SnapshotId: snap.SnapshotId, ClientToken: `rr-${id}` }))).ReplaceRootVolumeTask!;
    assert.equal(again.ReplaceRootVolumeTaskId, created.ReplaceRootVolumeTaskId, 'ClientToken: the same task');

    const done = await finished(created.ReplaceRootVolumeTaskId!);
    assert.equal(done.TaskState, 'succeeded');
    assert.ok(done.StartTime && done.CompleteTime && done.CompleteTime >= done.StartTime);
    const listed = (await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ Filters: [{ Name: 'instance-id', Values: [id] }] }))).ReplaceRootVolumeTasks!;
    assert.deepEqual(listed.map((t) => t.ReplaceRootVolumeTaskId), [created.ReplaceRootVolumeTaskId]);
    await ec2.send(new CreateTagsCommand({ Resources: [created.ReplaceRootVolumeTaskId!], Tags: [{ Key: 'later', Value: 'tagged' }] }));
    const byTag = (await ec2.send(new DescribeReplaceRootVolumeTasksCommand({ Filters: [{ Name: 'tag:later', Values: ['tagged'] }] }))).ReplaceRootVolumeTasks!;
    assert.deepEqual(byTag.map((t) => [t.ReplaceRootVolumeTaskId, t.Tags?.length]), [[created.ReplaceRootVolumeTaskId, 2]], 'CreateTags reaches a task');

    // The instance booted from the restored disk: it counted 2 again (the disk held 1).
    assert.deepEqual(await waitBoots(id, 3), [1, 2, 2]);
    const vols = await rootOf(id);
    const root2 = vols.find((v) => v.Attachments![0]!.Device === rootDevice)!;
    assert.notEqual(root2.VolumeId, root1.VolumeId, 'a new root volume, as on AWS');
    assert.equal(root2.SnapshotId, snap.SnapshotId);
    assert.equal(root2.Size, root1.Size);
    assert.equal(root2.Attachments![0]!.DeleteOnTermination, true);
    const old = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [root1.VolumeId!] }))).Volumes![0]!;
    assert.equal(old.State, 'available', 'the replaced root volume is kept, detached');
    assert.ok(vols.some((v) => v.VolumeId === data.VolumeId && v.State === 'in-use'), 'the data volume stays attached');

    // No other disk changed: the data volume, the image's LV, the snapshot.
    assert.equal(await storage.checksum(data.VolumeId!, 2), data0, 'data volume unchanged');
    assert.equal(await storage.checksum(image.ImageId!, 32), image0, 'image LV unchanged');
    assert.equal(await probe(), snap0, 'snapshot unchanged');

    // The merge path: DeleteReplacedRootVolume with a snapshot of the current root (root2), by the AWS CLI and boto3.
    const snap2 = await ec2.send(new CreateSnapshotCommand({ VolumeId: root2.VolumeId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [snap2.SnapshotId!] });
    const snap2Sum = await probe(snap2.SnapshotId);
    const root1Sum = await storage.checksum(root1.VolumeId!, 32);
    // After the snapshot, the root's last MiB (no file of the guest's there) changes on the storage host.
    const lastMiB = root2.Size! * 1024 - 1;
    const tail0 = await mibSum(root2.VolumeId!, lastMiB);
    await storage.host.run('dd', ['if=/dev/urandom', `of=/dev/${storage.vg}/${root2.VolumeId}`, 'bs=1M', `seek=${lastMiB}`, 'count=1', 'oflag=direct', 'conv=fsync']);
    assert.notEqual(await mibSum(root2.VolumeId!, lastMiB), tail0);
    const lvs0 = await lvUuids();
    const merged = (await aws(['create-replace-root-volume-task', '--instance-id', id, '--snapshot-id', snap2.SnapshotId!, '--delete-replaced-root-volume', '--client-token', `rr2-${id}`])).ReplaceRootVolumeTask;
    assert.equal(merged.DeleteReplacedRootVolume, true);
    assert.equal(merged.SnapshotId, snap2.SnapshotId);
    const byBoto3 = await boto3Finished(merged.ReplaceRootVolumeTaskId, id);
    assert.equal(byBoto3.task.TaskState, 'succeeded', JSON.stringify(byBoto3.task));
    assert.deepEqual(byBoto3.listed.sort(), [created.ReplaceRootVolumeTaskId, merged.ReplaceRootVolumeTaskId].sort());
    assert.deepEqual(await waitBoots(id, 4), [1, 2, 2, 3], 'booted from the snapshot of the disk that said 2');
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [root2.VolumeId!] });
    const root3 = (await rootOf(id)).find((v) => v.Attachments![0]!.Device === rootDevice)!;
    assert.ok(![root1.VolumeId, root2.VolumeId].includes(root3.VolumeId), 'a new root volume id, as on AWS');
    assert.equal(root3.SnapshotId, snap2.SnapshotId);
    // Merged, not cloned: root2's LV, under root3's name; every other LV of the installation is the same LV.
    const lvs1 = await lvUuids();
    assert.equal(lvs1.get(root3.VolumeId!), lvs0.get(root2.VolumeId!), 'the new root is the old root\'s LV (merged and renamed)');
    // The merged snapshot is the restore's keeper now (a new LV, the same bytes: probed below).
    assert.ok(lvs1.has(snap2.SnapshotId!) && lvs1.get(snap2.SnapshotId!) !== lvs0.get(snap2.SnapshotId!));
    const same = (m: Map<string, string>) => new Map([...m].filter(([name]) => name !== snap2.SnapshotId).sort());
    const expected = new Map([...lvs0].filter(([name]) => name !== root2.VolumeId).concat([[root3.VolumeId!, lvs0.get(root2.VolumeId!)!]]));
    assert.deepEqual(same(lvs1), same(expected), 'no other LV was made, removed or replaced');
    assert.equal(await mibSum(root3.VolumeId!, lastMiB), tail0, 'the write after the snapshot was rolled back');
    assert.equal(await probe(snap2.SnapshotId), snap2Sum, 'the merged snapshot is unchanged');
    assert.equal(await probe(), snap0, 'the first snapshot is unchanged');
    assert.equal(await storage.checksum(root1.VolumeId!, 32), root1Sum, 'the kept first root is unchanged');
    assert.equal(await storage.checksum(data.VolumeId!, 2), data0, 'data volume unchanged');
    assert.equal(await storage.checksum(image.ImageId!, 32), image0, 'image LV unchanged');

    // Launch state (no SnapshotId), deleting the replaced volume: a fresh clone of the image, boot 1 again.
    const third = (await ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: id, DeleteReplacedRootVolume: true }))).ReplaceRootVolumeTask!;
    assert.equal((await finished(third.ReplaceRootVolumeTaskId!)).TaskState, 'succeeded');
    assert.deepEqual(await waitBoots(id, 5), [1, 2, 2, 3, 1]);
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [root3.VolumeId!] });
    const root4 = (await rootOf(id)).find((v) => v.Attachments![0]!.Device === rootDevice)!;
    assert.ok(![root1.VolumeId, root2.VolumeId, root3.VolumeId].includes(root4.VolumeId));
    assert.ok(!(await lvUuids()).has(root3.VolumeId!), 'the replaced (cloned-over) root\'s LV is removed');
    assert.equal(await storage.checksum(data.VolumeId!, 2), data0, 'data volume still unchanged');
    await ec2.send(new DeleteVolumeCommand({ VolumeId: root1.VolumeId }));

    // Stop and start: the LV root (the replacement) keeps its data, the counter goes on from it.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceStopped(fast(ec2), { InstanceIds: [id] });
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [id] });
    assert.deepEqual(await waitBoots(id, 6), [1, 2, 2, 3, 1, 2]);
    assert.equal((await rootOf(id)).find((v) => v.Attachments![0]!.Device === rootDevice)!.VolumeId, root4.VolumeId);
  });
});
