/**
 * Snapshots through the JS SDK against the noop backends (EC2 semantics, no host): CreateSnapshots of an
 * instance's volumes, and the sharing rules of createVolumePermission between two accounts.
 */
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateSnapshotsCommand,
  CreateVolumeCommand,
  CreateSnapshotCommand,
  CopySnapshotCommand,
  DeleteSnapshotCommand,
  DescribeSnapshotAttributeCommand,
  ModifySnapshotAttributeCommand,
  ResetSnapshotAttributeCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  RunInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  waitUntilVolumeInUse,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { SECOND_ACCOUNT } from '../support/server.js';
import { useTestServer } from '../support/use-server.js';
import type { NoopStorageBackend } from '../../src/adapters/noop/storage.js';

const fast = (client: EC2Client) => ({ client, minDelay: 1, maxDelay: 1, maxWaitTime: 60 });

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { name: string }).name;
  }
  return 'no error';
}

describe('EBS snapshots: CreateSnapshots and sharing (noop backends)', function () {
  this.timeout(120_000);
  let zone: string;
  let instanceId: string;
  let storage: NoopStorageBackend;
  const t = useTestServer();
  before(async () => {
    storage = t.s.services.backends.storage as NoopStorageBackend;
    const ami = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    instanceId = inst.InstanceId!;
    zone = inst.Placement!.AvailabilityZone!;
    await waitUntilInstanceRunning(fast(t.ec2), { InstanceIds: [instanceId] });
  });

  async function volume(size: number, tags: Array<{ Key: string; Value: string }> = []): Promise<string> {
    const v = await t.ec2.send(new CreateVolumeCommand({
      AvailabilityZone: zone, Size: size, ...(tags.length ? { TagSpecifications: [{ ResourceType: 'volume', Tags: tags }] } : {}),
    }));
    await waitUntilVolumeAvailable(fast(t.ec2), { VolumeIds: [v.VolumeId!] });
    return v.VolumeId!;
  }

  it('CreateSnapshots: every attached volume at one point in time, tags copied and given, exclusions; AWS errors', async () => {
    const a = await volume(1, [{ Key: 'Name', Value: 'a' }, { Key: 'team', Value: 'x' }]);
    const b = await volume(2, [{ Key: 'Name', Value: 'b' }]);
    const c = await volume(3);
    for (const [v, d] of [[a, '/dev/sdf'], [b, '/dev/sdg'], [c, '/dev/xvdh']] as const) {
      await t.ec2.send(new AttachVolumeCommand({ VolumeId: v, InstanceId: instanceId, Device: d }));
    }
    await waitUntilVolumeInUse(fast(t.ec2), { VolumeIds: [a, b, c] });
    storage.writeContent(a, 'a-1');
    storage.writeContent(b, 'b-1');

    assert.equal(await code(t.ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-nope' } }))), 'InvalidInstanceID.Malformed');
    assert.equal(await code(t.ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-0123456789abcdef0' } }))), 'InvalidInstanceID.NotFound');
    assert.equal(await code(t.ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId }, CopyTagsFromSource: 'instance' as 'volume' }))), 'InvalidParameterValue');
    assert.equal(await code(t.ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId }, DryRun: true }))), 'DryRunOperation');

    const r = await t.ec2.send(new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: true, ExcludeDataVolumeIds: [c] },
      Description: 'both', CopyTagsFromSource: 'volume',
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'Name', Value: 'set' }] }],
    }));
    const snaps = r.Snapshots!;
    assert.deepEqual(snaps.map((x) => x.VolumeId).sort(), [a, b].sort(), 'the excluded data volume is not snapshotted');
    for (const x of snaps) {
      assert.equal(x.State, 'pending');
      assert.equal(x.Description, 'both');
      assert.equal(x.OwnerId, '000000000000');
    }
    const snapOf = (v: string) => snaps.find((x) => x.VolumeId === v)!;
    assert.equal(snapOf(a).VolumeSize, 1);
    assert.equal(snapOf(b).VolumeSize, 2);
    const tags = (x: { Tags?: Array<{ Key?: string; Value?: string }> }) => Object.fromEntries((x.Tags ?? []).map((t) => [t.Key, t.Value]));
    assert.deepEqual(tags(snapOf(a)), { Name: 'set', team: 'x' }, 'the volume tags are copied; a given tag wins');
    await waitUntilSnapshotCompleted(fast(t.ec2), { SnapshotIds: snaps.map((x) => x.SnapshotId!) });
    const described = (await t.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapOf(a).SnapshotId!] }))).Snapshots![0]!;
    assert.deepEqual(tags(described), { Name: 'set', team: 'x' });
    assert.equal(storage.contentOf(snapOf(a).SnapshotId!), 'a-1');
    assert.equal(storage.contentOf(snapOf(b).SnapshotId!), 'b-1');

    // Without exclusions: all three.
    const all = await t.ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId } }));
    assert.deepEqual(all.Snapshots!.map((x) => x.VolumeId).sort(), [a, b, c].sort());
    await waitUntilSnapshotCompleted(fast(t.ec2), { SnapshotIds: all.Snapshots!.map((x) => x.SnapshotId!) });
  });

  it('createVolumePermission: another account sees, restores and copies a snapshot only when permitted; only the owner changes it', async () => {
    const other = t.other;
    const third = '222222222222';
    const v = await volume(2);
    const snap = (await t.ec2.send(new CreateSnapshotCommand({ VolumeId: v, Description: 'shared' }))).SnapshotId!;
    await waitUntilSnapshotCompleted(fast(t.ec2), { SnapshotIds: [snap] });
    const attr = async () => (await t.ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))).CreateVolumePermissions;
    const ids = async (client: EC2Client, p: Record<string, unknown>) => ((await client.send(new DescribeSnapshotsCommand(p))).Snapshots ?? []).map((x) => x.SnapshotId);
    const restore = (client: EC2Client) => client.send(new CreateVolumeCommand({ AvailabilityZone: zone, SnapshotId: snap }));

    // Private: for the other account it does not exist.
    assert.deepEqual(await attr(), []);
    assert.deepEqual((await t.ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'productCodes' }))).ProductCodes, []);
    assert.equal(await code(other.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))), 'InvalidSnapshot.NotFound');
    assert.ok(!(await ids(other, {})).includes(snap));
    assert.equal(await code(restore(other)), 'InvalidSnapshot.NotFound');
    assert.equal(await code(other.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: snap }))), 'InvalidSnapshot.NotFound');
    assert.equal(await code(other.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [SECOND_ACCOUNT.accountId] }))), 'InvalidSnapshot.NotFound');

    // Bad requests change nothing.
    const modify = (p: Record<string, unknown>) => code(t.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, ...p })));
    assert.equal(await modify({ Attribute: 'createVolumePermission', OperationType: 'add', UserIds: ['12'] }), 'InvalidParameterValue');
    assert.equal(await modify({ Attribute: 'createVolumePermission', OperationType: 'add', GroupNames: ['everyone'] }), 'InvalidParameterValue');
    assert.equal(await modify({ Attribute: 'createVolumePermission', OperationType: 'share', UserIds: [third] }), 'InvalidParameterValue');
    assert.equal(await modify({ Attribute: 'productCodes', OperationType: 'add', UserIds: [third] }), 'InvalidParameterValue');
    assert.equal(await modify({}), 'MissingParameter');
    assert.equal(await modify({ Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [third], DryRun: true }), 'DryRunOperation');
    assert.deepEqual(await attr(), []);

    // Shared with the second account (the flat form) and a third (the typed form).
    await t.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission', OperationType: 'add', UserIds: [SECOND_ACCOUNT.accountId] }));
    await t.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Add: [{ UserId: third }] } }));
    assert.deepEqual(await attr(), [{ UserId: SECOND_ACCOUNT.accountId }, { UserId: third }]);
    const seen = (await other.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots![0]!;
    assert.deepEqual([seen.OwnerId, seen.Description, seen.VolumeSize], ['000000000000', 'shared', 2]);
    assert.deepEqual(await ids(other, { RestorableByUserIds: ['self'] }), [snap]);
    assert.deepEqual(await ids(other, { OwnerIds: ['000000000000'] }), [snap]);
    assert.deepEqual(await ids(other, { OwnerIds: ['self'] }), []);
    assert.deepEqual(await ids(t.ec2, { RestorableByUserIds: [SECOND_ACCOUNT.accountId] }), [snap], 'the owner asks who may restore its snapshots');
    assert.deepEqual(await ids(t.ec2, { RestorableByUserIds: ['333333333333'] }), []);
    assert.deepEqual(await ids(t.ec2, { RestorableByUserIds: ['all'] }), []);
    assert.equal(await code(t.ec2.send(new DescribeSnapshotsCommand({ RestorableByUserIds: ['nobody'] }))), 'InvalidUserID.Malformed');
    // Only the owner reads or changes who it is shared with.
    assert.equal(await code(other.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))), 'AuthFailure');
    assert.equal(await code(other.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Add: [{ Group: 'all' }] } }))), 'AuthFailure');
    assert.equal(await code(other.send(new ResetSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))), 'AuthFailure');
    assert.equal(await code(other.send(new DeleteSnapshotCommand({ SnapshotId: snap }))), 'InvalidSnapshot.NotFound');

    // The other account restores it into a volume of its own, and copies it into a snapshot of its own.
    const mine = await restore(other);
    await waitUntilVolumeAvailable(fast(other), { VolumeIds: [mine.VolumeId!] });
    assert.equal(mine.SnapshotId, snap);
    assert.equal(await code(t.ec2.send(new DescribeVolumesCommand({ VolumeIds: [mine.VolumeId!] }))), 'InvalidVolume.NotFound', 'the volume is the restorer\'s');
    const copy = await other.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: snap }));
    await waitUntilSnapshotCompleted(fast(other), { SnapshotIds: [copy.SnapshotId!] });
    assert.deepEqual(await ids(other, { OwnerIds: ['self'] }), [copy.SnapshotId]);

    // Removed again: gone for the other account; public (group all): visible to all; reset: private.
    await t.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Remove: [{ UserId: SECOND_ACCOUNT.accountId }] } }));
    assert.deepEqual(await attr(), [{ UserId: third }]);
    assert.equal(await code(restore(other)), 'InvalidSnapshot.NotFound');
    await t.ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission', OperationType: 'add', GroupNames: ['all'] }));
    assert.deepEqual(await attr(), [{ Group: 'all' }, { UserId: third }]);
    assert.deepEqual(await ids(other, { RestorableByUserIds: ['all'] }), [snap]);
    assert.deepEqual(await ids(t.ec2, { RestorableByUserIds: ['333333333333'] }), [snap], 'a public snapshot is restorable by anyone');
    await t.ec2.send(new ResetSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }));
    assert.deepEqual(await attr(), []);
    assert.equal(await code(other.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))), 'InvalidSnapshot.NotFound');
    assert.equal(await code(t.ec2.send(new ResetSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'productCodes' }))), 'InvalidParameterValue');
    // The restored volume and the copy stay the other account's.
    assert.equal((await other.send(new DescribeVolumesCommand({ VolumeIds: [mine.VolumeId!] }))).Volumes![0]!.State, 'available');
  });
});
