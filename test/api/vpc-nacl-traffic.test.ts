import assert from 'node:assert/strict';
import { execa } from 'execa';
import {
  CreateVpcCommand,
  CreateSubnetCommand,
  CreateSecurityGroupCommand,
  AuthorizeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  DescribeImagesCommand,
  GetConsoleOutputCommand,
  DescribeNetworkAclsCommand,
  CreateNetworkAclCommand,
  CreateNetworkAclEntryCommand,
  ReplaceNetworkAclAssociationCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  AttachNetworkInterfaceCommand,
  DetachNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { securityGroup } from '../support/vpc.js';
import { needBackend } from '../support/backends.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';
import { eventually } from '../support/eventually.js';

/**
 * Network ACLs on the real data plane: stateless filters where traffic crosses a subnet's boundary. Docker
 * instances on Open vSwitch, traffic checked from inside them (busybox nc); a negative check is `nc -w 2`
 * getting nothing, never a timed assertion.
 */
const LISTENERS = ['#!/bin/sh', `nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &`, `nc -ll -p 81 -e echo web81 >/dev/null 2>&1 &`, 'echo listeners-ready'].join('\n');

describe('network ACLs and a second ENI on Open vSwitch, with real traffic', function () {
  this.timeout(240_000);
  const launched: string[] = [];
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: async (ctx) => {
      await needBackend(ctx, 'docker', () => new DockerComputeBackend().probe());
      await needBackend(ctx, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    },
    beforeClose: async ({ ec2 }) => {
      if (!launched.length) return;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: launched })).catch(() => undefined);
      await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: launched }).catch(() => undefined);
    },
  });

  async function launch(subnetId: string, groups: string[], ip: string) {
    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const r = await t.ec2.send(new RunInstancesCommand({
      ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, SecurityGroupIds: groups,
      PrivateIpAddress: ip, UserData: Buffer.from(LISTENERS).toString('base64'),
    }));
    const id = r.Instances![0]!.InstanceId!;
    launched.push(id);
    return id;
  }

  async function ready(ids: string[]) {
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: ids });
    for (const id of ids) {
      await eventually(`listeners of ${id}`, async () => {
        const out = await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
        return Buffer.from(out.Output ?? '', 'base64').toString().includes('listeners-ready') || undefined;
      });
    }
  }

  /** What `nc` from inside `from` gets from ip:port ('' when nothing answers within 2 s). */
  async function fetch(from: string, ip: string, port: number): Promise<string> {
    const r = await execa('docker', ['exec', from, 'sh', '-c', `nc -w 2 ${ip} ${port} </dev/null`], { reject: false });
    return r.stdout.trim();
  }

  it('filters traffic crossing the subnet boundary statelessly, in rule order, never within the subnet; a second ENI of a running instance is reached', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.62.0.0/16' }))).Vpc!.VpcId!;
    const subnetA = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.62.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const subnetB = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.62.2.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const open = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'open', Description: 'open' }))).GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: open, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 81, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    const client = await launch(subnetA, [open], '10.62.1.10');
    const web = await launch(subnetB, [open], '10.62.2.10');
    const neighbour = await launch(subnetB, [open], '10.62.2.11');
    await ready([client, web, neighbour]);

    assert.equal(await fetch(client, '10.62.2.10', 80), 'web80', 'the default ACL allows all, across subnets');

    // Subnet B under an ACL that admits ports 80-81 in, and nothing out: the answers cannot leave (stateless).
    const acl = (await t.ec2.send(new CreateNetworkAclCommand({ VpcId: vpcId }))).NetworkAcl!.NetworkAclId!;
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: acl, RuleNumber: 100, Protocol: '6', RuleAction: 'allow', Egress: false, CidrBlock: '10.62.0.0/16', PortRange: { From: 80, To: 81 } }));
    const assoc = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetB] }] }))).NetworkAcls![0]!
      .Associations!.find((a) => a.SubnetId === subnetB)!.NetworkAclAssociationId!;
    const moved = (await t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: assoc, NetworkAclId: acl }))).NewAssociationId!;
    assert.equal(await fetch(client, '10.62.2.10', 80), '', 'no outbound entry for the return traffic: the connection breaks');
    assert.equal(await fetch(neighbour, '10.62.2.10', 80), 'web80', 'within the subnet the ACL does not apply');

    // The return traffic's own entry (the client's ephemeral ports) mends it.
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: acl, RuleNumber: 100, Protocol: '6', RuleAction: 'allow', Egress: true, CidrBlock: '10.62.1.0/24', PortRange: { From: 1024, To: 65535 } }));
    assert.equal(await fetch(client, '10.62.2.10', 80), 'web80', 'with an outbound entry for the answers');
    assert.equal(await fetch(client, '10.62.2.10', 81), 'web81');

    // A lower rule number wins: deny port 81 from subnet A, which the security group allows.
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: acl, RuleNumber: 50, Protocol: '6', RuleAction: 'deny', Egress: false, CidrBlock: '10.62.1.0/24', PortRange: { From: 81, To: 81 } }));
    assert.equal(await fetch(client, '10.62.2.10', 81), '', 'the deny entry blocks a port the security group allows');
    assert.equal(await fetch(client, '10.62.2.10', 80), 'web80', 'and only that port');
    assert.equal(await fetch(neighbour, '10.62.2.10', 81), 'web81', 'within the subnet still open');

    // A server restart after the switch lost everything (the test server's close removes this installation's
    // switch objects, as an OVS restarted empty would): the ACL's flows are rebuilt from the records alone.
    await t.restart(async () => assert.equal(await fetch(client, '10.62.2.10', 80), '', 'the switch is empty'));
    assert.equal(await fetch(client, '10.62.2.10', 80), 'web80', 'rebuilt: the ACL still admits port 80 and its answers');
    assert.equal(await fetch(client, '10.62.2.10', 81), '', 'and its deny entry still blocks port 81');
    assert.equal(await fetch(neighbour, '10.62.2.10', 81), 'web81', 'within the subnet still open');

    // Back under the default ACL: all allowed again.
    const dflt = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'default', Values: ['true'] }] }))).NetworkAcls![0]!.NetworkAclId!;
    await t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: moved, NetworkAclId: dflt }));
    assert.equal(await fetch(client, '10.62.2.10', 81), 'web81', 'the default ACL allows all again');

    // A second interface for the running web instance, in subnet A: eth1 inside the container, reached there.
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetA, Groups: [open], PrivateIpAddress: '10.62.1.20' }))).NetworkInterface!.NetworkInterfaceId!;
    assert.equal(await fetch(client, '10.62.1.20', 80), '', 'nothing answers at the address before the attachment');
    const att = (await t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni, InstanceId: web, DeviceIndex: 1 }))).AttachmentId!;
    const eth1 = await execa('docker', ['exec', web, 'ip', '-4', 'addr', 'show', 'eth1'], { reject: false });
    assert.match(eth1.stdout, /10\.62\.1\.20\/24/, 'eth1 has the ENI\'s address inside the instance');
    // The client's neighbour entry for the address failed a moment ago: its next resolution may take a retry.
    assert.equal(await eventually('the second interface answering', async () => ((await fetch(client, '10.62.1.20', 80)) === 'web80' ? 'web80' : undefined)), 'web80', 'traffic reaches the second interface');
    await t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: att }));
    assert.equal(await fetch(client, '10.62.1.20', 80), '', 'detached: gone');
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }));
  });

  it('launches a container with two interfaces in two subnets, each reached on its own address as its own groups allow', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.63.0.0/16' }))).Vpc!.VpcId!;
    const subnetA = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.63.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const subnetB = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.63.2.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const group = (name: string, port?: number) => securityGroup(t.ec2, vpcId, name, port ? { port, from: '10.63.0.0/16' } : undefined);
    const only80 = await group('only80', 80);
    const only81 = await group('only81', 81);
    const plain = await group('plain');
    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const r = await t.ec2.send(new RunInstancesCommand({
      ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', UserData: Buffer.from(LISTENERS).toString('base64'),
      NetworkInterfaces: [
        { DeviceIndex: 0, SubnetId: subnetA, Groups: [only80], PrivateIpAddress: '10.63.1.10' },
        { DeviceIndex: 1, SubnetId: subnetB, Groups: [only81], PrivateIpAddress: '10.63.2.10' },
      ],
    }));
    const multi = r.Instances![0]!.InstanceId!;
    launched.push(multi);
    const second = r.Instances![0]!.NetworkInterfaces!.find((n) => n.Attachment!.DeviceIndex === 1)!;
    const clientA = await launch(subnetA, [plain], '10.63.1.20');
    const clientB = await launch(subnetB, [plain], '10.63.2.20');
    await ready([multi, clientA, clientB]);

    // Inside: eth1 with the second ENI's MAC and address; the default route only through eth0.
    const eth1 = (await execa('docker', ['exec', multi, 'ip', '-o', 'addr', 'show', 'eth1'])).stdout;
    assert.match(eth1, /inet 10\.63\.2\.10\/24/);
    const mac1 = (await execa('docker', ['exec', multi, 'cat', '/sys/class/net/eth1/address'])).stdout.trim();
    assert.equal(mac1, second.MacAddress);
    // (busybox's ip lists the whole main table)
    const routes = (await execa('docker', ['exec', multi, 'ip', 'route'])).stdout.split('\n').filter((l) => l.startsWith('default'));
    assert.deepEqual(routes.map((l) => l.trim()), ['default via 10.63.1.1 dev eth0'], 'one default route, by eth0');

    // Each address answers as its own interface's groups allow, from its own subnet and across the VPC router.
    assert.equal(await fetch(clientA, '10.63.1.10', 80), 'web80', 'eth0 admits 80 (its group)');
    assert.equal(await fetch(clientA, '10.63.1.10', 81), '', 'eth0 does not admit 81');
    assert.equal(await fetch(clientB, '10.63.2.10', 81), 'web81', 'eth1 admits 81 (its group), from its own subnet');
    assert.equal(await fetch(clientB, '10.63.2.10', 80), '', 'eth1 does not admit 80');
    assert.equal(await fetch(clientA, '10.63.2.10', 81), 'web81', 'eth1 from the other subnet: its answer leaves by eth1');
    assert.equal(await fetch(clientB, '10.63.1.10', 80), 'web80', 'eth0 from the other subnet');

    // A server restart over an emptied switch plugs both interfaces again, each with its own groups.
    await t.restart(async () => assert.equal(await fetch(clientB, '10.63.2.10', 81), '', 'the switch is empty'));
    assert.equal(await fetch(clientB, '10.63.2.10', 81), 'web81', 'rebuilt: eth1 answers as its group allows');
    assert.equal(await fetch(clientA, '10.63.2.10', 80), '', 'and only that');
    assert.equal(await fetch(clientA, '10.63.1.10', 80), 'web80', 'eth0 too');

    // Termination: the ENIs made at launch go with the instance.
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [multi] }));
    await waitUntilInstanceTerminated({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [multi] });
    const left = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'addresses.private-ip-address', Values: ['10.63.1.10', '10.63.2.10'] }] }))).NetworkInterfaces!;
    assert.deepEqual(left, []);
    assert.equal(await fetch(clientB, '10.63.2.10', 81), '', 'nothing answers there any more');
  });
});

