import assert from 'node:assert/strict';
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AttachNetworkInterfaceCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateInternetGatewayCommand,
  CreateNetworkAclCommand,
  CreateNetworkAclEntryCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteNetworkInterfaceCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeNetworkAclsCommand,
  DetachNetworkInterfaceCommand,
  type EC2Client,
  ModifyNetworkInterfaceAttributeCommand,
  ModifySecurityGroupRulesCommand,
  ReplaceNetworkAclAssociationCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { RecordingNetworkBackend, type RecordedCall } from '../support/recording-network.js';

/**
 * A change in one VPC gives the data plane that VPC's part alone: the service reads only its records and hands the
 * network backend a model scoped to it, so another VPC (of this account or another) is neither read nor rewritten.
 * The network backend here records what it is given (test/support/recording-network.ts) and answers to the name
 * 'ovs', so the services drive it as they drive Open vSwitch; test/adapters/ovs-traffic.test.ts has the traffic.
 */
describe('network changes are applied to the VPC they happen in', () => {
  const net = new RecordingNetworkBackend();
  const t = useTestServer({ env: { THECLOUD_RECONCILE_SECONDS: '3600' }, backends: { network: net } });
  const vpc = { a: '', b: '' };
  let subnetA = '';
  let web = '';
  let db = '';
  let imageId = '';

  /** A VPC with a subnet, a group `web` and an ENI in it. */
  async function makeVpc(ec2: EC2Client, cidr: string) {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))).Vpc!.VpcId!;
    const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr.replace('.0.0/16', '.1.0/24'), AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
    const groupId = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: 'web', Description: 'web' }))).GroupId!;
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }));
    await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, Groups: [groupId] }));
    return { vpcId, subnetId, groupId };
  }

  before(async () => {
    // VPC B in the other account, and the two default VPCs: what must not be handed over.
    vpc.b = (await makeVpc(t.other, '10.1.0.0/16')).vpcId;
    const a = await makeVpc(t.ec2, '10.1.0.0/16');
    vpc.a = a.vpcId;
    subnetA = a.subnetId;
    web = a.groupId;
    db = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc.a, GroupName: 'db', Description: 'db' }))).GroupId!;
    imageId = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
  });

  /** What the backend was given while `fn` ran. */
  async function during(fn: () => Promise<unknown>): Promise<RecordedCall[]> {
    const from = net.calls.length;
    await fn();
    return net.since(from);
  }

  /** Every security model handed over is VPC A's, scoped to A (at least one); the last one. */
  function onlyA(calls: RecordedCall[], what: string) {
    const sets = calls.flatMap((c) => (c.op === 'setSecurityGroups' ? [c] : []));
    assert.ok(sets.length > 0, `${what}: the security groups were applied`);
    for (const c of sets) {
      assert.deepEqual(c.vpcIds, [vpc.a], `${what}: scoped to VPC A`);
      assert.deepEqual([...new Set(c.model.groups.map((g) => g.vpcId))], [vpc.a], `${what}: only VPC A's groups`);
    }
    return sets.at(-1)!.model;
  }
  const group = (model: { groups: { groupId: string }[] }, id: string) => {
    const g = model.groups.find((x) => x.groupId === id);
    assert.ok(g, `${id} is in the model`);
    return g as (typeof model.groups)[number] & { memberIps: string[]; ingress: unknown[] };
  };

  it('hands over only VPC A\'s groups, rules and members for a rule or group change in A', async () => {
    const ingress = { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: web }] };
    let ruleId = '';
    let model = onlyA(await during(async () => {
      ruleId = (await t.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: db, IpPermissions: [ingress] }))).SecurityGroupRules![0]!.SecurityGroupRuleId!;
    }), 'AuthorizeSecurityGroupIngress');
    assert.deepEqual(group(model, db).ingress, [{ protocol: 'tcp', ports: { from: 5432, to: 5432 }, peer: { groupId: web } }]);
    assert.equal(group(model, web).memberIps.length, 1, 'the web group\'s member ENI');
    assert.ok(model.groups.some((g) => g.groupId !== web && g.groupId !== db), 'A\'s default group too');
    model = onlyA(await during(() => t.ec2.send(new ModifySecurityGroupRulesCommand({
      GroupId: db, SecurityGroupRules: [{ SecurityGroupRuleId: ruleId, SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 5433, ToPort: 5433, ReferencedGroupId: web } }],
    }))), 'ModifySecurityGroupRules');
    assert.deepEqual(group(model, db).ingress, [{ protocol: 'tcp', ports: { from: 5433, to: 5433 }, peer: { groupId: web } }]);
    model = onlyA(await during(() => t.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: db, SecurityGroupRuleIds: [ruleId] }))), 'RevokeSecurityGroupIngress');
    assert.deepEqual(group(model, db).ingress, []);
    let extra = '';
    model = onlyA(await during(async () => {
      extra = (await t.ec2.send(new CreateSecurityGroupCommand({ VpcId: vpc.a, GroupName: 'extra', Description: 'extra' }))).GroupId!;
    }), 'CreateSecurityGroup');
    group(model, extra);
    model = onlyA(await during(() => t.ec2.send(new DeleteSecurityGroupCommand({ GroupId: extra }))), 'DeleteSecurityGroup');
    assert.ok(!model.groups.some((g) => g.groupId === extra), 'the deleted group is gone from A\'s model');
  });

  it('hands over only VPC A\'s model when an ENI or an instance of A comes, changes groups or goes', async () => {
    let eni = '';
    let model = onlyA(await during(async () => {
      eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetA, Groups: [db] }))).NetworkInterface!.NetworkInterfaceId!;
    }), 'CreateNetworkInterface');
    assert.equal(group(model, db).memberIps.length, 1, 'the new ENI is a member of db');
    model = onlyA(await during(() => t.ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eni, Groups: [web] }))), 'ModifyNetworkInterfaceAttribute');
    assert.deepEqual([group(model, db).memberIps.length, group(model, web).memberIps.length], [0, 2]);
    let instanceId = '';
    onlyA(await during(async () => {
      instanceId = (await t.ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't2.micro', MinCount: 1, MaxCount: 1, SubnetId: subnetA, SecurityGroupIds: [db] }))).Instances![0]!.InstanceId!;
      await waitUntilInstanceRunning({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [instanceId] });
    }), 'RunInstances');
    let attachmentId = '';
    onlyA(await during(async () => {
      attachmentId = (await t.ec2.send(new AttachNetworkInterfaceCommand({ NetworkInterfaceId: eni, InstanceId: instanceId, DeviceIndex: 1 }))).AttachmentId!;
    }), 'AttachNetworkInterface');
    onlyA(await during(() => t.ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: attachmentId }))), 'DetachNetworkInterface');
    model = onlyA(await during(async () => {
      await t.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
      await waitUntilInstanceTerminated({ client: t.ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 1 }, { InstanceIds: [instanceId] });
    }), 'TerminateInstances');
    assert.deepEqual(group(model, db).memberIps, [], 'the instance\'s ENI left db');
    model = onlyA(await during(() => t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }))), 'DeleteNetworkInterface');
    assert.equal(group(model, web).memberIps.length, 1);
  });

  it('hands over only VPC A\'s ACLs for an ACL change in A', async () => {
    let aclId = '';
    const calls = await during(async () => {
      aclId = (await t.ec2.send(new CreateNetworkAclCommand({ VpcId: vpc.a }))).NetworkAcl!.NetworkAclId!;
      await t.ec2.send(new CreateNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 100, Protocol: '6', RuleAction: 'allow', Egress: false, CidrBlock: '10.0.0.0/8', PortRange: { From: 22, To: 22 } }));
      const assoc = (await t.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetA] }] }))).NetworkAcls![0]!.Associations!.find((x) => x.SubnetId === subnetA)!;
      await t.ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: assoc.NetworkAclAssociationId, NetworkAclId: aclId }));
    });
    const sets = calls.flatMap((c) => (c.op === 'setNetworkAcls' ? [c] : []));
    assert.equal(sets.length, 2, 'the entry and the association were applied');
    for (const c of sets) {
      assert.deepEqual(c.vpcIds, [vpc.a]);
      assert.deepEqual([...new Set(c.acls.map((a) => a.vpcId))], [vpc.a], 'only VPC A\'s ACLs');
    }
    const mine = sets.at(-1)!.acls.find((a) => a.aclId === aclId)!;
    assert.deepEqual(mine.subnetIds, [subnetA]);
    assert.deepEqual(mine.entries, [{ ruleNumber: 100, egress: false, action: 'allow', protocol: 'tcp', cidr: '10.0.0.0/8', ports: { from: 22, to: 22 } }]);
  });

  it('gives for VPC A, from A\'s records alone, the same model, ACLs and routing as a full sync', async () => {
    // Routing with something in it: an internet gateway, a table of its own, routes to the gateway and to an ENI.
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.a }));
    const rtb = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.a }))).RouteTable!.RouteTableId!;
    await t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: subnetA }));
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    const hop = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetA, Groups: [web] }))).NetworkInterface!;
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '192.168.0.0/16', NetworkInterfaceId: hop.NetworkInterfaceId }));
    const last = <T extends RecordedCall['op']>(op: T) => net.calls.filter((c): c is Extract<RecordedCall, { op: T }> => c.op === op && (op !== 'setRouting' || (c as { routing: { vpcId: string } }).routing.vpcId === vpc.a)).at(-1)!;
    const scoped = { security: last('setSecurityGroups'), acls: last('setNetworkAcls'), routing: last('setRouting') };
    assert.deepEqual(scoped.security.vpcIds, [vpc.a]);
    assert.ok(scoped.routing.routing.tables.some((x) => x.routes.some((r) => r.target.kind === 'address' && r.target.ip === hop.PrivateIpAddress)), 'the route to the ENI, resolved');
    const { desired } = (await during(() => t.s.services.network.sync(async () => undefined))).find((c) => c.op === 'sync') as Extract<RecordedCall, { op: 'sync' }>;
    assert.deepEqual(scoped.security.model.groups, desired.security.groups.filter((g) => g.vpcId === vpc.a));
    assert.deepEqual(scoped.acls.acls, desired.acls!.filter((a) => a.vpcId === vpc.a));
    assert.deepEqual(scoped.routing.routing, desired.routing!.find((r) => r.vpcId === vpc.a));
    // The whole model holds the other VPCs too (B, the default VPCs): sync still hands over everything.
    assert.ok(desired.security.groups.some((g) => g.vpcId === vpc.b));
  });
  it('hands over VPC A\'s routing again when a route\'s target interface is deleted: the route is a blackhole', async () => {
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetA, Groups: [web] }))).NetworkInterface!;
    const table = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.a }))).RouteTable!.RouteTableId!;
    const routeOf = (calls: RecordedCall[]) => {
      const last = calls.flatMap((c) => (c.op === 'setRouting' && c.routing.vpcId === vpc.a ? [c.routing] : [])).at(-1);
      return last?.tables.find((x) => x.routeTableId === table)?.routes.find((r) => r.destination === '192.0.2.0/24')?.target;
    };
    const created = await during(() => t.ec2.send(new CreateRouteCommand({ RouteTableId: table, DestinationCidrBlock: '192.0.2.0/24', NetworkInterfaceId: eni.NetworkInterfaceId })));
    assert.deepEqual(routeOf(created), { kind: 'address', ip: eni.PrivateIpAddress }, 'routed to the interface\'s address');
    // Its address is free once the interface goes: a route to it must not outlive the interface on the router.
    const deleted = await during(() => t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId })));
    assert.deepEqual(routeOf(deleted), { kind: 'blackhole' });
  });
});
