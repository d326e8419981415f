/**
 * Root volumes on the real hosts (COMPUTE_BACKEND=libvirt, STORAGE_BACKEND=lvm): the VM boots from an EBS volume
 * (a thin clone of the image's LV), which DescribeVolumes lists at the image's root device with
 * DeleteOnTermination true and the size asked in the root mapping; the guest sees it as its first virtio disk
 * with the volume id as serial; it can be snapshotted; terminating deletes it and leaves no LV but the image's.
 * Run under the host lock: flock /tmp/thecloud-host.lock npx mocha test/volumes/root-libvirt.test.ts
 */
import assert from 'node:assert/strict';
import {
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
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
import type { TestServer } from '../support/server.js';
import { lvmServer } from '../support/lvm-server.js';
import { testStorage } from '../support/storage.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 2, maxWaitTime: 180 });

describe('root volumes of libvirt instances on real LVM', function () {
  this.timeout(600_000);
  const f = lvmServer('libvirt', () => new LibvirtComputeBackend().probe());
  const instances = f.instances;
  let s: TestServer;
  let ec2: EC2Client;
  let cloudId: string;
  before(() => {
    ({ s, ec2, cloudId } = f);
  });

  it('boots from a grown thin clone of the image, lists it, snapshots it and deletes it at terminate', async () => {
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images![0]!;
    const rootDevice = image.RootDeviceName!;
    const imageGiB = image.BlockDeviceMappings?.find((m) => m.DeviceName === rootDevice)?.Ebs?.VolumeSize ?? 1;

    await assert.rejects(
      ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro',
        BlockDeviceMappings: [{ DeviceName: rootDevice, Ebs: { VolumeSize: imageGiB - 1 || 0 } }] })),
      (e: Error) => ['InvalidBlockDeviceMapping', 'InvalidParameterValue'].includes(e.name),
    );

    const run = await ec2.send(new RunInstancesCommand({
      ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro',
      BlockDeviceMappings: [{ DeviceName: rootDevice, Ebs: { VolumeSize: imageGiB + 1 } }],
      UserData: Buffer.from('#!/bin/sh\necho "ROOTSERIAL $(cat /sys/block/vda/serial)"\n').toString('base64'),
    }));
    const id = run.Instances![0]!.InstanceId!;
    instances.push(id);
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [id] });

    const vols = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }))).Volumes!;
    assert.equal(vols.length, 1, 'the root volume is listed');
    const root = vols[0]!;
    assert.equal(root.Size, imageGiB + 1);
    assert.equal(root.State, 'in-use');
    assert.equal(root.Attachments![0]!.Device, rootDevice);
    assert.equal(root.Attachments![0]!.DeleteOnTermination, true);
    const storage = testStorage(cloudId);
    const inv = await storage.backend.list();
    assert.deepEqual(inv.volumes.find((v) => v.volumeId === root.VolumeId)?.source, { imageId: image.ImageId });
    assert.equal(inv.volumes.find((v) => v.volumeId === root.VolumeId)?.sizeGiB, imageGiB + 1);

    // The guest booted with it as its first disk: vda's serial is the volume id (as on Nitro).
    const compute = new LibvirtComputeBackend();
    const [row] = await s.services.instances.byIds('000000000000', [id]);
    let out = '';
    for (let i = 0; i < 600 && !/ROOTSERIAL \S+/.test(out); i++) {
      out = await compute.consoleOutput(row!.backend_id!);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(out, new RegExp(`ROOTSERIAL ${root.VolumeId!.replace('-', '')}`));

    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: root.VolumeId }));
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: [snap.SnapshotId!] });

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(fast(ec2), { InstanceIds: [id] });
    await waitUntilVolumeDeleted(fast(ec2), { VolumeIds: [root.VolumeId!] });
    const after = await storage.backend.list();
    assert.ok(!after.volumes.some((v) => v.volumeId === root.VolumeId), 'the root LV is gone');
    assert.ok(after.snapshots.some((x) => x.snapshotId === snap.SnapshotId), 'its snapshot outlives it');
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap.SnapshotId }));
  });
});
