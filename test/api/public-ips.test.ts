import assert from 'node:assert/strict';
import {
  CreateVpcCommand,
  CreateSubnetCommand,
  ModifySubnetAttributeCommand,
  DescribeSubnetsCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  DescribeInstancesCommand,
  DescribeImagesCommand,
  AllocateAddressCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  AssociateAddressCommand,
  DisassociateAddressCommand,
  DescribeAddressesCommand,
  ReleaseAddressCommand,
  DescribeAddressesAttributeCommand,
  ModifyAddressAttributeCommand,
  ResetAddressAttributeCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceStopped,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

/** Public IPv4 addresses on launch (MapPublicIpOnLaunch, AssociatePublicIpAddress): records and lifecycle (noop backends). */
describe('public IPv4 addresses: on launch, and an Elastic IP\'s reverse DNS name', function () {
  this.timeout(60_000);
  const t = useTestServer();

  const wait = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };
  const running = (id: string) => waitUntilInstanceRunning({ ...wait, client: t.ec2 }, { InstanceIds: [id] });
  const publicIp = async (id: string) => (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!.PublicIpAddress;
  const fromPool = (ip: string | undefined) => assert.match(ip ?? '', /^198\.1[89]\.\d+\.\d+$/);

  it('gives one where the subnet maps them or the request asks, none otherwise; stop and start, Elastic IPs and termination as AWS', async () => {
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    const run = async (extra: object) => (await t.ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, ...extra }))).Instances![0]!.InstanceId!;

    // The default VPC's default subnets map public addresses (as AWS's do): an instance there gets one.
    const dflt = await run({});
    await running(dflt);
    fromPool(await publicIp(dflt));
    const seen = (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [dflt] }))).Reservations![0]!.Instances![0]!;
    assert.equal(seen.PublicDnsName, `ec2-${seen.PublicIpAddress!.replace(/\./g, '-')}.compute-1.amazonaws.com`);
    assert.deepEqual((await t.ec2.send(new DescribeAddressesCommand({}))).Addresses, [], 'not an Elastic IP');
    const defaultSubnet = seen.SubnetId!;
    const optedOut = await run({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: defaultSubnet, AssociatePublicIpAddress: false }] });
    await running(optedOut);
    assert.equal(await publicIp(optedOut), undefined, 'AssociatePublicIpAddress=false overrides the subnet');

    // A subnet of one's own maps none until told to; the request can ask for one anyway.
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.50.0.0/16' }))).Vpc!.VpcId!;
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.50.1.0/24' }))).Subnet!.SubnetId!;
    const plain = await run({ SubnetId: subnet });
    const asked = await run({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: subnet, AssociatePublicIpAddress: true }] });
    await t.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnet, MapPublicIpOnLaunch: { Value: true } }));
    assert.equal((await t.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet] }))).Subnets![0]!.MapPublicIpOnLaunch, true);
    const mapped = await run({ SubnetId: subnet });
    for (const id of [plain, asked, mapped]) await running(id);
    assert.equal(await publicIp(plain), undefined);
    fromPool(await publicIp(asked));
    fromPool(await publicIp(mapped));
    assert.notEqual(await publicIp(asked), await publicIp(mapped));

    // Released at stop, a new one at start (as AWS: not the one it gave back, though that one is free).
    const before = await publicIp(asked);
    await t.ec2.send(new StopInstancesCommand({ InstanceIds: [asked] }));
    await waitUntilInstanceStopped({ ...wait, client: t.ec2 }, { InstanceIds: [asked] });
    assert.equal(await publicIp(asked), undefined, 'a stopped instance has no public address');
    await t.ec2.send(new StartInstancesCommand({ InstanceIds: [asked] }));
    await running(asked);
    fromPool(await publicIp(asked));
    assert.notEqual(await publicIp(asked), before, 'a started instance gets a new public address');

    // An Elastic IP replaces it; disassociated, the instance gets a public address of the pool again.
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const assoc = (await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: mapped, AllowReassociation: false }))).AssociationId!;
    assert.equal(await publicIp(mapped), eip.PublicIp);
    await t.ec2.send(new DisassociateAddressCommand({ AssociationId: assoc }));
    const fresh = await publicIp(mapped);
    fromPool(fresh);
    assert.notEqual(fresh, eip.PublicIp);
    assert.equal((await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses![0]!.AssociationId, undefined);
    // Its address is not an Elastic IP the account could take.
    await assert.rejects(t.ec2.send(new AssociateAddressCommand({ PublicIp: fresh, InstanceId: asked })), (e: Error) => e.name === 'InvalidAddress.NotFound');
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));

    // Released at termination: the pool gives it out again.
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [mapped] }));
    await waitUntilInstanceTerminated({ ...wait, client: t.ec2 }, { InstanceIds: [mapped] });
    // Elastic IPs come lowest free first: a few of them reach the address the terminated instance held.
    const taken: string[] = [];
    let reused: string | undefined;
    for (let i = 0; i < 16 && reused !== fresh; i++) {
      const a = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
      taken.push(a.AllocationId!);
      reused = a.PublicIp;
    }
    assert.equal(reused, fresh, 'the terminated instance\'s address is back in the pool');
    for (const id of taken) await t.ec2.send(new ReleaseAddressCommand({ AllocationId: id }));
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [dflt, optedOut, plain, asked] }));
  });

  it('disassociates an Elastic IP whose interface goes (termination, DeleteNetworkInterface): still allocated, free to release', async () => {
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.51.0.0/16' }))).Vpc!.VpcId!;
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.51.1.0/24' }))).Subnet!.SubnetId!;
    const address = async (allocationId: string) => (await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }))).Addresses![0]!;

    // On an instance's primary interface (DeleteOnTermination, as RunInstances makes it): terminated, the address stays
    // the account's with no association, and can be released or associated again.
    const id = (await t.ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, SubnetId: subnet }))).Instances![0]!.InstanceId!;
    await running(id);
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: id }));
    assert.equal(await publicIp(id), eip.PublicIp);
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ ...wait, client: t.ec2 }, { InstanceIds: [id] });
    const after = await address(eip.AllocationId!);
    assert.deepEqual([after.PublicIp, after.AssociationId, after.NetworkInterfaceId, after.PrivateIpAddress, after.InstanceId], [eip.PublicIp, undefined, undefined, undefined, undefined]);

    // On an interface of its own, deleted: the same.
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }))).NetworkInterface!.NetworkInterfaceId!;
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, NetworkInterfaceId: eni }));
    assert.equal((await address(eip.AllocationId!)).NetworkInterfaceId, eni);
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }));
    assert.equal((await address(eip.AllocationId!)).AssociationId, undefined);
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    assert.deepEqual((await t.ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'allocation-id', Values: [eip.AllocationId!] }] }))).Addresses, []);
  });

  it('keeps an Elastic IP\'s reverse DNS name: AWS\'s default, a domain set, reset, with AWS\'s errors', async () => {
    const a = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const dflt = `ec2-${a.PublicIp!.replace(/\./g, '-')}.compute-1.amazonaws.com.`;
    const attr = async () => (await t.ec2.send(new DescribeAddressesAttributeCommand({ AllocationIds: [a.AllocationId!], Attribute: 'domain-name' }))).Addresses!;
    assert.deepEqual(await attr(), [{ PublicIp: a.PublicIp, AllocationId: a.AllocationId, PtrRecord: dflt }]);
    const changed = (await t.ec2.send(new ModifyAddressAttributeCommand({ AllocationId: a.AllocationId, DomainName: 'mail.example.com' }))).Address!;
    assert.deepEqual([changed.PtrRecord, changed.PtrRecordUpdate?.Value, changed.PtrRecordUpdate?.Status], [dflt, 'mail.example.com.', 'PENDING']);
    assert.equal((await attr())[0]!.PtrRecord, 'mail.example.com.');
    const reset = (await t.ec2.send(new ResetAddressAttributeCommand({ AllocationId: a.AllocationId, Attribute: 'domain-name' }))).Address!;
    assert.deepEqual([reset.PtrRecord, reset.PtrRecordUpdate?.Value], ['mail.example.com.', dflt]);
    assert.equal((await attr())[0]!.PtrRecord, dflt);
    const code = (name: string) => (e: Error) => (assert.equal(e.name, name), true);
    await assert.rejects(t.ec2.send(new ModifyAddressAttributeCommand({ AllocationId: a.AllocationId, DomainName: 'not a domain' })), code('InvalidParameterValue'));
    await assert.rejects(t.ec2.send(new ModifyAddressAttributeCommand({ AllocationId: 'eipalloc-00000000000000000', DomainName: 'a.example.com' })), code('InvalidAllocationID.NotFound'));
    await assert.rejects(t.other.send(new ModifyAddressAttributeCommand({ AllocationId: a.AllocationId, DomainName: 'a.example.com' })), code('InvalidAllocationID.NotFound'));
    await assert.rejects(t.ec2.send(new DescribeAddressesAttributeCommand({ Attribute: 'nope' as 'domain-name' })), code('InvalidParameterValue'));
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId }));
  });
});
