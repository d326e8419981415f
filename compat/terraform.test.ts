/**
 * Terraform's AWS provider (from the machine's local mirror) against the server with real Docker instances, real
 * LVM and Open vSwitch: an aws_key_pair, two aws_instance resources, an aws_ebs_volume attached to one of them
 * (aws_volume_attachment) and an aws_ebs_snapshot, and a VPC of its own (aws_vpc, aws_subnet, aws_security_group
 * with inline rules, aws_vpc_security_group_ingress_rule, aws_security_group_rule, aws_network_interface,
 * aws_vpc_ipv4_cidr_block_association with an aws_subnet in it, aws_instance, aws_internet_gateway, aws_route_table + association, aws_route, aws_eip + aws_eip_association,
 * aws_nat_gateway with its aws_eip and a route to it)
 * apply in one configuration (one init, one apply: the suite's time), a second plan shows no diff, destroy is
 * clean (no container, no LV, no loop device, no VPC bridge left). Run under the host lock.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { DescribeAddressesCommand, DescribeNatGatewaysCommand, DescribeInstancesCommand, DescribeNetworkInterfacesCommand, DescribeRouteTablesCommand, DescribeSubnetsCommand, DescribeVpcsCommand, DescribeSecurityGroupRulesCommand, DescribeSnapshotsCommand, DescribeVolumesCommand, GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import pg from 'pg';
import { testStorage } from '../test/support/storage.js';
import { needBackend } from '../test/support/backends.js';
import { useTestServer } from '../test/support/use-server.js';
import { DockerComputeBackend } from '../src/adapters/docker/index.js';
import { OvsNetworkBackend } from '../src/adapters/ovs/index.js';
import { generateKey } from '../src/services/key-pairs/crypto.js';
import { needTerraform, TerraformWorkspace } from './terraform-workspace.js';

describe('compat: Terraform instances, EBS and a whole VPC with its gateway, routes and an Elastic IP', function () {
  this.timeout(600_000);
  let tf: TerraformWorkspace;
  let cloudId: string | undefined;

  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker', STORAGE_BACKEND: 'lvm' },
    requires: async (ctx) => {
      await needTerraform(ctx);
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
      await needBackend(ctx, 'lvm', () => testStorage().backend.probe());
      await needBackend(ctx, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    },
    beforeClose: async () => {
      if (tf) await tf.destroy();
    },
  });
  before(async () => {
    const c = new pg.Client({ connectionString: t.s.databaseUrl });
    await c.connect();
    cloudId = (await c.query('SELECT id FROM installation')).rows[0].id as string;
    await c.end();
    tf = new TerraformWorkspace(join(import.meta.dirname, 'terraform', 'main.tf'), { endpoint: t.url, public_key: generateKey('ed25519', 'tf').publicKeyOpenSsh });
    const init = await tf.init();
    assert.equal(init.exitCode, 0, init.output);
  });

  after(async () => {
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

    const { ec2 } = t;
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

    // The VPC of its own: the instance in it with both groups and their three ingress rules, a bridge on the
    // switch, the subnet routed to the gateway by its own table, the Elastic IP on the instance.
    const vpcId = out.vpc_id!.value as string;
    const appId = out.app_id!.value as string;
    assert.equal(out.app_private_ip!.value, '10.90.1.10');
    const app = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [appId] }))).Reservations![0]!.Instances![0]!;
    assert.deepEqual([app.State?.Name, app.VpcId, app.SecurityGroups?.length, app.PublicIpAddress], ['running', vpcId, 2, out.app_public_ip!.value]);
    const rules = await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: app.SecurityGroups!.map((g) => g.GroupId!) }] }));
    assert.deepEqual(rules.SecurityGroupRules!.filter((r) => !r.IsEgress).map((r) => `${r.IpProtocol}:${r.FromPort}-${r.ToPort}`).sort(), ['icmp:-1--1', 'tcp:22-22', 'tcp:80-80']);
    const tables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [app.SubnetId!] }] }))).RouteTables!;
    assert.ok(tables[0]?.Routes?.some((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.GatewayId?.startsWith('igw-') && r.State === 'active'), JSON.stringify(tables));
    const dataTables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'route.destination-cidr-block', Values: ['192.0.2.0/24'] }] }))).RouteTables!;
    assert.ok(dataTables[0]?.Routes?.some((r) => r.DestinationCidrBlock === '192.0.2.0/24' && r.NetworkInterfaceId?.startsWith('eni-')), JSON.stringify(dataTables));
    const spare = (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.90.2.50'] }] }))).NetworkInterfaces![0]!;
    assert.equal(spare.SourceDestCheck, false, 'source_dest_check = false reached the interface');
    const eip = (await ec2.send(new DescribeAddressesCommand({ PublicIps: [out.app_public_ip!.value as string] }))).Addresses![0]!;
    assert.equal(eip.InstanceId, appId);
    assert.ok((await t.s.services.backends.network.list()).vpcs.includes(vpcId), 'the VPC is a bridge on the switch');
    // The NAT gateway: available in the public subnet with its Elastic IP; the private subnet's table routes to it.
    const nat = (await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [out.nat_id!.value as string] }))).NatGateways![0]!;
    assert.deepEqual([nat.State, nat.SubnetId, nat.NatGatewayAddresses?.[0]?.PublicIp], ['available', app.SubnetId, out.nat_public_ip!.value]);
    assert.ok(dataTables[0]?.Routes?.some((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.NatGatewayId === nat.NatGatewayId && r.State === 'active'), JSON.stringify(dataTables));

    // The secondary block: associated, routed locally by the VPC's tables, its subnet inside it.
    const blocks = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs![0]!.CidrBlockAssociationSet!;
    assert.deepEqual(blocks.map((b) => [b.CidrBlock, b.CidrBlockState?.State]), [['10.90.0.0/16', 'associated'], ['10.91.0.0/16', 'associated']]);
    const extra = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [out.extra_subnet_id!.value as string] }))).Subnets![0]!;
    assert.deepEqual([extra.VpcId, extra.CidrBlock], [vpcId, '10.91.1.0/24']);
    assert.ok(tables[0]?.Routes?.some((r) => r.DestinationCidrBlock === '10.91.0.0/16' && r.GatewayId === 'local'), JSON.stringify(tables));

    const plan = await tf.plan();
    assert.equal(plan.exitCode, 0, 'no changes on a second plan:\n' + plan.output);

    const destroy = await tf.destroy();
    assert.equal(destroy.exitCode, 0, destroy.output);
    assert.equal(tf.managedResources(), 0);
    assert.equal((await ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [nat.NatGatewayId!] }))).NatGateways![0]!.State, 'deleted');
    for (const id of [...ids, appId]) await assert.rejects(new Docker().getContainer(id).inspect(), /404|no such container/i, `container ${id} removed`);
    assert.ok(!(await t.s.services.backends.network.list()).vpcs.includes(vpcId), 'the VPC\'s bridge is gone');
    const left = await storage.backend.list();
    assert.deepEqual([left.volumes, left.snapshots, left.exports], [[], [], []], 'no LV or export is left on the storage host');
    const loops = await execa('losetup', ['-n', '-O', 'BACK-FILE', '-l'], { reject: false });
    assert.ok(!loops.stdout.includes(vol.VolumeId!), `no loop device is left for ${vol.VolumeId}: ${loops.stdout}`);
  });
});
