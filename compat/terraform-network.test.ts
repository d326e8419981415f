/**
 * Terraform's AWS provider (from the machine's local mirror) building a VPC on Open vSwitch with a Docker
 * instance in it: apply, a second plan with no changes, destroy, and nothing of it left on the switch or in Docker.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Docker from 'dockerode';
import { DescribeInstancesCommand, DescribeSecurityGroupRulesCommand } from '@aws-sdk/client-ec2';
import { needBackend } from '../test/support/backends.js';
import { startTestServer, type TestServer } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { OvsNetworkBackend } from '../src/adapters/ovs/index.js';
import { needTerraform, TerraformWorkspace } from './terraform-workspace.js';

describe('compat: Terraform aws_vpc, aws_subnet, aws_security_group (+ rules), aws_network_interface, aws_instance', function () {
  this.timeout(600_000);
  let s: TestServer;
  let tf: TerraformWorkspace;

  before(async function () {
    await needTerraform(this);
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    await needBackend(this, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    s = await startTestServer({ COMPUTE_BACKEND: 'docker' });
    tf = new TerraformWorkspace(join(import.meta.dirname, 'terraform', 'network', 'main.tf'), { endpoint: s.url });
    const init = await tf.init();
    assert.equal(init.exitCode, 0, init.output);
  });

  after(async () => {
    if (tf && s) await tf.destroy();
    await s?.close();
    tf?.remove();
  });

  it('applies, shows no diff on a second plan, and destroys with nothing left on the switch', async () => {
    const apply = await tf.apply();
    assert.equal(apply.exitCode, 0, apply.output);
    const out = await tf.outputs();
    const vpcId = out.vpc_id!.value as string;
    const instanceId = out.instance_id!.value as string;
    assert.equal(out.private_ip!.value, '10.90.1.10');

    const ec2 = sdk(s.url);
    const inst = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0]!.Instances![0]!;
    assert.equal(inst.State?.Name, 'running');
    assert.equal(inst.VpcId, vpcId);
    assert.equal(inst.SecurityGroups?.length, 2);
    const rules = await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: inst.SecurityGroups!.map((g) => g.GroupId!) }] }));
    const ingress = rules.SecurityGroupRules!.filter((r) => !r.IsEgress).map((r) => `${r.IpProtocol}:${r.FromPort}-${r.ToPort}`).sort();
    assert.deepEqual(ingress, ['icmp:-1--1', 'tcp:22-22', 'tcp:80-80']);
    assert.ok((await s.services.backends.network.list()).vpcs.includes(vpcId), 'the VPC is a bridge on the switch');

    const plan = await tf.plan();
    assert.equal(plan.exitCode, 0, 'no changes on a second plan:\n' + plan.output);

    const destroy = await tf.destroy();
    assert.equal(destroy.exitCode, 0, destroy.output);
    assert.equal(tf.managedResources(), 0);
    assert.ok(!(await s.services.backends.network.list()).vpcs.includes(vpcId), 'the VPC\'s bridge is gone');
    await assert.rejects(new Docker().getContainer(instanceId).inspect(), /404|no such container/i, 'the container is gone');
  });
});
