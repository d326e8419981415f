import assert from 'node:assert/strict';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  DescribeAddressesCommand,
  ReleaseAddressCommand,
  AssignPrivateIpAddressesCommand,
  UnassignPrivateIpAddressesCommand,
  CreateNetworkInterfaceCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

/**
 * Secondary private addresses on the records (noop backends): AssignPrivateIpAddresses by list and by count,
 * AllowReassignment, the limit of the instance type, UnassignPrivateIpAddresses, and the same asked for by
 * CreateNetworkInterface and RunInstances; every error code as AWS's. The data plane's side (the address works in
 * a container) is in vpc-traffic.test.ts.
 */
describe('secondary private IP addresses (Assign/UnassignPrivateIpAddresses)', () => {
  let subnetId: string;
  let vpcId: string;
  const t = useTestServer();
  before(async () => {
    vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.88.0.0/16' }))).Vpc!.VpcId!;
    subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.88.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
  });

  const addresses = async (eniId: string) =>
    (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eniId] }))).NetworkInterfaces![0]!.PrivateIpAddresses!.map((a) => [a.PrivateIpAddress, a.Primary]);
  const eni = async (ip: string) => (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, PrivateIpAddress: ip }))).NetworkInterface!.NetworkInterfaceId!;
  const rejects = (p: Promise<unknown>, name: string) => assert.rejects(p, (e: Error) => (assert.equal(e.name, name, e.message), true));

  it('assigns listed and counted addresses, lists them after the primary one, and unassigns them', async () => {
    const id = await eni('10.88.1.100');
    const r = await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: id, PrivateIpAddresses: ['10.88.1.50'] }));
    assert.deepEqual(r.AssignedPrivateIpAddresses!.map((a) => a.PrivateIpAddress), ['10.88.1.50']);
    const counted = await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: id, SecondaryPrivateIpAddressCount: 2 }));
    assert.equal(counted.AssignedPrivateIpAddresses!.length, 2);
    const [c1, c2] = counted.AssignedPrivateIpAddresses!.map((a) => a.PrivateIpAddress!);
    // The primary address stays first and primary, although a secondary one is lower.
    assert.deepEqual(await addresses(id), [['10.88.1.100', true], ['10.88.1.50', false], [c1, false], [c2, false]]);
    const byFilter = await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.88.1.50'] }] }));
    assert.deepEqual(byFilter.NetworkInterfaces!.map((n) => n.NetworkInterfaceId), [id]);

    await t.ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: id, PrivateIpAddresses: ['10.88.1.50', c1!] }));
    assert.deepEqual(await addresses(id), [['10.88.1.100', true], [c2, false]]);
    await rejects(t.ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: id, PrivateIpAddresses: ['10.88.1.100'] })), 'InvalidParameterValue');
    await rejects(t.ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: id, PrivateIpAddresses: ['10.88.1.50'] })), 'InvalidParameterValue');
    // The unassigned address is free again: another interface takes it.
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: await eni('10.88.1.101'), PrivateIpAddresses: ['10.88.1.50'] }));
  });

  it('refuses bad requests as AWS does, and moves a secondary address only with AllowReassignment', async () => {
    const a = await eni('10.88.1.110');
    const b = await eni('10.88.1.111');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.2.5'] })), 'InvalidParameterValue');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.2'] })), 'InvalidParameterValue');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a })), 'InvalidParameterCombination');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.120'], SecondaryPrivateIpAddressCount: 1 })), 'InvalidParameterCombination');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: 'eni-0123456789abcdef0', SecondaryPrivateIpAddressCount: 1 })), 'InvalidNetworkInterfaceID.NotFound');
    // An address another interface holds: in use, unless reassignment is allowed; a primary one never moves.
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.111'] })), 'InvalidIPAddress.InUse');
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.111'], AllowReassignment: true })), 'InvalidIPAddress.InUse');
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: b, PrivateIpAddresses: ['10.88.1.121'] }));
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.121'] })), 'InvalidIPAddress.InUse');
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.121'], AllowReassignment: true }));
    assert.deepEqual(await addresses(a), [['10.88.1.110', true], ['10.88.1.121', false]]);
    assert.deepEqual(await addresses(b), [['10.88.1.111', true]]);
    // A failed request leaves nothing behind: the first address of the list is not kept when the second fails.
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.122', '10.88.1.111'] })), 'InvalidIPAddress.InUse');
    assert.deepEqual(await addresses(a), [['10.88.1.110', true], ['10.88.1.121', false]]);
  });

  it('moves an Elastic IP with its secondary address (AllowReassignment), and disassociates it when the address is unassigned', async () => {
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const a = await eni('10.88.1.230');
    const b = await eni('10.88.1.231');
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: a, PrivateIpAddresses: ['10.88.1.232'] }));
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, NetworkInterfaceId: a, PrivateIpAddress: '10.88.1.232' }));
    const where = async () => {
      const x = (await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses![0]!;
      return [x.NetworkInterfaceId, x.PrivateIpAddress, !!x.AssociationId];
    };
    assert.deepEqual(await where(), [a, '10.88.1.232', true]);
    // AWS: "any Elastic IP address that is associated with the IP address is also moved".
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: b, PrivateIpAddresses: ['10.88.1.232'], AllowReassignment: true }));
    assert.deepEqual(await where(), [b, '10.88.1.232', true]);
    // Unassigned: the address no longer leads to an interface; still allocated, so it can be released.
    await t.ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: b, PrivateIpAddresses: ['10.88.1.232'] }));
    assert.deepEqual(await where(), [undefined, undefined, false]);
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
  });

  it('takes secondary addresses at CreateNetworkInterface and RunInstances, within the instance type\'s limit, shown by DescribeInstances', async () => {
    const made = (await t.ec2.send(new CreateNetworkInterfaceCommand({
      SubnetId: subnetId,
      PrivateIpAddresses: [{ PrivateIpAddress: '10.88.1.131', Primary: false }, { PrivateIpAddress: '10.88.1.130', Primary: true }],
    }))).NetworkInterface!;
    assert.equal(made.PrivateIpAddress, '10.88.1.130');
    assert.deepEqual(made.PrivateIpAddresses!.map((a) => [a.PrivateIpAddress, a.Primary]), [['10.88.1.130', true], ['10.88.1.131', false]]);

    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const run = (extra: { SecondaryPrivateIpAddressCount?: number }) =>
      t.ec2.send(new RunInstancesCommand({
        ImageId: image.ImageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.nano',
        NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnetId, PrivateIpAddress: '10.88.1.140', ...extra }],
      }));
    // t3.nano: 6 addresses per interface.
    await rejects(run({ SecondaryPrivateIpAddressCount: 6 }), 'PrivateIpAddressLimitExceeded');
    const inst = (await run({ SecondaryPrivateIpAddressCount: 2 })).Instances![0]!;
    assert.equal(inst.PrivateIpAddress, '10.88.1.140');
    const described = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.Instances![0]!;
    const ips = described.NetworkInterfaces![0]!.PrivateIpAddresses!;
    assert.equal(ips.length, 3);
    assert.deepEqual([ips[0]!.PrivateIpAddress, ips[0]!.Primary, ips[1]!.Primary], ['10.88.1.140', true, false]);
    const eniId = described.NetworkInterfaces![0]!.NetworkInterfaceId!;
    await rejects(t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: 4 })), 'PrivateIpAddressLimitExceeded');
    await t.ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: 3 }));
    assert.equal((await addresses(eniId)).length, 6);
  });
});
