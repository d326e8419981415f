/**
 * Terraform's AWS provider (from the machine's local mirror) against the server with real Docker instances:
 * an aws_key_pair and two aws_instance resources apply, a second plan shows no diff, destroy is clean.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DescribeInstancesCommand, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { needBackend } from '../test/support/backends.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { generateKey } from '../src/services/key-pairs/crypto.js';
import { needTerraform, TerraformWorkspace } from './terraform-workspace.js';

describe('compat: Terraform aws_key_pair + aws_instance', function () {
  this.timeout(600_000);
  let s: TestServer;
  let tf: TerraformWorkspace;

  before(async function () {
    await needTerraform(this);
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    s = await startTestServer({ COMPUTE_BACKEND: 'docker' });
    tf = new TerraformWorkspace(join(import.meta.dirname, 'terraform', 'main.tf'), { endpoint: s.url, public_key: generateKey('ed25519', 'tf').publicKeyOpenSsh });
    const init = await tf.init();
    assert.equal(init.exitCode, 0, init.output);
  });

  after(async () => {
    if (tf && s) await tf.destroy();
    await s?.close();
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

    const plan = await tf.plan();
    assert.equal(plan.exitCode, 0, 'no changes on a second plan:\n' + plan.output);

    const destroy = await tf.destroy();
    assert.equal(destroy.exitCode, 0, destroy.output);
    assert.equal(tf.managedResources(), 0);
    for (const id of ids) await assert.rejects(new Docker().getContainer(id).inspect(), /404|no such container/i, `container ${id} removed`);
  });
});
