/**
 * Terraform's AWS provider (from the machine's local mirror) against the server with real Docker instances and
 * real LVM: an aws_key_pair, two aws_instance resources, an aws_ebs_volume attached to one of them
 * (aws_volume_attachment) and an aws_ebs_snapshot apply, a second plan shows no diff, destroy is clean (no
 * container, no LV, no loop device left). Run under the host lock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import pg from 'pg';
import { testStorage } from '../test/support/storage.js';
import { needBackend } from '../test/support/backends.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { generateKey } from '../src/services/key-pairs/crypto.js';
import { needTerraform, TerraformWorkspace } from './terraform-workspace.js';

describe('compat: Terraform aws_key_pair + aws_instance + aws_ebs_volume/aws_volume_attachment/aws_ebs_snapshot', function () {
  this.timeout(600_000);
  let s: TestServer;
  let tf: TerraformWorkspace;
  let cloudId: string | undefined;

  before(async function () {
    await needTerraform(this);
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    await needBackend(this, 'lvm', () => testStorage().backend.probe());
    s = await startTestServer({ COMPUTE_BACKEND: 'docker', STORAGE_BACKEND: 'lvm' });
    const c = new pg.Client({ connectionString: s.databaseUrl });
    await c.connect();
    cloudId = (await c.query('SELECT id FROM installation')).rows[0].id as string;
    await c.end();
    tf = new TerraformWorkspace(join(import.meta.dirname, 'terraform', 'main.tf'), { endpoint: s.url, public_key: generateKey('ed25519', 'tf').publicKeyOpenSsh });
    const init = await tf.init();
    assert.equal(init.exitCode, 0, init.output);
  });

  after(async () => {
    if (tf && s) await tf.destroy();
    await s?.close();
    if (cloudId) await testStorage(cloudId).cleanup(); // whatever a failed run left of this installation
    tf?.remove();
  });

  it('applies, shows no diff on a second plan, and destroys cleanly', async () => {
    const apply = await tf.apply();
    assert.equal(apply.exitCode, 0, apply.output);
    const out = await tf.outputs();
    const ids = out.ids!.value as string[];
    assert.equal(ids.length, 2);
    for (const ip of out.private_ips!.value as string[]) assert.match(ip, /^172\.31\./);

    const ec2 = sdk(s.url);
    const d = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Team', Values: ['platform'] }] }));
    const running = d.Reservations!.flatMap((r) => r.Instances!).filter((i) => i.State?.Name === 'running');
    assert.equal(running.length, 2);
    const console0 = await ec2.send(new GetConsoleOutputCommand({ InstanceId: running.find((i) => i.Tags?.some((t) => t.Value === 'tf-web-0'))!.InstanceId }));
    assert.match(Buffer.from(console0.Output ?? '', 'base64').toString(), /terraform-web-0/);

    // The volume is attached (in-use) and its snapshot completed, with their tags.
    const vol = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [out.volume_id!.value as string] }))).Volumes![0]!;
    assert.deepEqual([vol.State, vol.Attachments?.[0]?.InstanceId, vol.Attachments?.[0]?.State], ['in-use', ids[0], 'attached']);
    const snap = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [out.snapshot_id!.value as string] }))).Snapshots![0]!;
    assert.deepEqual([snap.State, snap.VolumeId, snap.Tags?.find((t) => t.Key === 'Name')?.Value], ['completed', vol.VolumeId, 'tf-snap']);
    const storage = testStorage(cloudId!);
    const onHost = await storage.backend.list();
    assert.ok(onHost.volumes.some((v) => v.volumeId === vol.VolumeId) && onHost.snapshots.some((x) => x.snapshotId === snap.SnapshotId), 'the volume and snapshot are LVs');

    const plan = await tf.plan();
    assert.equal(plan.exitCode, 0, 'no changes on a second plan:\n' + plan.output);

    const destroy = await tf.destroy();
    assert.equal(destroy.exitCode, 0, destroy.output);
    assert.equal(tf.managedResources(), 0);
    for (const id of ids) await assert.rejects(new Docker().getContainer(id).inspect(), /404|no such container/i, `container ${id} removed`);
    const left = await storage.backend.list();
    assert.deepEqual([left.volumes, left.snapshots, left.exports], [[], [], []], 'no LV or export is left on the storage host');
    const loops = await execa('losetup', ['-n', '-O', 'BACK-FILE', '-l'], { reject: false });
    assert.ok(!loops.stdout.includes(vol.VolumeId!), `no loop device is left for ${vol.VolumeId}: ${loops.stdout}`);
  });
});
