/**
 * The real AWS CLI (`aws ec2 ...`) driving EBS against the server with the noop backends: volumes, attachments,
 * snapshots of one volume and of an instance (create-snapshots), sharing (createVolumePermission) and the errors
 * a user sees. Skipped when no `aws` is installed (AWS_CLI names another binary).
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { DescribeImagesCommand, RunInstancesCommand, waitUntilInstanceRunning } from '@aws-sdk/client-ec2';
import { useTestServer } from '../test/support/use-server.js';
import { awsClientEnv, runs, needClient } from './support.js';

const AWS = process.env.AWS_CLI ?? 'aws';

describe('compat: AWS CLI, EBS volumes and snapshots', function () {
  this.timeout(180_000);

  const t = useTestServer({ requires: (ctx) => needClient(ctx, 'aws-cli', AWS, ['--version']) });

  async function aws(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; json: any }> {
    const r = await execa(AWS, ['ec2', ...args, '--endpoint-url', t.url, '--output', 'json'], {
      env: awsClientEnv({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_DEFAULT_REGION: 'us-east-1' }),
      extendEnv: false, reject: false, timeout: 60_000,
    });
    const stdout = String(r.stdout);
    return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr), json: stdout.trim() ? JSON.parse(stdout) : undefined };
  }
  async function ok(args: string[]): Promise<any> {
    const r = await aws(args);
    assert.equal(r.exitCode, 0, `aws ec2 ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
    return r.json;
  }
  async function fails(args: string[], code: string): Promise<void> {
    const r = await aws(args);
    assert.ok([254, 255].includes(r.exitCode), `aws ec2 ${args.join(' ')}: exit code ${r.exitCode}; stderr: ${r.stderr}`);
    assert.ok(r.stderr.includes(`(${code})`), `expected (${code}); stderr: ${r.stderr}`);
  }
  /** Polls a describe until `done` holds (the CLI's own waiters wait 15 s between polls). */
  async function until(args: string[], done: (json: any) => boolean): Promise<any> {
    for (let i = 0; i < 60; i++) {
      const j = await ok(args);
      if (done(j)) return j;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`aws ec2 ${args.join(' ')}: not done in time`);
  }

  it('creates, attaches, snapshots (one volume and an instance), shares, restores, detaches and deletes', async () => {
    const { ec2 } = t;
    const ami = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const inst = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    await waitUntilInstanceRunning({ client: ec2, minDelay: 1, maxWaitTime: 60 }, { InstanceIds: [inst.InstanceId!] });
    const zone = inst.Placement!.AvailabilityZone!;
    const instanceId = inst.InstanceId!;

    await fails(['create-volume', '--availability-zone', zone, '--size', '20000'], 'InvalidParameterValue');
    await fails(['create-volume', '--availability-zone', zone, '--size', '1', '--dry-run'], 'DryRunOperation');
    const vol = await ok(['create-volume', '--availability-zone', zone, '--size', '2', '--volume-type', 'gp3',
      '--tag-specifications', 'ResourceType=volume,Tags=[{Key=Name,Value=cli-data}]']);
    assert.deepEqual([vol.State, vol.Size, vol.VolumeType, vol.Iops, vol.Encrypted], ['creating', 2, 'gp3', 3000, false]);
    await until(['describe-volumes', '--volume-ids', vol.VolumeId], (j) => j.Volumes[0].State === 'available');
    const filtered = await ok(['describe-volumes', '--filters', 'Name=tag:Name,Values=cli-data', 'Name=status,Values=available']);
    assert.deepEqual(filtered.Volumes.map((v: any) => v.VolumeId), [vol.VolumeId]);

    const att = await ok(['attach-volume', '--volume-id', vol.VolumeId, '--instance-id', instanceId, '--device', '/dev/sdf']);
    assert.deepEqual([att.State, att.Device, att.InstanceId], ['attaching', '/dev/sdf', instanceId]);
    await until(['describe-volumes', '--volume-ids', vol.VolumeId], (j) => j.Volumes[0].Attachments[0]?.State === 'attached');
    await fails(['delete-volume', '--volume-id', vol.VolumeId], 'VolumeInUse');

    const snap = await ok(['create-snapshot', '--volume-id', vol.VolumeId, '--description', 'cli snap']);
    assert.deepEqual([snap.State, snap.VolumeSize, snap.Description], ['pending', 2, 'cli snap']);
    const set = await ok(['create-snapshots', '--instance-specification', `InstanceId=${instanceId}`, '--copy-tags-from-source', 'volume']);
    assert.equal(set.Snapshots.length, 1);
    assert.deepEqual([set.Snapshots[0].VolumeId, set.Snapshots[0].Tags], [vol.VolumeId, [{ Key: 'Name', Value: 'cli-data' }]]);
    const ids = [snap.SnapshotId, set.Snapshots[0].SnapshotId];
    await until(['describe-snapshots', '--snapshot-ids', ...ids], (j) => j.Snapshots.every((x: any) => x.State === 'completed'));
    const mine = await ok(['describe-snapshots', '--owner-ids', 'self']);
    assert.deepEqual(mine.Snapshots.map((x: any) => x.SnapshotId).sort(), [...ids].sort());

    await ok(['modify-snapshot-attribute', '--snapshot-id', snap.SnapshotId, '--attribute', 'createVolumePermission', '--operation-type', 'add', '--user-ids', '111111111111']);
    const attr = await ok(['describe-snapshot-attribute', '--snapshot-id', snap.SnapshotId, '--attribute', 'createVolumePermission']);
    assert.deepEqual(attr, { SnapshotId: snap.SnapshotId, CreateVolumePermissions: [{ UserId: '111111111111' }] });
    const shared = await ok(['describe-snapshots', '--restorable-by-user-ids', '111111111111']);
    assert.deepEqual(shared.Snapshots.map((x: any) => x.SnapshotId), [snap.SnapshotId]);
    await ok(['reset-snapshot-attribute', '--snapshot-id', snap.SnapshotId, '--attribute', 'createVolumePermission']);
    assert.deepEqual((await ok(['describe-snapshot-attribute', '--snapshot-id', snap.SnapshotId, '--attribute', 'createVolumePermission'])).CreateVolumePermissions, []);

    const copy = await ok(['copy-snapshot', '--source-region', 'us-east-1', '--source-snapshot-id', snap.SnapshotId, '--description', 'cli copy']);
    await until(['describe-snapshots', '--snapshot-ids', copy.SnapshotId], (j) => j.Snapshots[0].State === 'completed');
    const restored = await ok(['create-volume', '--availability-zone', zone, '--snapshot-id', copy.SnapshotId]);
    assert.deepEqual([restored.Size, restored.SnapshotId], [2, copy.SnapshotId]);
    await until(['describe-volumes', '--volume-ids', restored.VolumeId], (j) => j.Volumes[0].State === 'available');

    const det = await ok(['detach-volume', '--volume-id', vol.VolumeId]);
    assert.equal(det.State, 'detaching');
    await until(['describe-volumes', '--volume-ids', vol.VolumeId], (j) => j.Volumes[0].State === 'available');
    for (const v of [vol.VolumeId, restored.VolumeId]) await ok(['delete-volume', '--volume-id', v]);
    for (const id of [...ids, copy.SnapshotId]) await ok(['delete-snapshot', '--snapshot-id', id]);
    await fails(['describe-snapshots', '--snapshot-ids', snap.SnapshotId], 'InvalidSnapshot.NotFound');
    assert.deepEqual((await ok(['describe-snapshots', '--owner-ids', 'self'])).Snapshots, []);
  });
});
