/**
 * EBS through the real JS SDK against a server with the noop backends: AWS's validation, states and errors of
 * volumes, snapshots and attachments, fast (no host). test/volumes/lvm-docker.test.ts proves the data path.
 */
import assert from 'node:assert/strict';
import {
  CreateTagsCommand,
  AttachVolumeCommand,
  CreateImageCommand,
  DeregisterImageCommand,
  CreateReplaceRootVolumeTaskCommand,
  DescribeReplaceRootVolumeTasksCommand,
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeImagesCommand,
  CopySnapshotCommand,
  ModifyVolumeCommand,
  DescribeVolumesModificationsCommand,
  DescribeVolumeStatusCommand,
  DescribeVolumeAttributeCommand,
  ModifyVolumeAttributeCommand,
  EnableVolumeIOCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  ModifyInstanceAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  waitUntilVolumeDeleted,
  waitUntilVolumeInUse,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import pg from 'pg';
import { useTestServer } from '../support/use-server.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 1, maxWaitTime: 60 });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { name: string }).name;
  }
  return 'no error';
}

describe('EBS volumes and snapshots (noop backends)', function () {
  this.timeout(120_000);
  let zone: string;
  let instanceId: string;
  const t = useTestServer({ env: { THECLOUD_RECONCILE_SECONDS: '1' } });
  before(async () => {
    const ami = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    instanceId = inst.InstanceId!;
    zone = inst.Placement!.AvailabilityZone!;
    await waitUntilInstanceRunning(fast(t.ec2), { InstanceIds: [instanceId] });
  });

  it('CreateReplaceRootVolumeTask: refused where the root is no EBS volume, and for bad ids; nothing listed', async () => {
    const replace = (p: Record<string, unknown>) => code(t.ec2.send(new CreateReplaceRootVolumeTaskCommand({ InstanceId: instanceId, ...p })));
    assert.equal(await replace({}), 'UnsupportedOperation'); // noop compute: the root is the instance's own filesystem
    assert.equal(await replace({ ImageId: 'ami-0123456789abcdef0' }), 'UnsupportedOperation');
    assert.equal(await replace({ InstanceId: 'i-0123456789abcdef0' }), 'InvalidInstanceID.NotFound');
    assert.equal(await replace({ InstanceId: 'bogus' }), 'InvalidInstanceID.Malformed');
    assert.equal(await replace({ SnapshotId: 'snap-x' }), 'InvalidSnapshotID.Malformed');
    assert.equal(await code(t.ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: ['replacevol-0123456789abcdef0'] }))), 'InvalidReplaceRootVolumeTaskId.NotFound');
    assert.equal(await code(t.ec2.send(new DescribeReplaceRootVolumeTasksCommand({ ReplaceRootVolumeTaskIds: ['vol-0123456789abcdef0'] }))), 'InvalidReplaceRootVolumeTaskId.Malformed');
    assert.equal(await code(t.ec2.send(new CreateTagsCommand({ Resources: ['replacevol-0123456789abcdef0'], Tags: [{ Key: 'k', Value: 'v' }] }))), 'InvalidReplaceRootVolumeTaskId.NotFound');
    const listed = await t.ec2.send(new DescribeReplaceRootVolumeTasksCommand({ Filters: [{ Name: 'instance-id', Values: [instanceId] }] }));
    assert.deepEqual(listed.ReplaceRootVolumeTasks, []);
  });

  it('refuses what AWS refuses, running nothing on the host', async () => {
    const create = (p: Record<string, unknown>) => code(t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, ...p })));
    assert.equal(await create({ Size: 20000, VolumeType: 'gp2' }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 2000, VolumeType: 'standard' }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 100, VolumeType: 'st1' }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 2, VolumeType: 'io1', Iops: 100 }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 10, VolumeType: 'io1' }), 'MissingParameter');
    assert.equal(await create({ Size: 10, VolumeType: 'io1', Iops: 1000 }), 'InvalidParameterValue'); // 100 IOPS/GiB > 50
    assert.equal(await create({ Size: 10, VolumeType: 'gp2', Iops: 300 }), 'InvalidParameterCombination');
    assert.equal(await create({ Size: 10, VolumeType: 'gp3', Throughput: 2000 }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 10, VolumeType: 'magnetic' }), 'InvalidParameterValue');
    assert.equal(await create({ Size: 10, Encrypted: true }), 'UnsupportedOperation');
    assert.equal(await create({}), 'MissingParameter');
    assert.equal(await create({ Size: 1, AvailabilityZone: 'mars-1a' }), 'InvalidParameterValue');
    assert.equal(await create({ SnapshotId: 'snap-nope' }), 'InvalidSnapshotID.Malformed');
    assert.equal(await create({ SnapshotId: 'snap-0123456789abcdef0' }), 'InvalidSnapshot.NotFound');
    assert.equal(await code(t.ec2.send(new CreateVolumeCommand({ Size: 1 } as never))), 'MissingParameter');
    assert.equal((await t.ec2.send(new DescribeVolumesCommand({}))).Volumes!.length, 0, 'nothing was recorded');
  });

  it('creates distinct volumes (creating -> available) with defaults, tags, filters, paging and ClientToken', async () => {
    const a = await t.ec2.send(new CreateVolumeCommand({
      AvailabilityZone: zone, Size: 2, ClientToken: 'tok-1',
      TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'Name', Value: 'data' }] }],
    }));
    assert.equal(a.State, 'creating');
    assert.equal(a.VolumeType, 'gp2');
    assert.equal(a.Iops, 100);
    assert.deepEqual(a.Tags, [{ Key: 'Name', Value: 'data' }]);
    const again = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 2, ClientToken: 'tok-1' }));
    assert.equal(again.VolumeId, a.VolumeId, 'the same ClientToken answers the same volume');
    assert.equal(await code(t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 3, ClientToken: 'tok-1' }))), 'IdempotentParameterMismatch');
    const b = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 10, VolumeType: 'gp3', Iops: 4000, Throughput: 250 }));
    const c = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 8, VolumeType: 'io2', Iops: 800 }));
    const ids = [a.VolumeId!, b.VolumeId!, c.VolumeId!];
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: ids });
    assert.equal(new Set(ids).size, 3);
    const disks = (await t.s.services.backends.storage.list()).volumes.map((v) => v.volumeId);
    for (const id of ids) assert.ok(disks.includes(id), `${id} has its own disk`);

    const by = async (Name: string, Values: string[]) => (await t.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name, Values }] }))).Volumes!.map((v) => v.VolumeId).sort();
    assert.deepEqual(await by('volume-type', ['gp3', 'io2']), [b.VolumeId, c.VolumeId].sort());
    assert.deepEqual(await by('tag:Name', ['data']), [a.VolumeId]);
    assert.deepEqual(await by('size', ['2']), [a.VolumeId]);
    assert.deepEqual(await by('status', ['available']), [...ids].sort());
    assert.deepEqual(await by('availability-zone', [zone]), [...ids].sort());
    const status = (await t.ec2.send(new DescribeVolumeStatusCommand({ VolumeIds: ids }))).VolumeStatuses!;
    assert.deepEqual(status.map((x) => x.VolumeStatus!.Status), ['ok', 'ok', 'ok']);
    assert.equal((await t.ec2.send(new DescribeVolumeAttributeCommand({ VolumeId: b.VolumeId, Attribute: 'autoEnableIO' }))).AutoEnableIO!.Value, false);
    await t.ec2.send(new ModifyVolumeAttributeCommand({ VolumeId: b.VolumeId, AutoEnableIO: { Value: true } }));
    assert.equal((await t.ec2.send(new DescribeVolumeAttributeCommand({ VolumeId: b.VolumeId, Attribute: 'autoEnableIO' }))).AutoEnableIO!.Value, true);
    await t.ec2.send(new EnableVolumeIOCommand({ VolumeId: b.VolumeId }));
    assert.equal(await code(t.ec2.send(new EnableVolumeIOCommand({ VolumeId: 'vol-0123456789abcdef0' }))), 'InvalidVolume.NotFound');
    assert.equal(await code(t.ec2.send(new ModifyVolumeCommand({ VolumeId: a.VolumeId, Size: 1 }))), 'InvalidParameterValue', 'volumes only grow');
    const mod = await t.ec2.send(new ModifyVolumeCommand({ VolumeId: a.VolumeId, Size: 4, VolumeType: 'gp3' }));
    assert.equal(mod.VolumeModification!.ModificationState, 'modifying');
    assert.deepEqual([mod.VolumeModification!.OriginalSize, mod.VolumeModification!.TargetSize, mod.VolumeModification!.TargetIops], [2, 4, 3000]);
    for (let i = 0; i < 50; i++) {
      const m = (await t.ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [a.VolumeId!] }))).VolumesModifications![0]!;
      if (m.ModificationState === 'completed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const grown = (await t.ec2.send(new DescribeVolumesCommand({ VolumeIds: [a.VolumeId!] }))).Volumes![0]!;
    assert.deepEqual([grown.Size, grown.VolumeType], [4, 'gp3']);
    assert.equal((await t.s.services.backends.storage.list()).volumes.find((v) => v.volumeId === a.VolumeId)!.sizeGiB, 4, 'the disk grew');
    const gp3 = (await t.ec2.send(new DescribeVolumesCommand({ VolumeIds: [b.VolumeId!] }))).Volumes![0]!;
    assert.equal(gp3.Iops, 4000);
    assert.equal(gp3.Throughput, 250);
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await t.ec2.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken: token }));
      seen.push(...page.Volumes!.map((v) => v.VolumeId!));
      token = page.NextToken;
    } while (token);
    assert.deepEqual(seen.sort(), [...ids].sort());
    assert.equal(await code(t.ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-0123456789abcdef0'] }))), 'InvalidVolume.NotFound');
    for (const id of ids.slice(1)) await t.ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
    await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: ids.slice(1) });
    const left = (await t.s.services.backends.storage.list()).volumes.map((v) => v.volumeId);
    assert.ok(!left.includes(b.VolumeId!) && left.includes(a.VolumeId!), 'only the deleted disks are gone');
  });

  it('attaches (attaching -> attached, in-use), refuses AWS-wise, detaches and deletes', async () => {
    const other = zone.replace(/.$/, (l) => (l === 'a' ? 'b' : 'a'));
    const [v, far] = await Promise.all([
      t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 })),
      t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: other, Size: 1 })),
    ]);
    const v2 = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!, far.VolumeId!, v2.VolumeId!] });
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: far.VolumeId, InstanceId: instanceId, Device: '/dev/sdf' }))), 'InvalidVolume.ZoneMismatch');
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: instanceId, Device: 'sdf' }))), 'InvalidParameterValue');
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: 'i-0123456789abcdef0', Device: '/dev/sdf' }))), 'InvalidInstanceID.NotFound');

    const att = await t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: instanceId, Device: '/dev/sdf' }));
    assert.equal(att.State, 'attaching');
    await waitUntilVolumeInUse(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: v2.VolumeId, InstanceId: instanceId, Device: '/dev/xvdf' }))), 'InvalidParameterValue', 'xvdf is sdf');
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: instanceId, Device: '/dev/sdg' }))), 'VolumeInUse');
    assert.equal(await code(t.ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId }))), 'VolumeInUse');
    const shown = (await t.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }] }))).Volumes!;
    assert.deepEqual(shown.map((x) => x.VolumeId), [v.VolumeId]);
    assert.equal(shown[0]!.State, 'in-use');
    assert.equal(shown[0]!.Attachments![0]!.State, 'attached');
    assert.equal(shown[0]!.Attachments![0]!.Device, '/dev/sdf');
    assert.equal(shown[0]!.Attachments![0]!.DeleteOnTermination, false);
    const byStatus = (await t.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.status', Values: ['attached'] }] }))).Volumes!;
    assert.deepEqual(byStatus.map((x) => x.VolumeId), [v.VolumeId]);

    assert.equal(await code(t.ec2.send(new DetachVolumeCommand({ VolumeId: v2.VolumeId }))), 'IncorrectState');
    assert.equal(await code(t.ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: 'i-0123456789abcdef0' }))), 'InvalidAttachment.NotFound');
    const det = await t.ec2.send(new DetachVolumeCommand({ VolumeId: v.VolumeId }));
    assert.equal(det.State, 'detaching');
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    assert.equal((await t.ec2.send(new DescribeVolumesCommand({ VolumeIds: [v.VolumeId!] }))).Volumes![0]!.Attachments!.length, 0);
    for (const id of [v.VolumeId!, far.VolumeId!, v2.VolumeId!]) await t.ec2.send(new DeleteVolumeCommand({ VolumeId: id }));
    await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: [v.VolumeId!, far.VolumeId!, v2.VolumeId!] });
  });

  it('snapshots (pending -> completed), restores into a volume at least its size, lists by owner, deletes', async () => {
    const v = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 3 }));
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    const snap = await t.ec2.send(new CreateSnapshotCommand({ VolumeId: v.VolumeId, Description: 'before',
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'k', Value: 'v' }] }] }));
    assert.equal(snap.State, 'pending');
    assert.equal(snap.VolumeSize, 3);
    await waitUntilSnapshotCompleted(fast(t.ec2), { SnapshotIds: [snap.SnapshotId!] });
    const listed = (await t.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots!;
    assert.deepEqual(listed.map((x) => [x.SnapshotId, x.Progress, x.Description]), [[snap.SnapshotId, '100%', 'before']]);
    assert.equal((await t.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['999999999999'] }))).Snapshots!.length, 0);
    assert.equal((await t.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:k', Values: ['v'] }] }))).Snapshots!.length, 1);

    assert.equal(await code(t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snap.SnapshotId, Size: 2 }))), 'InvalidParameterValue');
    const r = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snap.SnapshotId }));
    assert.equal(r.Size, 3);
    assert.equal(r.SnapshotId, snap.SnapshotId);
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [r.VolumeId!] });
    const bySnap = (await t.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'snapshot-id', Values: [snap.SnapshotId!] }] }))).Volumes!;
    assert.deepEqual(bySnap.map((x) => x.VolumeId), [r.VolumeId]);

    assert.equal(await code(t.ec2.send(new CopySnapshotCommand({ SourceRegion: 'eu-west-1', SourceSnapshotId: snap.SnapshotId }))), 'UnsupportedOperation');
    const copy = await t.ec2.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: snap.SnapshotId }));
    assert.notEqual(copy.SnapshotId, snap.SnapshotId);
    await waitUntilSnapshotCompleted(fast(t.ec2), { SnapshotIds: [copy.SnapshotId!] });
    const copied = (await t.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [copy.SnapshotId!] }))).Snapshots![0]!;
    assert.deepEqual([copied.VolumeSize, copied.VolumeId], [3, v.VolumeId]);
    assert.ok((await t.s.services.backends.storage.list()).snapshots.some((x) => x.snapshotId === copy.SnapshotId), 'the copy is a disk of its own');
    await t.ec2.send(new DeleteSnapshotCommand({ SnapshotId: copy.SnapshotId }));
    // The snapshot outlives its volume.
    await t.ec2.send(new DeleteVolumeCommand({ VolumeId: v.VolumeId }));
    await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    assert.equal((await t.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap.SnapshotId!] }))).Snapshots![0]!.State, 'completed');
    await t.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap.SnapshotId }));
    assert.equal(await code(t.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap.SnapshotId!] }))), 'InvalidSnapshot.NotFound');
    await t.ec2.send(new DeleteVolumeCommand({ VolumeId: r.VolumeId }));
  });

  it('shows attachments as block device mappings; DeleteOnTermination is kept, changed and acted on at terminate', async () => {
    const v = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    const gone = await t.ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }));
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!, gone.VolumeId!] });
    await t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: instanceId, Device: '/dev/sdh' }));
    await t.ec2.send(new AttachVolumeCommand({ VolumeId: gone.VolumeId, InstanceId: instanceId, Device: '/dev/sdi' }));
    await waitUntilVolumeInUse(fast(t.ec2), { VolumeIds: [v.VolumeId!, gone.VolumeId!] });
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, BlockDeviceMappings: [{ DeviceName: '/dev/sdi', Ebs: { DeleteOnTermination: true } }] }));
    assert.equal(await code(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, BlockDeviceMappings: [{ DeviceName: '/dev/sdz', Ebs: { DeleteOnTermination: true } }] }))), 'InvalidInstanceAttributeValue');
    const inst = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]!.Instances![0]!;
    assert.deepEqual(inst.BlockDeviceMappings!.map((m) => [m.DeviceName, m.Ebs!.VolumeId, m.Ebs!.DeleteOnTermination]), [
      ['/dev/sdh', v.VolumeId, false],
      ['/dev/sdi', gone.VolumeId, true],
    ]);
    const attr = await t.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'blockDeviceMapping' }));
    assert.deepEqual(attr.BlockDeviceMappings!.map((m) => m.Ebs!.VolumeId), [v.VolumeId, gone.VolumeId]);
    const byBdm = await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'block-device-mapping.volume-id', Values: [gone.VolumeId!] }] }));
    assert.deepEqual(byBdm.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)), [instanceId]);

    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: [gone.VolumeId!] });
    assert.equal(await code(t.ec2.send(new AttachVolumeCommand({ VolumeId: v.VolumeId, InstanceId: instanceId, Device: '/dev/sdh' }))), 'IncorrectInstanceState');
  });

  it('RunInstances BlockDeviceMappings: volumes made and attached at launch, deleted at terminate (DeleteOnTermination defaults to true)', async () => {
    const ami = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const launch = (BlockDeviceMappings: object[]) => t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1, BlockDeviceMappings }));
    assert.equal(await code(launch([{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 20 } }])), 'UnsupportedOperation', 'the root of a container is no EBS volume');
    assert.equal(await code(launch([{ DeviceName: '/dev/sdf', Ebs: { VolumeSize: 5, VolumeType: 'st1' } }])), 'InvalidParameterValue');
    assert.equal(await code(launch([{ DeviceName: 'sdf', Ebs: { VolumeSize: 5 } }])), 'InvalidParameterValue');
    const inst = (await launch([
      { DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true } },
      { DeviceName: '/dev/sdf', Ebs: { VolumeSize: 2, VolumeType: 'gp3' } },
      { DeviceName: '/dev/sdg', Ebs: { VolumeSize: 1, DeleteOnTermination: false } },
    ])).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning(fast(t.ec2), { InstanceIds: [inst] });
    const shown = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!.BlockDeviceMappings!;
    assert.deepEqual(shown.map((m) => [m.DeviceName, m.Ebs!.Status, m.Ebs!.DeleteOnTermination]), [['/dev/sdf', 'attached', true], ['/dev/sdg', 'attached', false]]);
    const vols = (await t.ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst] }] }))).Volumes!;
    const sdf = vols.find((v) => v.Attachments![0]!.Device === '/dev/sdf')!;
    const sdg = vols.find((v) => v.Attachments![0]!.Device === '/dev/sdg')!;
    assert.equal(sdf.Size, 2);
    assert.equal(sdf.VolumeType, 'gp3');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst] }));
    await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: [sdf.VolumeId!] });
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [sdg.VolumeId!] });
  });

  it('reconciles what a crash left: a volume recorded creating is made, a disk no record knows is removed, a deleting one finishes', async () => {
    const storage = t.s.services.backends.storage;
    const db = new pg.Client({ connectionString: t.s.databaseUrl });
    await db.connect();
    try {
      const [creating, deleting, orphan] = ['vol-0000000000000000c', 'vol-0000000000000000d', 'vol-0000000000000000e'];
      // As a server killed between writing the record and the host work (or between the host work and the record) leaves them.
      await db.query(`INSERT INTO volumes (id, account_id, availability_zone, size_gib, volume_type, state, updated_at)
        VALUES ($1, '000000000000', $3, 1, 'gp2', 'creating', now() - interval '1 minute'),
               ($2, '000000000000', $3, 1, 'gp2', 'deleting', now() - interval '1 minute')`, [creating, deleting, zone]);
      await storage.createVolume(deleting, 1);
      await storage.createVolume(orphan, 1);
      await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [creating] });
      await waitUntilVolumeDeleted(fast(t.ec2), { VolumeIds: [deleting] });
      for (let i = 0; i < 50 && (await storage.list()).volumes.some((v) => v.volumeId === orphan); i++) await new Promise((r) => setTimeout(r, 200));
      const disks = (await storage.list()).volumes.map((v) => v.volumeId);
      assert.ok(disks.includes(creating), 'the interrupted create was finished');
      assert.ok(!disks.includes(deleting), 'the interrupted delete was finished');
      assert.ok(!disks.includes(orphan), 'the disk no record knows was removed');
    } finally {
      await db.end();
    }
  });

  it('removes an image disk once its image is deregistered, and one whose fill a crash interrupted', async () => {
    const storage = t.s.services.backends.storage;
    const ami = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const source = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning(fast(t.ec2), { InstanceIds: [source] });
    const made = await t.ec2.send(new CreateImageCommand({ InstanceId: source, Name: `disk-test-${Date.now()}`, NoReboot: true }));
    const img = made.ImageId!;
    const unfilled = 'ami-0000000000000000f'; // no image record: an interrupted fill of an image gone since
    await storage.createImage(img, 1);
    await storage.completeImage(img);
    await storage.createImage(unfilled, 1);
    const has = async (id: string) => (await storage.list()).images.some((i) => i.imageId === id);
    for (let i = 0; i < 50 && (await has(unfilled)); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(!(await has(unfilled)), 'the unfilled image disk was removed');
    assert.ok(await has(img), 'the disk of a registered image stays');
    await t.ec2.send(new DeregisterImageCommand({ ImageId: img }));
    for (let i = 0; i < 50 && (await has(img)); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok(!(await has(img)), 'the deregistered image\'s disk was removed');
  });
});
