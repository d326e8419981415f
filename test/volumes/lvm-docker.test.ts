/**
 * EBS through the API on the real hosts (STORAGE_BACKEND=lvm, COMPUTE_BACKEND=docker), with the JS SDK and its
 * waiters: a volume created and attached to a running instance is a block device inside it; bytes written there
 * are snapshotted, restored into a new volume, attached to a second instance and read back equal; detach and
 * delete leave no disk on the storage host. CreateSnapshots of two attached volumes holds the bytes of its moment. Run under the host lock: flock /tmp/thecloud-host.lock npx mocha ...
 */
import assert from 'node:assert/strict';
import Docker from 'dockerode';
import {
  AttachVolumeCommand,
  CreateSnapshotCommand,
  CreateSnapshotsCommand,
  CopySnapshotCommand,
  ModifyVolumeCommand,
  DescribeVolumesModificationsCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  waitUntilVolumeDeleted,
  waitUntilVolumeInUse,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { demuxLogs } from '../../src/adapters/docker/logs.js';
import type { TestServer } from '../support/server.js';
import { lvmServer } from '../support/lvm-server.js';
import { testStorage } from '../support/storage.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 120 });

describe('EBS on real LVM, attached to Docker instances through the API', function () {
  this.timeout(300_000);
  const docker = new Docker();
  const f = lvmServer('docker', () => new DockerComputeBackend().probe());
  const instances = f.instances;
  let s: TestServer;
  let ec2: EC2Client;
  let cloudId: string;
  before(() => {
    ({ s, ec2, cloudId } = f);
  });

  async function sh(instanceId: string, script: string): Promise<{ out: string; code: number }> {
    const [row] = await s.services.instances.byIds('000000000000', [instanceId]);
    const exec = await docker.getContainer(row!.backend_id!).exec({ Cmd: ['/bin/sh', '-c', script], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return { out: demuxLogs(Buffer.concat(chunks)), code: (await exec.inspect()).ExitCode ?? -1 };
  }

  /** As on AWS, the volume is in-use from the start of the attachment; its attachment says when it is attached. */
  async function attached(volumeId: string): Promise<void> {
    await waitUntilVolumeInUse(fast(ec2), { VolumeIds: [volumeId] });
    for (let i = 0; i < 120; i++) {
      const v = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!;
      if (v.Attachments?.[0]?.State === 'attached') return;
      if (v.State !== 'in-use') throw new Error(`the attachment of ${volumeId} failed: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`${volumeId} was not attached in time`);
  }

  it('creates, attaches, writes, snapshots, restores to a second instance, reads back, detaches and deletes', async () => {
    const ami = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!.ImageId;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 2, MaxCount: 2, InstanceType: 't3.nano' }));
    const [first, second] = run.Instances!.map((i) => i.InstanceId!) as [string, string];
    instances.push(first, second);
    const zone = run.Instances![0]!.Placement!.AvailabilityZone!;
    const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1, VolumeType: 'gp3' }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [vol.VolumeId!] });
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [first, second] });

    await ec2.send(new AttachVolumeCommand({ VolumeId: vol.VolumeId, InstanceId: first, Device: '/dev/sdf' }));
    await attached(vol.VolumeId!);
    const write = await sh(first, 'test -b /dev/sdf && test -b /dev/xvdf && dd if=/dev/urandom of=/tmp/d bs=1M count=2 2>/dev/null && dd if=/tmp/d of=/dev/xvdf bs=1M conv=fsync 2>/dev/null && md5sum </tmp/d');
    assert.equal(write.code, 0, write.out);
    const written = write.out.trim().split(/\s+/)[0]!;

    // The volume in use cannot be deleted; a snapshot of it is taken while attached.
    await assert.rejects(ec2.send(new DeleteVolumeCommand({ VolumeId: vol.VolumeId })), { name: 'VolumeInUse' });
    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: vol.VolumeId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [snap.SnapshotId!] });

    await ec2.send(new DetachVolumeCommand({ VolumeId: vol.VolumeId }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [vol.VolumeId!] });
    assert.notEqual((await sh(first, 'test -b /dev/sdf')).code, 0, '/dev/sdf is still inside the instance after detach');
    await ec2.send(new DeleteVolumeCommand({ VolumeId: vol.VolumeId }));
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [vol.VolumeId!] });

    // A copy of the snapshot holds the same bytes (restored below from the copy, the original deleted first).
    const copy = await ec2.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: snap.SnapshotId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [copy.SnapshotId!] });
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap.SnapshotId }));

    const restored = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: copy.SnapshotId, VolumeType: 'gp3' }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [restored.VolumeId!] });
    // Grown on the host (lvextend) before it is attached: the instance sees 2 GiB.
    await ec2.send(new ModifyVolumeCommand({ VolumeId: restored.VolumeId, Size: 2 }));
    for (let i = 0; i < 120; i++) {
      const m = (await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [restored.VolumeId!] }))).VolumesModifications![0]!;
      if (m.ModificationState === 'completed') break;
      assert.notEqual(m.ModificationState, 'failed', m.StatusMessage);
      await new Promise((r) => setTimeout(r, 500));
    }
    await ec2.send(new AttachVolumeCommand({ VolumeId: restored.VolumeId, InstanceId: second, Device: '/dev/xvdg' }));
    await attached(restored.VolumeId!);
    const read = await sh(second, 'dd if=/dev/sdg bs=1M count=2 2>/dev/null | md5sum');
    assert.equal(read.out.trim().split(/\s+/)[0], written, 'the restored volume does not hold the bytes written in the first instance');
    const size = await sh(second, 'cat /sys/class/block/$(basename $(readlink -f /dev/sdg))/size 2>/dev/null || blockdev --getsize64 /dev/sdg');
    const bytes = Number(size.out.trim()) < 1e8 ? Number(size.out.trim()) * 512 : Number(size.out.trim());
    assert.equal(bytes, 2 * 1024 ** 3, `the grown volume's size inside the instance: ${size.out}`);

    // CreateSnapshots: both volumes of the second instance at one point in time. Written, snapshotted, written
    // again: restored, each holds the first write (read on the storage host).
    const other = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [other.VolumeId!] });
    await ec2.send(new AttachVolumeCommand({ VolumeId: other.VolumeId, InstanceId: second, Device: '/dev/sdh' }));
    await attached(other.VolumeId!);
    const fill = 'for d in /dev/sdg /dev/sdh; do dd if=/dev/urandom of=/tmp/w bs=1M count=2 2>/dev/null && dd if=/tmp/w of=$d bs=1M conv=fsync 2>/dev/null && md5sum </tmp/w; done';
    const before = await sh(second, fill);
    assert.equal(before.code, 0, before.out);
    const sums = before.out.trim().split('\n').map((l) => l.split(/\s+/)[0]);
    const set = await ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: second } }));
    const after = await sh(second, fill);
    assert.equal(after.code, 0, after.out);
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: set.Snapshots!.map((x) => x.SnapshotId!) });
    const setSnap = (v: string) => set.Snapshots!.find((x) => x.VolumeId === v)!.SnapshotId!;
    const back = await Promise.all([restored.VolumeId!, other.VolumeId!].map((v) => ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: setSnap(v) }))));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: back.map((b) => b.VolumeId!) });
    const storage = testStorage(cloudId!);
    const got: string[] = [];
    for (const b of back) got.push(await storage.checksum(b.VolumeId!, 2));
    assert.deepEqual(got, sums, 'CreateSnapshots holds the bytes of its moment on both volumes');
    for (const b of back) await ec2.send(new DeleteVolumeCommand({ VolumeId: b.VolumeId }));
    for (const x of set.Snapshots!) await ec2.send(new DeleteSnapshotCommand({ SnapshotId: x.SnapshotId }));

    // Terminating the instance releases the volume (DeleteOnTermination false: it stays, available).
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [first, second] }));
    await waitUntilInstanceTerminated(fast(ec2), { InstanceIds: [first, second] });
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [restored.VolumeId!, other.VolumeId!] });
    for (const v of [restored.VolumeId!, other.VolumeId!, ...back.map((b) => b.VolumeId!)]) {
      await ec2.send(new DeleteVolumeCommand({ VolumeId: v })).catch(() => undefined);
    }
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [restored.VolumeId!, other.VolumeId!, ...back.map((b) => b.VolumeId!)] });
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: copy.SnapshotId }));
    const left = await testStorage(cloudId!).backend.list();
    assert.deepEqual([left.volumes, left.snapshots, left.exports], [[], [], []], 'no disk, snapshot or export is left on the storage host');
  });
});
