import assert from 'node:assert/strict';
import { execa } from 'execa';
import {
  CreateVpcCommand,
  CreateSubnetCommand,
  CreateRouteTableCommand,
  AssociateRouteTableCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  DetachInternetGatewayCommand,
  CreateRouteCommand,
  DeleteRouteCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  DescribeImagesCommand,
  DescribeSecurityGroupsCommand,
  AuthorizeSecurityGroupIngressCommand,
  AllocateAddressCommand,
  AssociateAddressCommand,
  DisassociateAddressCommand,
  GetConsoleOutputCommand,
  CreateNatGatewayCommand,
  DescribeNatGatewaysCommand,
  DeleteNatGatewayCommand,
  ModifySubnetAttributeCommand,
  DescribeRouteTablesCommand,
  DescribeInstancesCommand,
  DescribeAddressesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  ModifyInstanceAttributeCommand,
  CreateSecurityGroupCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { needBackend } from '../support/backends.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { OvsNetworkBackend } from '../../src/adapters/ovs/index.js';
import { makeInternet, type Internet } from '../support/internet.js';
import { eventually } from '../support/eventually.js';

/**
 * Routes obeyed with real packets. "The internet" is a network namespace this test makes, joined to the host by
 * a veth in 203.0.113.0/24 (TEST-NET-3): no packet leaves the machine. An instance reaches it through its VPC's
 * internet gateway only while its subnet's route table sends 0.0.0.0/0 there. A negative check is `ping -W 2`
 * getting no answer, never a timed assertion.
 */
describe('route tables and internet gateways with real traffic', function () {
  this.timeout(180_000);
  let internet: Internet;
  const launched: string[] = [];

  // The backends are checked (a skip there skips the server's start too) and the internet made before the server starts.
  before(async function () {
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    await needBackend(this, 'ovs', () => new OvsNetworkBackend({ cloudId: '00000000' }).probe());
    internet = await makeInternet();
  });
  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    beforeClose: async ({ ec2 }) => {
      for (const id of launched) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] })).catch(() => undefined);
      for (const id of launched) await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] }).catch(() => undefined);
    },
  });
  after(async () => internet?.close());

  async function ping(from: string, ip: string): Promise<boolean> {
    return (await execa('docker', ['exec', from, 'ping', '-c', '1', '-W', '2', ip], { reject: false })).exitCode === 0;
  }

  const fromInternet = (ip: string, port: number) => internet.fetch(ip, port);

  /**
   * A VPC `<prefix>.0.0/16` with an internet gateway, a public subnet `<prefix>.1.0/24` whose table routes 0.0.0.0/0
   * to it, and a private subnet `<prefix>.2.0/24` with a table of its own and no route out yet.
   */
  async function publicAndPrivateSubnets(prefix: string) {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: `${prefix}.0.0/16` }))).Vpc!.VpcId!;
    const subnet = async (n: number) => (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: `${prefix}.${n}.0/24`, AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const publicSubnet = await subnet(1);
    const privateSubnet = await subnet(2);
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const table = async (subnetId: string) => {
      const id = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
      await t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: id, SubnetId: subnetId }));
      return id;
    };
    const publicRtb = await table(publicSubnet);
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: publicRtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    return { vpcId, igw, publicSubnet, privateSubnet, publicRtb, privateRtb: await table(privateSubnet) };
  }

  it('reaches the internet through the gateway only while a route sends 0.0.0.0/0 there, and is reached by its Elastic IP only through a rule', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.62.0.0/16' }))).Vpc!.VpcId!;
    const subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.62.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const rtb = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    await t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: subnetId }));
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));

    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const userData = Buffer.from(['#!/bin/sh', 'nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &', 'echo listener-ready'].join('\n')).toString('base64');
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, PrivateIpAddress: '10.62.1.10', UserData: userData }))).Instances![0]!.InstanceId!;
    launched.push(id);
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    assert.equal(await eventually('the VPC router', async () => (await ping(id, '10.62.1.1')) || undefined), true);

    assert.equal(await ping(id, '203.0.113.10'), false, 'an attached gateway alone routes nothing');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    assert.equal(await eventually('the internet', async () => (await ping(id, '203.0.113.10')) || undefined), true, 'the route sends it through the gateway');
    await t.ec2.send(new DeleteRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0' }));
    assert.equal(await ping(id, '203.0.113.10'), false, 'without the route it stops');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '203.0.113.0/24', GatewayId: igw }));
    assert.equal(await eventually('the internet again', async () => (await ping(id, '203.0.113.10')) || undefined), true, 'a narrower route too');
    await t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    assert.equal(await ping(id, '203.0.113.10'), false, 'a detached gateway leaves the route a blackhole');

    // An Elastic IP: "the internet" reaches the instance's server by it exactly as far as its group admits.
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const assoc = (await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: id }))).AssociationId!;
    await eventually('the listener', async () => {
      const out = await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
      return Buffer.from(out.Output ?? '', 'base64').toString().includes('listener-ready') || undefined;
    });
    assert.equal(await fromInternet(eip.PublicIp!, 80), '', 'the default group admits nothing from outside');
    const group = (await t.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups![0]!.GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '203.0.113.0/24' }] }] }));
    assert.equal(await eventually('the server by its public IP', async () => (await fromInternet(eip.PublicIp!, 80)) || undefined), 'web80', 'a rule for the internet\'s addresses admits it');
    assert.equal(await fromInternet(eip.PublicIp!, 81), '', 'and only the port it names');
    const md = await execa('docker', ['exec', id, 'wget', '-qO-', 'http://169.254.169.254/latest/meta-data/public-ipv4'], { reject: false });
    assert.equal(md.stdout.trim(), eip.PublicIp, 'the metadata service tells the instance its public address');
    await t.ec2.send(new DisassociateAddressCommand({ AssociationId: assoc }));
    assert.equal(await fromInternet(eip.PublicIp!, 80), '', 'a disassociated address leads nowhere');

    // Associated again, then its instance terminated: the address is disassociated with the interface, and leads
    // nowhere, also once a new instance holds the same private address; associated with it, it leads there.
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: id }));
    assert.equal(await eventually('the server by its public IP again', async () => (await fromInternet(eip.PublicIp!, 80)) || undefined), 'web80');
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    const next = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, PrivateIpAddress: '10.62.1.10', UserData: userData }))).Instances![0]!.InstanceId!;
    launched.push(next);
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [next] });
    await eventually('the new listener', async () => {
      const out = await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: next }));
      return Buffer.from(out.Output ?? '', 'base64').toString().includes('listener-ready') || undefined;
    });
    assert.equal(await fromInternet(eip.PublicIp!, 80), '', 'the terminated instance\'s Elastic IP does not lead to its private address\'s next holder');
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: next }));
    assert.equal(await eventually('the new server by the Elastic IP', async () => (await fromInternet(eip.PublicIp!, 80)) || undefined), 'web80', 'associated with it, it does');
  });

  it('a NAT instance carries a private subnet\'s traffic to the internet only while its source/destination check is off', async () => {
    internet.echoSource(9001);
    const { vpcId, publicSubnet, privateSubnet, privateRtb } = await publicAndPrivateSubnets('10.64');

    // The NAT instance: in the public subnet with an Elastic IP, its group open to the private subnet.
    const natGroup = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'nat', Description: 'nat instance' }))).GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: natGroup, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '10.64.2.0/24' }] }] }));
    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const run = async (subnetId: string, ip: string, groups?: string[]) => {
      const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, PrivateIpAddress: ip, SecurityGroupIds: groups }))).Instances![0]!.InstanceId!;
      launched.push(id);
      return id;
    };
    const nat = await run(publicSubnet, '10.64.1.10', [natGroup]);
    const client = await run(privateSubnet, '10.64.2.10');
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [nat, client] });
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: nat }));
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: privateRtb, DestinationCidrBlock: '0.0.0.0/0', InstanceId: nat }));
    // What the NAT instance's own OS does (an Amazon Linux NAT AMI's script): forwarding on, no redirects, masquerade.
    const pid = (await execa('docker', ['inspect', '-f', '{{.State.Pid}}', nat])).stdout.trim();
    const inNat = (cmd: string[]) => execa('nsenter', ['-t', pid, '-n', ...cmd]);
    await inNat(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.eth0.send_redirects=0']);
    await inNat(['iptables', '-w', '5', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.64.2.0/24', '-o', 'eth0', '-j', 'MASQUERADE']);
    assert.equal(await eventually('the NAT instance from the client', async () => (await ping(client, '10.64.1.10')) || undefined), true);

    const seenFrom = async () => (await execa('docker', ['exec', client, 'nc', '-w', '2', '203.0.113.10', '9001'], { reject: false })).stdout.trim();
    assert.equal(await seenFrom(), '', 'with the check on (the default), the switch does not let the instance forward');
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: nat, SourceDestCheck: { Value: false } }));
    assert.equal(await eventually('the internet through the NAT instance', async () => (await seenFrom()) || undefined), eip.PublicIp, 'the far side sees the NAT instance\'s Elastic IP');
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: nat, SourceDestCheck: { Value: true } }));
    assert.equal(await seenFrom(), '', 'the check on again stops it at once');
  });

  it('a private subnet routed to a NAT gateway reaches the internet as the gateway\'s Elastic IP, nothing comes in by that address, and a restart rebuilds it', async () => {
    // "The internet" answers every TCP client with the address it sees the connection come from.
    internet.echoSource(9000);
    const { vpcId, igw, publicSubnet, privateSubnet, publicRtb, privateRtb } = await publicAndPrivateSubnets('10.63');
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const natId = (await t.ec2.send(new CreateNatGatewayCommand({ SubnetId: publicSubnet, AllocationId: eip.AllocationId }))).NatGateway!.NatGatewayId!;
    await eventually('the NAT gateway', async () => (await t.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [natId] }))).NatGateways![0]!.State === 'available' || undefined);

    // A server in the private subnet that its group opens to the internet's addresses: only the NAT keeps them out.
    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const userData = Buffer.from(['#!/bin/sh', 'nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &', 'echo listener-ready'].join('\n')).toString('base64');
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: privateSubnet, PrivateIpAddress: '10.63.2.10', UserData: userData }))).Instances![0]!.InstanceId!;
    launched.push(id);
    const group = (await t.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups![0]!.GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '203.0.113.0/24' }] }] }));
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    assert.equal(await eventually('the VPC router', async () => (await ping(id, '10.63.2.1')) || undefined), true);

    const seenFrom = async () => (await execa('docker', ['exec', id, 'nc', '-w', '2', '203.0.113.10', '9000'], { reject: false })).stdout.trim();
    assert.equal(await ping(id, '203.0.113.10'), false, 'no route in the private table yet');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: privateRtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: natId }));
    assert.equal(await eventually('the internet through the NAT gateway', async () => (await seenFrom()) || undefined), eip.PublicIp, 'the far side sees the gateway\'s Elastic IP');
    // As on AWS, the gateway forwards by its own subnet's table: without its route to the internet gateway, nowhere.
    await t.ec2.send(new DeleteRouteCommand({ RouteTableId: publicRtb, DestinationCidrBlock: '0.0.0.0/0' }));
    assert.equal(await seenFrom(), '', 'a NAT gateway in a subnet with no route to the internet gateway forwards nothing');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: publicRtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    assert.equal(await eventually('the NAT gateway\'s subnet routed again', async () => (await seenFrom()) || undefined), eip.PublicIp);

    await eventually('the listener', async () => Buffer.from((await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output ?? '', 'base64').toString().includes('listener-ready') || undefined);
    assert.equal(await fromInternet(eip.PublicIp!, 80), '', 'nothing comes in by the gateway\'s address');
    assert.equal(await fromInternet('10.63.2.10', 80), '', 'nor by the private address');

    // A restart after the host lost the routers (the test server's close removes them): rebuilt from the records.
    await t.restart(async () => assert.equal(await seenFrom(), '', 'the router is gone'));
    assert.equal(await eventually('the NAT gateway after a restart', async () => (await seenFrom()) || undefined), eip.PublicIp);

    await t.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: natId }));
    assert.equal(await seenFrom(), '', 'a deleted gateway leaves its route a blackhole');
  });

  it('an instance launched into a subnet that maps public addresses is reached by its own public IP exactly as its group allows', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.64.0.0/16' }))).Vpc!.VpcId!;
    const subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.64.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    await t.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnetId, MapPublicIpOnLaunch: { Value: true } }));
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const main = (await t.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'association.main', Values: ['true'] }] }))).RouteTables![0]!.RouteTableId!;
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: main, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    const image = (await t.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const userData = Buffer.from(['#!/bin/sh', 'nc -ll -p 80 -e echo web80 >/dev/null 2>&1 &', 'echo listener-ready'].join('\n')).toString('base64');
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano', SubnetId: subnetId, UserData: userData }))).Instances![0]!.InstanceId!;
    launched.push(id);
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
    const publicIp = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.PublicIpAddress!;
    assert.match(publicIp, /^198\.1[89]\./);
    assert.deepEqual((await t.ec2.send(new DescribeAddressesCommand({}))).Addresses!.filter((a) => a.PublicIp === publicIp), [], 'not an Elastic IP');
    await eventually('the listener', async () => Buffer.from((await t.ec2.send(new GetConsoleOutputCommand({ InstanceId: id }))).Output ?? '', 'base64').toString().includes('listener-ready') || undefined);
    const md = await execa('docker', ['exec', id, 'wget', '-qO-', 'http://169.254.169.254/latest/meta-data/public-ipv4'], { reject: false });
    assert.equal(md.stdout.trim(), publicIp, 'the metadata service tells the instance its public address');
    assert.equal(await fromInternet(publicIp, 80), '', 'the default group admits nothing from outside');
    const group = (await t.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups![0]!.GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '203.0.113.0/24' }] }] }));
    assert.equal(await eventually('the server by its public IP', async () => (await fromInternet(publicIp, 80)) || undefined), 'web80');
  });
});

