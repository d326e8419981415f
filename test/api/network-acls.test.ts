import assert from 'node:assert/strict';
import {
  CreateVpcCommand,
  DeleteVpcCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  CreateDefaultVpcCommand,
  DescribeVpcsCommand,
  DescribeNetworkAclsCommand,
  CreateNetworkAclCommand,
  DeleteNetworkAclCommand,
  CreateNetworkAclEntryCommand,
  ReplaceNetworkAclEntryCommand,
  DeleteNetworkAclEntryCommand,
  ReplaceNetworkAclAssociationCommand,
  CreateTagsCommand,
  CreateDhcpOptionsCommand,
  DescribeDhcpOptionsCommand,
  DeleteDhcpOptionsCommand,
  AssociateDhcpOptionsCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  DescribeNetworkInterfacesCommand,
  AttachNetworkInterfaceCommand,
  DetachNetworkInterfaceCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  DescribeImagesCommand,
  type NetworkAcl,
  waitUntilInstanceRunning,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';
import { eventually } from '../support/eventually.js';

/** Network ACLs' records and AWS's errors (noop backends: records only; test/api/vpc-nacl-traffic.test.ts has the traffic). */
describe('network ACLs, DHCP options and ENI attachments: defaults of each VPC, entries, associations and their errors', () => {
  const t = useTestServer();

  const aclsOf = async (vpcId: string): Promise<NetworkAcl[]> =>
    (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).NetworkAcls!;
  const entries = (a: NetworkAcl, egress: boolean) =>
    a.Entries!.filter((e) => e.Egress === egress).map((e) => `${e.RuleNumber} ${e.Protocol} ${e.RuleAction} ${e.CidrBlock}${e.PortRange ? ` ${e.PortRange.From}-${e.PortRange.To}` : ''}`);

  it('gives every VPC (the default one too) a default ACL that allows all, with every subnet associated', async () => {
    await t.ec2.send(new DescribeVpcsCommand({})); // makes the account's default VPC
    const dflt = (await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
    const [dacl] = await aclsOf(dflt.VpcId!);
    assert.equal(dacl!.IsDefault, true);
    assert.ok(dacl!.Associations!.length >= 1, 'the default subnets are associated with it');
    assert.deepEqual(entries(dacl!, false), ['100 -1 allow 0.0.0.0/0', '32767 -1 deny 0.0.0.0/0']);
    assert.deepEqual(entries(dacl!, true), ['100 -1 allow 0.0.0.0/0', '32767 -1 deny 0.0.0.0/0']);

    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.20.1.0/24' }))).Subnet!;
    const acls = await aclsOf(vpc.VpcId!);
    assert.equal(acls.length, 1);
    assert.equal(acls[0]!.IsDefault, true);
    assert.deepEqual(acls[0]!.Associations!.map((a) => a.SubnetId), [subnet.SubnetId]);
    assert.match(acls[0]!.Associations![0]!.NetworkAclAssociationId!, /^aclassoc-[0-9a-f]{17}$/);
    const bySubnet = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet.SubnetId!] }] }))).NetworkAcls!;
    assert.deepEqual(bySubnet.map((a) => a.NetworkAclId), [acls[0]!.NetworkAclId]);
    const defaults = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'default', Values: ['true'] }, { Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).NetworkAcls!;
    assert.equal(defaults.length, 1);

    // Another account sees none of them.
    const other = t.other;
    await fails(other.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [acls[0]!.NetworkAclId!] })), 'InvalidNetworkAclID.NotFound');

    // DeleteVpc takes its default ACL with it.
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    await fails(t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [acls[0]!.NetworkAclId!] })), 'InvalidNetworkAclID.NotFound');
    await fails(t.ec2.send(new CreateDefaultVpcCommand({})), 'DefaultVpcAlreadyExists');
  });

  it('creates ACLs and entries, replaces associations, and answers AWS\'s errors', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.21.0.0/16' }))).Vpc!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.21.1.0/24' }))).Subnet!;
    const [dacl] = await aclsOf(vpc.VpcId!);
    await fails(t.ec2.send(new CreateNetworkAclCommand({ VpcId: 'vpc-0123456789abcdef0' })), 'InvalidVpcID.NotFound');
    await fails(t.ec2.send(new CreateNetworkAclCommand({ VpcId: vpc.VpcId, DryRun: true })), 'DryRunOperation');
    const acl = (await t.ec2.send(new CreateNetworkAclCommand({ VpcId: vpc.VpcId, TagSpecifications: [{ ResourceType: 'network-acl', Tags: [{ Key: 'Name', Value: 'strict' }] }] }))).NetworkAcl!;
    assert.equal(acl.IsDefault, false);
    assert.deepEqual(acl.Associations, []);
    assert.deepEqual(acl.Tags, [{ Key: 'Name', Value: 'strict' }]);
    assert.deepEqual(entries(acl, false), ['32767 -1 deny 0.0.0.0/0'], 'a new ACL denies everything');
    await t.ec2.send(new CreateTagsCommand({ Resources: [acl.NetworkAclId!], Tags: [{ Key: 'k', Value: 'v' }] }));

    const id = acl.NetworkAclId!;
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 100, Protocol: 'tcp', RuleAction: 'allow', Egress: false, CidrBlock: '10.0.0.0/8', PortRange: { From: 80, To: 80 } }));
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 100, Protocol: '6', RuleAction: 'allow', Egress: true, CidrBlock: '0.0.0.0/0', PortRange: { From: 1024, To: 65535 } }));
    await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 90, Protocol: '1', RuleAction: 'deny', Egress: false, CidrBlock: '10.0.0.7/32', IcmpTypeCode: { Type: 8, Code: -1 } }));
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 100, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' })), 'NetworkAclEntryAlreadyExists');
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 32767, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 5, Protocol: '-1', RuleAction: 'maybe' as 'allow', Egress: false, CidrBlock: '0.0.0.0/0' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 5, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '10.0.0.300/8' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: 'acl-0123456789abcdef0', RuleNumber: 5, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' })), 'InvalidNetworkAclID.NotFound');
    await fails(t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: 'acl-nothex', RuleNumber: 5, Protocol: '-1', RuleAction: 'deny', Egress: false, CidrBlock: '0.0.0.0/0' })), 'InvalidNetworkAclID.Malformed');
    let now = (await t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [id] }))).NetworkAcls![0]!;
    assert.deepEqual(entries(now, false), ['90 1 deny 10.0.0.7/32', '100 6 allow 10.0.0.0/8 80-80', '32767 -1 deny 0.0.0.0/0'], 'in rule-number order, protocols as numbers');
    assert.deepEqual(now.Entries!.find((e) => e.RuleNumber === 90)!.IcmpTypeCode, { Type: 8, Code: -1 });
    assert.deepEqual(entries(now, true), ['100 6 allow 0.0.0.0/0 1024-65535', '32767 -1 deny 0.0.0.0/0']);
    const byEntry = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'entry.rule-number', Values: ['90'] }, { Name: 'vpc-id', Values: [vpc.VpcId!] }] }))).NetworkAcls!;
    assert.deepEqual(byEntry.map((a) => a.NetworkAclId), [id]);

    await t.ec2.send(new ReplaceNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 100, Protocol: 'tcp', RuleAction: 'allow', Egress: false, CidrBlock: '10.0.0.0/8', PortRange: { From: 80, To: 81 } }));
    await fails(t.ec2.send(new ReplaceNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 101, Protocol: '-1', RuleAction: 'allow', Egress: false, CidrBlock: '0.0.0.0/0' })), 'InvalidNetworkAclEntry.NotFound');
    await t.ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 90, Egress: false }));
    await fails(t.ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 90, Egress: false })), 'InvalidNetworkAclEntry.NotFound');
    await fails(t.ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: id, RuleNumber: 100, Egress: false, DryRun: true })), 'DryRunOperation');
    now = (await t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [id] }))).NetworkAcls![0]!;
    assert.deepEqual(entries(now, false), ['100 6 allow 10.0.0.0/8 80-81', '32767 -1 deny 0.0.0.0/0']);

    // The subnet moves to the new ACL under a new association id, and back.
    const oldAssoc = dacl!.Associations![0]!.NetworkAclAssociationId!;
    await fails(t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: 'aclassoc-0123456789abcdef0', NetworkAclId: id })), 'InvalidAssociationID.NotFound');
    const moved = (await t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: oldAssoc, NetworkAclId: id }))).NewAssociationId!;
    assert.notEqual(moved, oldAssoc);
    now = (await t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [id] }))).NetworkAcls![0]!;
    assert.deepEqual(now.Associations, [{ NetworkAclAssociationId: moved, NetworkAclId: id, SubnetId: subnet.SubnetId }]);
    assert.deepEqual((await t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [dacl!.NetworkAclId!] }))).NetworkAcls![0]!.Associations, []);

    await fails(t.ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: id })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: dacl!.NetworkAclId })), 'InvalidParameterValue');
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })), 'DependencyViolation');

    // An ACL of another VPC cannot take the subnet.
    const vpc2 = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.22.0.0/16' }))).Vpc!;
    const [dacl2] = await aclsOf(vpc2.VpcId!);
    await fails(t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: moved, NetworkAclId: dacl2!.NetworkAclId })), 'InvalidParameterValue');

    const back = (await t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: moved, NetworkAclId: dacl!.NetworkAclId }))).NewAssociationId!;
    assert.deepEqual((await t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [dacl!.NetworkAclId!] }))).NetworkAcls![0]!.Associations!.map((a) => a.NetworkAclAssociationId), [back]);
    await t.ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: id }));
    await fails(t.ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [id] })), 'InvalidNetworkAclID.NotFound');
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc2.VpcId }));
  });

  it('gives each account a real default DHCP options set that VPCs carry, and creates, associates and deletes sets', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.23.0.0/16' }))).Vpc!;
    assert.match(vpc.DhcpOptionsId!, /^dopt-[0-9a-f]{17}$/, 'a VPC carries its DHCP options set\'s id, not the word default');
    const [dflt] = (await t.ec2.send(new DescribeDhcpOptionsCommand({ DhcpOptionsIds: [vpc.DhcpOptionsId!] }))).DhcpOptions!;
    assert.deepEqual(dflt!.DhcpConfigurations, [
      { Key: 'domain-name', Values: [{ Value: 'ec2.internal' }] },
      { Key: 'domain-name-servers', Values: [{ Value: 'AmazonProvidedDNS' }] },
    ]);
    const other = t.other;
    const otherVpc = (await other.send(new DescribeVpcsCommand({}))).Vpcs![0]!;
    assert.notEqual(otherVpc.DhcpOptionsId, vpc.DhcpOptionsId, 'each account has its own default set');

    await fails(t.ec2.send(new CreateDhcpOptionsCommand({ DhcpConfigurations: [{ Key: 'domain-colour', Values: ['blue'] }] })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateDhcpOptionsCommand({ DhcpConfigurations: [{ Key: 'domain-name', Values: ['x.test'] }], DryRun: true })), 'DryRunOperation');
    const mine = (await t.ec2.send(new CreateDhcpOptionsCommand({
      DhcpConfigurations: [{ Key: 'domain-name', Values: ['corp.test'] }, { Key: 'domain-name-servers', Values: ['10.23.0.2', '10.23.0.3'] }],
      TagSpecifications: [{ ResourceType: 'dhcp-options', Tags: [{ Key: 'Name', Value: 'corp' }] }],
    }))).DhcpOptions!;
    assert.deepEqual(mine.Tags, [{ Key: 'Name', Value: 'corp' }]);
    const byValue = (await t.ec2.send(new DescribeDhcpOptionsCommand({ Filters: [{ Name: 'value', Values: ['corp.test'] }] }))).DhcpOptions!;
    assert.deepEqual(byValue.map((d) => d.DhcpOptionsId), [mine.DhcpOptionsId]);

    await t.ec2.send(new AssociateDhcpOptionsCommand({ VpcId: vpc.VpcId, DhcpOptionsId: mine.DhcpOptionsId }));
    const byOptions = (await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'dhcp-options-id', Values: [mine.DhcpOptionsId!] }] }))).Vpcs!;
    assert.deepEqual(byOptions.map((v) => v.VpcId), [vpc.VpcId]);
    await fails(t.ec2.send(new DeleteDhcpOptionsCommand({ DhcpOptionsId: mine.DhcpOptionsId })), 'DependencyViolation');
    await fails(t.ec2.send(new AssociateDhcpOptionsCommand({ VpcId: vpc.VpcId, DhcpOptionsId: 'dopt-0123456789abcdef0' })), 'InvalidDhcpOptionID.NotFound');
    await fails(other.send(new AssociateDhcpOptionsCommand({ VpcId: otherVpc.VpcId, DhcpOptionsId: mine.DhcpOptionsId })), 'InvalidDhcpOptionID.NotFound');

    await t.ec2.send(new AssociateDhcpOptionsCommand({ VpcId: vpc.VpcId, DhcpOptionsId: 'default' }));
    assert.equal((await t.ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc.VpcId!] }))).Vpcs![0]!.DhcpOptionsId, 'default', 'associated with no options, as AWS shows it');
    await t.ec2.send(new DeleteDhcpOptionsCommand({ DhcpOptionsId: mine.DhcpOptionsId }));
    await fails(t.ec2.send(new DescribeDhcpOptionsCommand({ DhcpOptionsIds: [mine.DhcpOptionsId!] })), 'InvalidDhcpOptionID.NotFound');
    await fails(t.ec2.send(new DeleteDhcpOptionsCommand({ DhcpOptionsId: dflt!.DhcpOptionsId })), 'DependencyViolation');
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
  });

  it('attaches a second ENI to an instance at device index 1 and detaches it; refuses what AWS refuses', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.24.0.0/16' }))).Vpc!;
    const subA = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.24.1.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!;
    const subB = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.24.2.0/24', AvailabilityZone: 'us-east-1b' }))).Subnet!;
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, SubnetId: subA.SubnetId }))).Instances![0]!;
    // AWS attaches to running or stopped instances only (a pending one: IncorrectInstanceState).
    await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [inst.InstanceId!] });
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subA.SubnetId }))).NetworkInterface!;
    const far = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subB.SubnetId }))).NetworkInterface!;

    await fails(t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: far.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 1 })), 'InvalidParameterCombination');
    await fails(t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 0 })), 'InvalidParameterValue');
    await fails(t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: 'i-0123456789abcdef0', DeviceIndex: 1 })), 'InvalidInstanceID.NotFound');
    await fails(t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 1, DryRun: true })), 'DryRunOperation');
    const att = (await t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 1 }))).AttachmentId!;
    assert.match(att, /^eni-attach-[0-9a-f]{17}$/);
    const shown = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.NetworkInterfaceId!] }))).NetworkInterfaces![0]!;
    assert.equal(shown.Attachment!.InstanceId, inst.InstanceId);
    assert.equal(shown.Attachment!.DeviceIndex, 1);
    assert.equal(shown.Attachment!.DeleteOnTermination, false, 'an attached interface is not deleted with the instance');
    await fails(t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 2 })), 'InvalidNetworkInterface.InUse');
    await fails(t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId })), 'InvalidNetworkInterface.InUse');

    const primary = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst.InstanceId!] }] }))).NetworkInterfaces!
      .find((n) => n.Attachment!.DeviceIndex === 0)!;
    await fails(t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: primary.Attachment!.AttachmentId })), 'OperationNotPermitted');
    await fails(t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: 'eni-attach-0123456789abcdef0' })), 'InvalidAttachmentID.NotFound');
    await t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: att }));
    assert.equal((await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.NetworkInterfaceId!] }))).NetworkInterfaces![0]!.Attachment, undefined);

    // Terminating the instance leaves an attached secondary interface, detached.
    await t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId, InstanceId: inst.InstanceId, DeviceIndex: 1 }));
    await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await eventually('the interface detached by the termination', async () => (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni.NetworkInterfaceId!] }))).NetworkInterfaces![0]!.Attachment === undefined);
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId }));
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: far.NetworkInterfaceId }));
  });
});

