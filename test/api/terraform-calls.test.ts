import assert from 'node:assert/strict';
import {
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateNetworkInterfaceCommand,
  DescribeVpcAttributeCommand,
  ModifyVpcAttributeCommand,
  RevokeSecurityGroupEgressCommand,
  DescribeSecurityGroupRulesCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

/**
 * Calls Terraform's AWS provider makes around aws_vpc, aws_security_group and aws_network_interface that a
 * handwritten client rarely does (found by applying them here), answered as AWS answers them. Noop backends.
 */
describe('calls Terraform\'s provider makes for VPCs, groups and interfaces', () => {
  let vpcId: string;
  const t = useTestServer();
  before(async () => {
    vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16' }))).Vpc!.VpcId!;
  });

  it('reads enableNetworkAddressUsageMetrics as false, and setting it true is refused', async () => {
    const a = await t.ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableNetworkAddressUsageMetrics' }));
    assert.equal(a.EnableNetworkAddressUsageMetrics?.Value, false);
    await t.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableNetworkAddressUsageMetrics: { Value: false } }));
    await assert.rejects(t.ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableNetworkAddressUsageMetrics: { Value: true } })), { name: 'UnsupportedOperation' });
  });

  it('answers InvalidPermission.NotFound to revoking the ::/0 egress rule a new group does not have, and keeps its IPv4 one', async () => {
    const groupId = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'tf', Description: 'tf' }))).GroupId!;
    await assert.rejects(
      t.ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] })),
      { name: 'InvalidPermission.NotFound' },
    );
    const rules = await t.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }));
    assert.deepEqual(rules.SecurityGroupRules!.map((r) => [r.IsEgress, r.CidrIpv4]), [[true, '0.0.0.0/0']]);
  });

  it('takes a one-address PrivateIpAddresses list as the primary address, and a second one as a secondary address', async () => {
    const subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.77.1.0/24' }))).Subnet!.SubnetId!;
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, PrivateIpAddresses: [{ PrivateIpAddress: '10.77.1.50', Primary: true }] }))).NetworkInterface!;
    assert.equal(eni.PrivateIpAddress, '10.77.1.50');
    const two = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, PrivateIpAddresses: [{ PrivateIpAddress: '10.77.1.51', Primary: true }, { PrivateIpAddress: '10.77.1.52', Primary: false }] }))).NetworkInterface!;
    assert.deepEqual(two.PrivateIpAddresses!.map((a) => [a.PrivateIpAddress, a.Primary]), [['10.77.1.51', true], ['10.77.1.52', false]]);
  });
});
