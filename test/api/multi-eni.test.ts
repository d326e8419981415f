import assert from 'node:assert/strict';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachInternetGatewayCommand,
  CreateInternetGatewayCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeNetworkInterfacesCommand,
  RunInstancesCommand,
  ReleaseAddressCommand,
  TerminateInstancesCommand,
  waitUntilInstanceTerminated,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';
import { buildTree, lookup } from '../../src/services/metadata/tree.js';

/**
 * RunInstances with several NetworkInterfaces on the records (noop backends): new ENIs and existing ones at
 * their device indexes, what DescribeInstances and DescribeNetworkInterfaces show, the filters that read every
 * interface, DeleteOnTermination at termination, and AWS's refusals. The data plane's side (eth1 inside a
 * container, each interface reached as its groups allow) is in vpc-nacl-traffic.test.ts.
 */
describe('RunInstances with several network interfaces', () => {
  let imageId: string;
  let vpcId: string;
  let subnetA: string;
  let subnetB: string;
  let otherZone: string;
  let groupA: string;
  let groupB: string;
  const t = useTestServer();
  before(async () => {
    imageId = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.91.0.0/16' }))).Vpc!.VpcId!;
    const subnet = async (cidr: string, zone: string) => (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone }))).Subnet!.SubnetId!;
    subnetA = await subnet('10.91.1.0/24', 'us-east-1a');
    subnetB = await subnet('10.91.2.0/24', 'us-east-1a');
    otherZone = await subnet('10.91.3.0/24', 'us-east-1b');
    const group = async (name: string) => (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: name, Description: name }))).GroupId!;
    groupA = await group('a');
    groupB = await group('b');
  });

  const run = (extra: Partial<RunInstancesCommandInput>) => t.ec2.send(new RunInstancesCommand({ ImageId: imageId, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', ...extra }));
  const eni = async (subnetId: string, ip: string) => (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Groups: [groupB], PrivateIpAddress: ip, Description: 'kept' }))).NetworkInterface!.NetworkInterfaceId!;
  const describeEni = async (id: string) => (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces![0];
  const byFilter = async (name: string, value: string) =>
    (await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: name, Values: [value] }] }))).Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId));
  const terminate = async (id: string) => {
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: t.ec2, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { InstanceIds: [id] });
  };

  it('launches new and existing ENIs at their device indexes, shows them all, filters on every address, and honours DeleteOnTermination', async () => {
    const kept = await eni(subnetA, '10.91.1.77');
    const r = await run({
      NetworkInterfaces: [
        { DeviceIndex: 0, SubnetId: subnetA, Groups: [groupA], PrivateIpAddress: '10.91.1.10', Description: 'front' },
        { DeviceIndex: 1, SubnetId: subnetB, Groups: [groupB], PrivateIpAddress: '10.91.2.10', SecondaryPrivateIpAddressCount: 1, Description: 'back' },
        { DeviceIndex: 2, NetworkInterfaceId: kept },
      ],
    });
    const inst = r.Instances![0]!;
    assert.equal(inst.PrivateIpAddress, '10.91.1.10', 'the instance\'s address is its primary interface\'s');
    assert.equal(inst.SubnetId, subnetA);
    assert.deepEqual(inst.SecurityGroups!.map((g) => g.GroupId), [groupA]);
    assert.equal(inst.PublicIpAddress, undefined, 'no public address with several interfaces');
    const shown = inst.NetworkInterfaces!.map((n) => [n.Attachment!.DeviceIndex, n.SubnetId, n.PrivateIpAddress, n.Groups!.map((g) => g.GroupId), n.Description, n.Attachment!.DeleteOnTermination]);
    assert.deepEqual(shown, [
      [0, subnetA, '10.91.1.10', [groupA], 'front', true],
      [1, subnetB, '10.91.2.10', [groupB], 'back', true],
      [2, subnetA, '10.91.1.77', [groupB], 'kept', false],
    ]);
    const back = inst.NetworkInterfaces![1]!;
    assert.equal(back.PrivateIpAddresses!.length, 2, 'the secondary address counted for device 1');
    const secondary = back.PrivateIpAddresses!.find((a) => !a.Primary)!.PrivateIpAddress!;
    assert.equal((await describeEni(kept))!.Status, 'in-use');
    assert.equal((await describeEni(kept))!.Attachment!.InstanceId, inst.InstanceId);

    // Filters: the primary address only for private-ip-address; any interface's (secondary ones too) otherwise.
    assert.deepEqual(await byFilter('private-ip-address', '10.91.1.10'), [inst.InstanceId]);
    assert.deepEqual(await byFilter('private-ip-address', '10.91.2.10'), []);
    assert.deepEqual(await byFilter('network-interface.addresses.private-ip-address', '10.91.2.10'), [inst.InstanceId]);
    assert.deepEqual(await byFilter('network-interface.addresses.private-ip-address', secondary), [inst.InstanceId], 'a secondary address of device 1');
    assert.deepEqual(await byFilter('network-interface.private-ip-address', '10.91.1.77'), [inst.InstanceId]);
    assert.deepEqual(await byFilter('network-interface.private-ip-address', secondary), [], 'primary addresses of the interfaces only');
    assert.deepEqual(await byFilter('network-interface.network-interface-id', kept), [inst.InstanceId]);
    assert.deepEqual(await byFilter('network-interface.subnet-id', subnetB), [inst.InstanceId]);

    // Termination: the ENIs made at launch go, the existing one is detached and available again.
    await terminate(inst.InstanceId!);
    for (const n of inst.NetworkInterfaces!.slice(0, 2)) assert.equal(await describeEni(n.NetworkInterfaceId!).catch((e: Error) => e.name), 'InvalidNetworkInterfaceID.NotFound');
    const after = (await describeEni(kept))!;
    assert.equal(after.Status, 'available');
    assert.equal(after.Attachment, undefined);
    assert.equal(after.PrivateIpAddress, '10.91.1.77', 'with its address');
  });

  it('lists every attached interface in the instance metadata, answered from any of its addresses', async () => {
    const inst = (await run({
      NetworkInterfaces: [
        { DeviceIndex: 0, SubnetId: subnetA, Groups: [groupA], PrivateIpAddress: '10.91.1.40' },
        { DeviceIndex: 1, SubnetId: subnetB, Groups: [groupB, groupA], PrivateIpAddress: '10.91.2.40', SecondaryPrivateIpAddressCount: 1 },
      ],
    })).Instances![0]!;
    const [eth0, eth1] = [0, 1].map((i) => inst.NetworkInterfaces!.find((n) => n.Attachment!.DeviceIndex === i)!);
    const secondary = eth1!.PrivateIpAddresses!.find((a) => !a.Primary)!.PrivateIpAddress!;
    // An Elastic IP on the second interface only: its own public address, none on eth0.
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, NetworkInterfaceId: eth1!.NetworkInterfaceId }));
    const md = await t.s.services.metadata.byAddress(vpcId, '10.91.1.40');
    assert.ok(md, 'the instance is found by its primary address');
    const tree = buildTree(md);
    const get = (p: string) => {
      const r = lookup(tree, `meta-data/${p}`);
      return r.status === 200 ? String(r.body) : r.status;
    };
    assert.equal(get('network/interfaces/macs/'), `${eth0!.MacAddress}/\n${eth1!.MacAddress}/`);
    const at = (mac: string, leaf: string) => get(`network/interfaces/macs/${mac}/${leaf}`);
    assert.deepEqual(
      ['device-number', 'interface-id', 'mac', 'local-ipv4s', 'subnet-id', 'subnet-ipv4-cidr-block', 'vpc-id', 'vpc-ipv4-cidr-block', 'security-group-ids', 'security-groups', 'owner-id'].map((l) => at(eth1!.MacAddress!, l)),
      ['1', eth1!.NetworkInterfaceId, eth1!.MacAddress, `10.91.2.40\n${secondary}`, subnetB, '10.91.2.0/24', vpcId, '10.91.0.0/16', `${groupB}\n${groupA}`, 'b\na', '000000000000'],
    );
    assert.deepEqual(
      ['device-number', 'interface-id', 'local-ipv4s', 'subnet-id', 'security-group-ids'].map((l) => at(eth0!.MacAddress!, l)),
      ['0', eth0!.NetworkInterfaceId, '10.91.1.40', subnetA, groupA],
    );
    assert.equal(at(eth1!.MacAddress!, 'public-ipv4s'), eip.PublicIp, 'the second interface\'s Elastic IP');
    assert.equal(at(eth0!.MacAddress!, 'public-ipv4s'), 404, 'none on eth0');
    assert.equal(get('public-ipv4'), 404, 'the instance\'s public address is eth0\'s: none');
    assert.equal(get('mac'), eth0!.MacAddress);
    assert.equal(get('local-ipv4'), '10.91.1.40');
    // A request from the second interface's address (or its secondary one) is the same instance's.
    for (const ip of ['10.91.2.40', secondary]) assert.equal((await t.s.services.metadata.byAddress(vpcId, ip))?.instanceId, inst.InstanceId, ip);
    await terminate(inst.InstanceId!);
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    assert.equal(await t.s.services.metadata.byAddress(vpcId, '10.91.2.40'), undefined, 'nobody once terminated');
  });

  it('launches on an existing ENI at device index 0, and keeps or deletes it as its DeleteOnTermination says', async () => {
    const primary = await eni(subnetB, '10.91.2.50');
    const mac = (await describeEni(primary))!.MacAddress;
    const inst = (await run({ NetworkInterfaces: [{ DeviceIndex: 0, NetworkInterfaceId: primary }] })).Instances![0]!;
    assert.equal(inst.PrivateIpAddress, '10.91.2.50');
    assert.equal(inst.SubnetId, subnetB);
    assert.deepEqual(inst.SecurityGroups!.map((g) => g.GroupId), [groupB], 'the ENI\'s own groups');
    assert.equal(inst.NetworkInterfaces![0]!.MacAddress, mac);
    assert.equal(inst.NetworkInterfaces![0]!.Attachment!.DeleteOnTermination, false, 'an existing ENI is kept by default');
    await fails(run({ NetworkInterfaces: [{ DeviceIndex: 0, NetworkInterfaceId: primary }] }), 'InvalidNetworkInterface.InUse');
    await terminate(inst.InstanceId!);
    assert.equal((await describeEni(primary))!.Status, 'available');

    // The same ENI again, now to be deleted with the instance.
    const again = (await run({ NetworkInterfaces: [{ DeviceIndex: 0, NetworkInterfaceId: primary, DeleteOnTermination: true }] })).Instances![0]!;
    assert.equal(again.NetworkInterfaces![0]!.Attachment!.DeleteOnTermination, true);
    await terminate(again.InstanceId!);
    assert.equal(await describeEni(primary).catch((e: Error) => e.name), 'InvalidNetworkInterfaceID.NotFound');
  });

  it('refuses what AWS refuses, and leaves nothing behind', async () => {
    const free = await eni(subnetA, '10.91.1.90');
    const other = await eni(otherZone, '10.91.3.90');
    const p = (DeviceIndex: number | undefined, more: object = {}) => ({ DeviceIndex, SubnetId: subnetA, ...more });
    await fails(run({ SubnetId: subnetA, NetworkInterfaces: [p(0)] }), 'InvalidParameterCombination');
    await fails(run({ SecurityGroupIds: [groupA], NetworkInterfaces: [p(0)] }), 'InvalidParameterCombination');
    await fails(run({ PrivateIpAddress: '10.91.1.5', NetworkInterfaces: [p(0)] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(1)] }), 'InvalidParameterValue'); // no device at index 0
    await fails(run({ NetworkInterfaces: [p(0), p(1), p(1)] }), 'InvalidParameterValue'); // duplicate index
    await fails(run({ NetworkInterfaces: [p(0), p(undefined)] }), 'InvalidParameterValue'); // no index
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: free, SubnetId: subnetA }] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: free, Groups: [groupA] }] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: free, PrivateIpAddress: '10.91.1.90' }] }), 'InvalidParameterCombination');
    await fails(run({ MaxCount: 2, NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: free }] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: other }] }), 'InvalidParameterCombination'); // another zone
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, SubnetId: otherZone }] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: 'eni-0123456789abcdef0' }] }), 'InvalidNetworkInterfaceID.NotFound');
    await fails(run({ NetworkInterfaces: [p(0, { AssociatePublicIpAddress: true }), p(1, { SubnetId: subnetB })] }), 'InvalidParameterCombination');
    await fails(run({ NetworkInterfaces: [p(0), p(1, { Groups: ['sg-0123456789abcdef0'] })] }), 'InvalidGroup.NotFound');
    // t3.micro takes 3 interfaces (the type's limit, as DescribeInstanceTypes says).
    await fails(run({ NetworkInterfaces: [p(0), p(1), p(2), p(3)] }), 'AttachmentLimitExceeded');
    // An address taken by the second interface fails the launch as a whole: the first one's address is free again.
    await fails(run({ NetworkInterfaces: [p(0, { PrivateIpAddress: '10.91.1.30' }), p(1, { PrivateIpAddress: '10.91.1.90' })] }), 'InvalidIPAddress.InUse');
    const used = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'addresses.private-ip-address', Values: ['10.91.1.30'] }] }))).NetworkInterfaces!;
    assert.deepEqual(used, [], 'no ENI was left by the failed launch');
    assert.equal((await describeEni(free))!.Status, 'available', 'the ENIs named by refused launches stay available');
    // DryRun answers with the same rules.
    await fails(run({ DryRun: true, NetworkInterfaces: [p(1)] }), 'InvalidParameterValue');
    await fails(run({ DryRun: true, NetworkInterfaces: [p(0), { DeviceIndex: 1, NetworkInterfaceId: free }] }), 'DryRunOperation');
  });
});
