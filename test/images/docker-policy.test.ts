/**
 * The image policy on the Docker backend, as a second account meets it: another account's captured image
 * (by its Docker name or id), a registry the operator did not allow, a Docker Hub image outside the allowed
 * patterns, a host file; all refused with AWS's codes, nothing pulled and `docker images` unchanged. Then the
 * way that works: the owner shares its capture (launch permission) and the second account launches it.
 */
import assert from 'node:assert/strict';
import {
  CreateImageCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilImageAvailable,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import Docker from 'dockerode';
import { needBackend } from '../support/backends.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { SECOND_ACCOUNT } from '../support/server.js';
import { useTestServer } from '../support/use-server.js';

const REGISTRY = process.env.THECLOUD_REGISTRY ?? '127.0.0.1:5000';
const registryProbe = async () => {
  const r = await fetch(`http://${REGISTRY}/v2/thecloud/busybox/manifests/latest`, {
    method: 'HEAD', headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  }).catch((e: Error) => ({ ok: false, status: e.message }));
  return { ok: r.ok, detail: `registry ${REGISTRY}: ${r.status} (run scripts/setup-registry.sh)` };
};

/** What `docker images` shows: every image id with its tags. */
async function dockerImages(docker: Docker): Promise<string[]> {
  return (await docker.listImages()).map((i) => `${i.Id} ${[...(i.RepoTags ?? [])].sort().join(',')}`).sort();
}

describe('image policy on Docker: what a second account may register', function () {
  this.timeout(240_000);
  const docker = new Docker();
  const wait = (client: EC2Client) => ({ client, maxWaitTime: 90, minDelay: 1, maxDelay: 2 });
  const instances: [EC2Client, string][] = [];
  let captured: string | undefined;

  // The default policy: Docker Hub's official images only (docker.io/library/*), no admin.
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: async (ctx) => {
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
      await needBackend(ctx, 'image registry', registryProbe);
    },
    beforeClose: async () => {
      for (const [ec2, id] of instances) {
        await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })).catch(() => undefined);
        await docker.getContainer(id).remove({ force: true }).catch(() => undefined);
      }
      if (captured) await t.ec2.send(new DeregisterImageCommand({ ImageId: captured })).catch(() => undefined);
    },
  });

  const launch = async (ec2: EC2Client, imageId: string) => {
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano' }))).Instances![0]!.InstanceId!;
    instances.push([ec2, id]);
    await waitUntilInstanceRunning(wait(ec2), { InstanceIds: [id] });
    return id;
  };
  const terminate = async (ec2: EC2Client, id: string) => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(wait(ec2), { InstanceIds: [id] });
  };
  const refused = (location: string, code: string, message: RegExp) =>
    assert.rejects(t.other.send(new RegisterImageCommand({ Name: `try-${Math.random().toString(36).slice(2, 8)}`, ImageLocation: location })), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, code, `${location}: ${e.message}`);
      assert.equal(e.$metadata?.httpStatusCode, 400);
      assert.match(e.message, message, location);
      return true;
    });

  it("refuses another account's capture, an unlisted registry and names outside the patterns; pulls nothing", async () => {
    const builtin = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!.ImageId!;
    const source = await launch(t.ec2, builtin);
    captured = (await t.ec2.send(new CreateImageCommand({ InstanceId: source, Name: 'owner-capture' }))).ImageId!;
    await waitUntilImageAvailable(wait(t.ec2), { ImageIds: [captured] });
    await terminate(t.ec2, source);
    const captureId = (await docker.getImage(`thecloud/ami:${captured}`).inspect()).Id;

    const pulled = `${REGISTRY}/thecloud/busybox:latest`;
    await docker.getImage(pulled).remove().catch((e: { statusCode?: number }) => { if (e.statusCode !== 404) throw e; });
    const before = await dockerImages(docker);

    await refused(`docker:thecloud/ami:${captured}`, 'AuthFailure', /Not authorized for image location/);
    await refused(`thecloud/ami:${captured}`, 'AuthFailure', /Not authorized/);
    await refused(`docker.io/thecloud/ami:${captured}`, 'AuthFailure', /Not authorized/);
    await refused(captureId, 'InvalidParameterValue', /not by image id/);
    await refused(`docker:${pulled}`, 'InvalidParameterValue', /parameter ImageLocation is invalid\. Docker images may be registered only from: docker\.io\/library\/\*/);
    await refused(`docker:${REGISTRY}/thecloud/not-there:1`, 'InvalidParameterValue', /only from/);
    await refused('docker:thecloud/busybox:latest', 'InvalidParameterValue', /only from/);
    await refused('/etc/shadow', 'InvalidParameterValue', /invalid Docker image reference/);
    // DryRun gives the same answer.
    await assert.rejects(t.other.send(new RegisterImageCommand({ Name: 'dry', ImageLocation: `docker:${pulled}`, DryRun: true })), { name: 'InvalidParameterValue' });

    assert.deepEqual(await dockerImages(docker), before, 'docker images unchanged');
    await assert.rejects(docker.getImage(pulled).inspect(), /404|no such image/i, 'nothing was pulled');
    assert.deepEqual((await t.other.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images, [], 'no image registered');
  });

  it('lets the owner share its capture: the second account then launches it, and no longer once revoked', async () => {
    assert.ok(captured);
    assert.equal(((await t.other.send(new DescribeImagesCommand({}))).Images ?? []).some((i) => i.ImageId === captured), false);
    await assert.rejects(t.other.send(new RunInstancesCommand({ ImageId: captured, MinCount: 1, MaxCount: 1 })), { name: 'AuthFailure' });

    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: captured, LaunchPermission: { Add: [{ UserId: SECOND_ACCOUNT.accountId }] } }));
    const seen = (await t.other.send(new DescribeImagesCommand({ ExecutableUsers: ['self'] }))).Images!.map((i) => i.ImageId);
    assert.deepEqual(seen, [captured]);
    const id = await launch(t.other, captured);
    assert.equal((await docker.getContainer(id).inspect()).Config.Image, `thecloud/ami:${captured}`, 'the container runs the shared capture');
    await terminate(t.other, id);

    await t.ec2.send(new ModifyImageAttributeCommand({ ImageId: captured, LaunchPermission: { Remove: [{ UserId: SECOND_ACCOUNT.accountId }] } }));
    await assert.rejects(t.other.send(new RunInstancesCommand({ ImageId: captured, MinCount: 1, MaxCount: 1 })), { name: 'AuthFailure' });
    await t.ec2.send(new DeregisterImageCommand({ ImageId: captured }));
    await assert.rejects(docker.getImage(`thecloud/ami:${captured}`).inspect(), /404|no such image/i, 'the capture goes with its image');
    captured = undefined;
  });
});
