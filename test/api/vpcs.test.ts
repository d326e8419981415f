import assert from 'node:assert/strict';
import {
  CreateVpcCommand,
  DeleteVpcCommand,
  DescribeVpcsCommand,
  DescribeVpcAttributeCommand,
  ModifyVpcAttributeCommand,
  CreateDefaultVpcCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeSubnetsCommand,
  ModifySubnetAttributeCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  AuthorizeSecurityGroupIngressCommand,
  AuthorizeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  DescribeImagesCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
  ModifyInstanceAttributeCommand,
  DescribeInstanceAttributeCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';
import { eventually } from '../support/eventually.js';

/** The VPC API's AWS semantics and error codes (noop backends: records only). */
describe('the VPC API: VPCs, subnets, security groups and their errors', () => {
  const t = useTestServer();

  it('creates a VPC with its default security group, refuses bad ranges, and deletes it only when empty', async () => {
    await fails(t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/8' })), 'InvalidVpc.Range');
    await fails(t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/29' })), 'InvalidVpc.Range');
    await fails(t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.300/16' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16', DryRun: true })), 'DryRunOperation');
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'v' }] }] }))).Vpc!;
    assert.equal(vpc.CidrBlock, '10.9.0.0/16');
    assert.equal(vpc.IsDefault, false);
    assert.deepEqual(vpc.Tags, [{ Key: 'Name', Value: 'v' }]);
    const groups = (await t.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).SecurityGroups!;
    assert.deepEqual(groups.map((g) => g.GroupName), ['default']);
    assert.equal(groups[0]!.IpPermissions![0]!.UserIdGroupPairs![0]!.GroupId, groups[0]!.GroupId, 'the default group admits its own members');

    assert.equal((await t.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpc.VpcId, Attribute: 'enableDnsSupport' }))).EnableDnsSupport!.Value, true);
    assert.equal((await t.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpc.VpcId, Attribute: 'enableDnsHostnames' }))).EnableDnsHostnames!.Value, false);
    await t.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpc.VpcId, EnableDnsHostnames: { Value: true } }));
    assert.equal((await t.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpc.VpcId, Attribute: 'enableDnsHostnames' }))).EnableDnsHostnames!.Value, true);

    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.9.1.0/24', AvailabilityZone: 'us-east-1b' }))).Subnet!;
    assert.equal(subnet.AvailableIpAddressCount, 251, 'AWS keeps five addresses of every subnet');
    assert.equal(subnet.MapPublicIpOnLaunch, false);
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.9.1.128/25' })), 'InvalidSubnet.Conflict');
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.10.0.0/24' })), 'InvalidSubnet.Range');
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.9.0.0/29' })), 'InvalidSubnet.Range');
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: 'vpc-0123456789abcdef0', CidrBlock: '10.9.2.0/24' })), 'InvalidVpcID.NotFound');
    await t.ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnet.SubnetId, MapPublicIpOnLaunch: { Value: true } }));
    assert.equal((await t.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] }))).Subnets![0]!.MapPublicIpOnLaunch, true);

    const sg = await t.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web', VpcId: vpc.VpcId }));
    await fails(t.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'again', VpcId: vpc.VpcId })), 'InvalidGroup.Duplicate');
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: groups[0]!.GroupId })), 'CannotDelete');

    // An instance in the subnet holds it and its groups.
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const run = await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId, SecurityGroupIds: [sg.GroupId!], PrivateIpAddress: '10.9.1.50' }));
    const inst = run.Instances![0]!;
    assert.equal(inst.PrivateIpAddress, '10.9.1.50');
    await fails(t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId })), 'DependencyViolation');
    await fails(t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId, PrivateIpAddress: '10.9.1.50' })), 'InvalidIPAddress.InUse');
    assert.equal((await t.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] }))).Subnets![0]!.AvailableIpAddressCount, 250);
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await eventually('the subnet\'s addresses free again', async () => (await t.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet.SubnetId!] }))).Subnets![0]!.AvailableIpAddressCount === 251);

    await t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg.GroupId }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    await fails(t.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.VpcId!] })), 'InvalidVpcID.NotFound');
    await fails(t.ec2.send(new CreateDefaultVpcCommand({})), 'DefaultVpcAlreadyExists');
  });

  it('authorizes and revokes rules with AWS codes for duplicates, unknown rules and bad input', async () => {
    const vpcId = (await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!.VpcId!;
    const sg = (await t.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'rules', Description: 'rules', VpcId: vpcId }))).GroupId!;
    const other = (await t.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'peer', Description: 'peer', VpcId: vpcId }))).GroupId!;
    const ssh = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] };
    const r = await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [ssh, { IpProtocol: 'icmp', FromPort: 8, ToPort: -1, UserIdGroupPairs: [{ GroupId: other }] }] }));
    assert.equal(r.SecurityGroupRules!.length, 2);
    assert.ok(r.SecurityGroupRules!.every((x) => x.SecurityGroupRuleId?.startsWith('sgr-')));
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [ssh] })), 'InvalidPermission.Duplicate');
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 10, ToPort: 70000, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })), 'InvalidParameterValue');
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: 'gre2', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] })), 'InvalidParameterValue');
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '1.2.3/8' }] }] })), 'InvalidParameterValue');
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-0123456789abcdef0' }] }] })), 'InvalidGroup.NotFound');
    await fails(t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: 'sg-0123456789abcdef0', IpPermissions: [ssh] })), 'InvalidGroup.NotFound');
    await t.ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: sg, IpPermissions: [{ IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '10.0.0.2/32' }] }] }));
    const g = (await t.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups![0]!;
    assert.equal(g.IpPermissions!.length, 2);
    assert.equal(g.IpPermissionsEgress!.length, 2);
    await fails(t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: other })), 'DependencyViolation');
    const rules = (await t.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [sg] }] }))).SecurityGroupRules!;
    assert.deepEqual(rules.map((x) => [x.IsEgress, x.IpProtocol, x.FromPort, x.ToPort, x.CidrIpv4 ?? x.ReferencedGroupInfo?.GroupId]).sort(), [
      [false, 'icmp', 8, -1, other], [false, 'tcp', 22, 22, '10.0.0.0/8'], [true, '-1', -1, -1, '0.0.0.0/0'], [true, 'udp', 53, 53, '10.0.0.2/32'],
    ]);
    await fails(t.ec2.send(new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: ['sgr-0123456789abcdef0'] })), 'InvalidSecurityGroupRuleId.NotFound');
    await t.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [ssh] }));
    await fails(t.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg, IpPermissions: [ssh] })), 'InvalidPermission.NotFound');
    await t.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: sg, SecurityGroupRuleIds: [r.SecurityGroupRules![1]!.SecurityGroupRuleId!] }));
    assert.equal((await t.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [sg] }))).SecurityGroups![0]!.IpPermissions!.length, 0);
    await t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: other }));
    await t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }));
  });

  it('keeps ENIs as records: RunInstances makes the primary one; Create/Describe/Modify/Delete; groups change live', async () => {
    const subnet = (await t.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets![0]!;
    const sg = (await t.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'eni', Description: 'eni', VpcId: subnet.VpcId }))).GroupId!;
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId, Description: 'spare', Groups: [sg] }))).NetworkInterface!;
    assert.equal(eni.Status, 'available');
    assert.match(eni.MacAddress!, /^02(:[0-9a-f]{2}){5}$/);
    assert.deepEqual(eni.Groups!.map((g) => g.GroupName), ['eni']);
    await fails(t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId, PrivateIpAddress: eni.PrivateIpAddress })), 'InvalidIPAddress.InUse');
    await t.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, SourceDestCheck: { Value: false } }));
    await t.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, Description: { Value: 'changed' } }));
    const seen = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'description', Values: ['changed'] }] }))).NetworkInterfaces!;
    assert.deepEqual(seen.map((x) => [x.NetworkInterfaceId, x.SourceDestCheck]), [[eni.NetworkInterfaceId, false]]);

    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId }))).Instances![0]!;
    const primary = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId!] }] }))).NetworkInterfaces!;
    assert.equal(primary.length, 1);
    assert.equal(primary[0]!.PrivateIpAddress, inst.PrivateIpAddress);
    assert.equal(primary[0]!.Attachment!.DeviceIndex, 0);
    assert.equal(primary[0]!.Status, 'in-use');
    await fails(t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: primary[0]!.NetworkInterfaceId })), 'InvalidNetworkInterface.InUse');
    await fails(t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: inst.InstanceId, Groups: ['sg-0123456789abcdef0'] })), 'InvalidGroup.NotFound');
    await t.ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: inst.InstanceId, Groups: [sg] }));
    const attr = await t.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: inst.InstanceId, Attribute: 'groupSet' }));
    assert.deepEqual(attr.Groups!.map((g) => g.GroupId), [sg]);
    assert.deepEqual((await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [primary[0]!.NetworkInterfaceId!] }))).NetworkInterfaces![0]!.Groups!.map((g) => g.GroupId), [sg]);
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await eventually('the instance\'s interfaces gone', async () => !(await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId!] }] }))).NetworkInterfaces!.length);
    await fails(t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg })), 'DependencyViolation');
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId }));
    await fails(t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.NetworkInterfaceId!] })), 'InvalidNetworkInterfaceID.NotFound');
    await t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }));
  });
});

