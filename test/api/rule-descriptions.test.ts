import assert from 'node:assert/strict';
import {
  AuthorizeSecurityGroupIngressCommand,
  AuthorizeSecurityGroupEgressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupRulesCommand,
  UpdateSecurityGroupRuleDescriptionsIngressCommand,
  UpdateSecurityGroupRuleDescriptionsEgressCommand,
  ModifySecurityGroupRulesCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';

/** UpdateSecurityGroupRuleDescriptionsIngress/Egress, by IpPermissions match and by rule id (noop backends). */
describe('UpdateSecurityGroupRuleDescriptions* and ModifySecurityGroupRules', () => {
  const t = useTestServer();

  it('changes the description of the rule named by its permission or its id, and only that', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.89.0.0/16' }))).Vpc!.VpcId!;
    const groupId = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'd', Description: 'd' }))).GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'old' }] },
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'web' }] },
    ] }));
    const rules = async () => (await t.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))).SecurityGroupRules!;
    const ingressDesc = async () => Object.fromEntries((await rules()).filter((r) => !r.IsEgress).map((r) => [r.FromPort, r.Description]));

    await t.ec2.send(new UpdateSecurityGroupRuleDescriptionsIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'ssh' }] }] }));
    assert.deepEqual(await ingressDesc(), { 22: 'ssh', 80: 'web' });
    const web = (await rules()).find((r) => r.FromPort === 80)!.SecurityGroupRuleId!;
    await t.ec2.send(new UpdateSecurityGroupRuleDescriptionsIngressCommand({ GroupId: groupId, SecurityGroupRuleDescriptions: [{ SecurityGroupRuleId: web, Description: 'http' }] }));
    assert.deepEqual(await ingressDesc(), { 22: 'ssh', 80: 'http' });

    await assert.rejects(
      t.ec2.send(new UpdateSecurityGroupRuleDescriptionsIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 23, ToPort: 23, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'x' }] }] })),
      { name: 'InvalidPermission.NotFound' },
    );
    // An ingress rule's id is not an egress rule.
    await assert.rejects(
      t.ec2.send(new UpdateSecurityGroupRuleDescriptionsEgressCommand({ GroupId: groupId, SecurityGroupRuleDescriptions: [{ SecurityGroupRuleId: web, Description: 'x' }] })),
      { name: 'InvalidSecurityGroupRuleId.NotFound' },
    );
    await t.ec2.send(new AuthorizeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '10.89.0.2/32' }] }] }));
    await t.ec2.send(new UpdateSecurityGroupRuleDescriptionsEgressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'udp', FromPort: 53, ToPort: 53, IpRanges: [{ CidrIp: '10.89.0.2/32', Description: 'dns' }] }] }));
    assert.equal((await rules()).find((r) => r.IsEgress && r.FromPort === 53)!.Description, 'dns');
    assert.deepEqual(await ingressDesc(), { 22: 'ssh', 80: 'http' });
  });

  it('ModifySecurityGroupRules replaces a rule in place by id, refusing a duplicate and an unknown id', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.90.0.0/16' }))).Vpc!.VpcId!;
    const groupId = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'm', Description: 'm' }))).GroupId!;
    await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
    ] }));
    const rules = async () => (await t.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }))).SecurityGroupRules!.filter((r) => !r.IsEgress);
    const ssh = (await rules()).find((r) => r.FromPort === 22)!.SecurityGroupRuleId!;
    await t.ec2.send(new ModifySecurityGroupRulesCommand({ GroupId: groupId, SecurityGroupRules: [
      { SecurityGroupRuleId: ssh, SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 2222, ToPort: 2223, CidrIpv4: '192.168.0.0/16', Description: 'moved' } },
    ] }));
    const after = (await rules()).find((r) => r.SecurityGroupRuleId === ssh)!;
    assert.deepEqual([after.FromPort, after.ToPort, after.CidrIpv4, after.Description], [2222, 2223, '192.168.0.0/16', 'moved']);
    await assert.rejects(
      t.ec2.send(new ModifySecurityGroupRulesCommand({ GroupId: groupId, SecurityGroupRules: [
        { SecurityGroupRuleId: ssh, SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, CidrIpv4: '10.0.0.0/8' } },
      ] })),
      { name: 'InvalidPermission.Duplicate' },
    );
    await assert.rejects(
      t.ec2.send(new ModifySecurityGroupRulesCommand({ GroupId: groupId, SecurityGroupRules: [
        { SecurityGroupRuleId: 'sgr-0123456789abcdef0', SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 1, ToPort: 1, CidrIpv4: '10.0.0.0/8' } },
      ] })),
      { name: 'InvalidSecurityGroupRuleId.NotFound' },
    );
    assert.equal((await rules()).length, 2);
  });
});
