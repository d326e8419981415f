/**
 * Terraform's AWS provider (from the machine's local mirror) against the server with real Docker instances:
 * an aws_key_pair and two aws_instance resources apply, a second plan shows no diff, destroy is clean.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { DescribeInstancesCommand, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { needBackend } from '../test/support/backends.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { generateKey } from '../src/services/key-pairs/crypto.js';

const MIRROR = '/opt/tf-plugins';

describe('compat: Terraform aws_key_pair + aws_instance', function () {
  this.timeout(600_000);
  let s: TestServer;
  let dir: string;
  let env: Record<string, string>;
  let vars: string[];

  before(async function () {
    await needBackend(this, 'terraform', async () => {
      const tf = await execa('terraform', ['version'], { reject: false });
      if (tf.exitCode !== 0) return { ok: false, detail: 'terraform is not on this machine' };
      return existsSync(MIRROR) ? { ok: true, detail: tf.stdout.split('\n')[0]! } : { ok: false, detail: `no provider mirror at ${MIRROR}` };
    });
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    s = await startTestServer({ COMPUTE_BACKEND: 'docker' });
    dir = mkdtempSync(join(tmpdir(), 'thecloud-tf-'));
    cpSync(join(import.meta.dirname, 'terraform', 'main.tf'), join(dir, 'main.tf'));
    writeFileSync(join(dir, 'terraformrc'), `provider_installation {\n  filesystem_mirror {\n    path = "${MIRROR}"\n    include = ["registry.terraform.io/*/*"]\n  }\n  direct { exclude = ["registry.terraform.io/*/*"] }\n}\n`);
    env = { TF_CLI_CONFIG_FILE: join(dir, 'terraformrc'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
    vars = ['-var', `endpoint=${s.url}`, '-var', `public_key=${generateKey('ed25519', 'tf').publicKeyOpenSsh}`];
    const init = await execa('terraform', ['init', '-input=false', '-no-color'], { cwd: dir, env, reject: false });
    assert.equal(init.exitCode, 0, init.stdout + init.stderr);
  });

  after(async () => {
    if (dir && s) await execa('terraform', ['destroy', '-auto-approve', '-input=false', '-no-color', ...vars], { cwd: dir, env, reject: false });
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies, shows no diff on a second plan, and destroys cleanly', async () => {
    const apply = await execa('terraform', ['apply', '-auto-approve', '-input=false', '-no-color', ...vars], { cwd: dir, env, reject: false });
    assert.equal(apply.exitCode, 0, apply.stdout + apply.stderr);
    const out = JSON.parse((await execa('terraform', ['output', '-json'], { cwd: dir, env })).stdout);
    const ids: string[] = out.ids.value;
    assert.equal(ids.length, 2);
    for (const ip of out.private_ips.value as string[]) assert.match(ip, /^172\.31\./);

    const ec2 = sdk(s.url);
    const d = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Team', Values: ['platform'] }] }));
    const running = d.Reservations!.flatMap((r) => r.Instances!).filter((i) => i.State?.Name === 'running');
    assert.equal(running.length, 2);
    const console0 = await ec2.send(new GetConsoleOutputCommand({ InstanceId: running.find((i) => i.Tags?.some((t) => t.Value === 'tf-web-0'))!.InstanceId }));
    assert.match(Buffer.from(console0.Output ?? '', 'base64').toString(), /terraform-web-0/);

    const plan = await execa('terraform', ['plan', '-detailed-exitcode', '-input=false', '-no-color', ...vars], { cwd: dir, env, reject: false });
    assert.equal(plan.exitCode, 0, 'no changes on a second plan:\n' + plan.stdout + plan.stderr);

    const destroy = await execa('terraform', ['destroy', '-auto-approve', '-input=false', '-no-color', ...vars], { cwd: dir, env, reject: false });
    assert.equal(destroy.exitCode, 0, destroy.stdout + destroy.stderr);
    const state = JSON.parse(readFileSync(join(dir, 'terraform.tfstate'), 'utf8'));
    assert.equal(state.resources.filter((r: { mode: string }) => r.mode === 'managed').length, 0);
    for (const id of ids) await assert.rejects(new Docker().getContainer(id).inspect(), /404|no such container/i, `container ${id} removed`);
  });
});
