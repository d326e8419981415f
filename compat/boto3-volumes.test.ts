/**
 * boto3 driving EBS (compat/python/volumes.py) against the server with the noop backends: its waiters
 * (volume_available, volume_in_use, snapshot_completed, volume_deleted), paginators and the ClientError codes a
 * user catches. Skipped when python3 cannot import boto3 (PYTHON names another interpreter).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DescribeImagesCommand, RunInstancesCommand, waitUntilInstanceRunning } from '@aws-sdk/client-ec2';
import { useTestServer } from '../test/support/use-server.js';
import { awsClientEnv, runs, needClient } from './support.js';

const PYTHON = process.env.PYTHON ?? 'python3';
const DIR = fileURLToPath(new URL('./python/', import.meta.url));

describe('compat: Python boto3, EBS volumes and snapshots', function () {
  this.timeout(120_000);

  const t = useTestServer({ requires: (ctx) => needClient(ctx, 'boto3', PYTHON, ['-c', 'import boto3']) });

  it('creates, waits, attaches, snapshots, pages, restores and deletes as boto3 users do', async () => {
    const { ec2 } = t;
    const ami = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId;
    const inst = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    await waitUntilInstanceRunning({ client: ec2, minDelay: 1, maxWaitTime: 60 }, { InstanceIds: [inst.InstanceId!] });
    const r = await execa(PYTHON, ['volumes.py', t.url], {
      cwd: DIR, env: awsClientEnv({ PYTHONDONTWRITEBYTECODE: '1' }), extendEnv: false, reject: false, timeout: 90_000,
      input: JSON.stringify({ zone: inst.Placement!.AvailabilityZone, instanceId: inst.InstanceId }),
    });
    assert.equal(r.exitCode, 0, `volumes.py exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
    const out = JSON.parse(String(r.stdout));
    assert.equal(out.badSize.code, 'InvalidParameterValue');
    assert.equal(out.badSize.status, 400);
    assert.equal(out.noIops.code, 'MissingParameter');
    assert.deepEqual(out.created, { State: 'creating', Size: 2, VolumeType: 'gp3', Iops: 3000, Throughput: 125, Encrypted: false });
    assert.equal(out.deleteInUse.code, 'VolumeInUse');
    assert.deepEqual(out.snapshots, [out.snapshotId]);
    assert.deepEqual(out.tagged, [out.volumeId]);
    assert.equal(out.restoredSize, 2);
  });
});
