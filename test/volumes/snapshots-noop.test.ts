/**
 * Snapshots through the JS SDK against the noop backends (EC2 semantics, no host): CreateSnapshots of an
 * instance's volumes, and the sharing rules of createVolumePermission between two accounts.
 */
import assert from 'node:assert/strict';
import {
  AttachVolumeCommand,
  CreateSnapshotsCommand,
  CreateVolumeCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  RunInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
  waitUntilVolumeInUse,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { startTestServer, type TestServer } from '../support/server.js';
import { sdk } from '../support/clients.js';
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
  let s: TestServer;
  let ec2: EC2Client;
  let zone: string;
  let instanceId: string;
  let storage: NoopStorageBackend;
  before(async () => {
    s = await startTestServer();
    ec2 = sdk(s.url);
    storage = s.services.backends.storage as NoopStorageBackend;
    const ami = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const inst = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    instanceId = inst.InstanceId!;
    zone = inst.Placement!.AvailabilityZone!;
    await waitUntilInstanceRunning(fast(ec2), { InstanceIds: [instanceId] });
  });
  after(async () => s?.close());

  async function volume(size: number, tags: Array<{ Key: string; Value: string }> = []): Promise<string> {
    const v = await ec2.send(new CreateVolumeCommand({
      AvailabilityZone: zone, Size: size, ...(tags.length ? { TagSpecifications: [{ ResourceType: 'volume', Tags: tags }] } : {}),
    }));
    await waitUntilVolumeAvailable(fast(ec2), { VolumeIds: [v.VolumeId!] });
    return v.VolumeId!;
  }

  it('CreateSnapshots: every attached volume at one point in time, tags copied and given, exclusions; AWS errors', async () => {
    const a = await volume(1, [{ Key: 'Name', Value: 'a' }, { Key: 'team', Value: 'x' }]);
    const b = await volume(2, [{ Key: 'Name', Value: 'b' }]);
    const c = await volume(3);
    for (const [v, d] of [[a, '/dev/sdf'], [b, '/dev/sdg'], [c, '/dev/xvdh']] as const) {
      await ec2.send(new AttachVolumeCommand({ VolumeId: v, InstanceId: instanceId, Device: d }));
    }
    await waitUntilVolumeInUse(fast(ec2), { VolumeIds: [a, b, c] });
    storage.writeContent(a, 'a-1');
    storage.writeContent(b, 'b-1');

    assert.equal(await code(ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-nope' } }))), 'InvalidInstanceID.Malformed');
    assert.equal(await code(ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: 'i-0123456789abcdef0' } }))), 'InvalidInstanceID.NotFound');
    assert.equal(await code(ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId }, CopyTagsFromSource: 'instance' as 'volume' }))), 'InvalidParameterValue');
    assert.equal(await code(ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId }, DryRun: true }))), 'DryRunOperation');

    const r = await ec2.send(new CreateSnapshotsCommand({
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
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: snaps.map((x) => x.SnapshotId!) });
    const described = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapOf(a).SnapshotId!] }))).Snapshots![0]!;
    assert.deepEqual(tags(described), { Name: 'set', team: 'x' });
    assert.equal(storage.contentOf(snapOf(a).SnapshotId!), 'a-1');
    assert.equal(storage.contentOf(snapOf(b).SnapshotId!), 'b-1');

    // Without exclusions: all three.
    const all = await ec2.send(new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: instanceId } }));
    assert.deepEqual(all.Snapshots!.map((x) => x.VolumeId).sort(), [a, b, c].sort());
    await waitUntilSnapshotCompleted(fast(ec2), { SnapshotIds: all.Snapshots!.map((x) => x.SnapshotId!) });
  });
});
