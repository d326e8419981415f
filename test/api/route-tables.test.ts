import assert from 'node:assert/strict';
import {
  CreateVpcCommand,
  DeleteVpcCommand,
  DescribeVpcsCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  CreateRouteTableCommand,
  DeleteRouteTableCommand,
  DescribeRouteTablesCommand,
  AssociateRouteTableCommand,
  DisassociateRouteTableCommand,
  ReplaceRouteTableAssociationCommand,
  CreateRouteCommand,
  ReplaceRouteCommand,
  DeleteRouteCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  DetachInternetGatewayCommand,
  DeleteInternetGatewayCommand,
  DescribeInternetGatewaysCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
  CreateTagsCommand,
  RunInstancesCommand,
  DescribeInstancesCommand,
  DescribeImagesCommand,
  AllocateAddressCommand,
  AssociateAddressCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  DescribeAddressesCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';

/** Route tables and internet gateways: AWS's records and error codes (noop backends). */
describe('route tables and internet gateways', () => {
  const t = useTestServer();

  const tables = async (filters: { Name: string; Values: string[] }[]) => (await t.ec2.send(new DescribeRouteTablesCommand({ Filters: filters }))).RouteTables!;

  it('gives the default VPC a main table with the local route and 0.0.0.0/0 to its attached gateway', async () => {
    const vpc = (await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs![0]!;
    const [main, ...rest] = await tables([{ Name: 'vpc-id', Values: [vpc.VpcId!] }]);
    assert.equal(rest.length, 0);
    assert.equal(main!.Associations![0]!.Main, true);
    const igw = (await t.ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpc.VpcId!] }] }))).InternetGateways!;
    assert.equal(igw.length, 1);
    assert.deepEqual(igw[0]!.Attachments, [{ State: 'available', VpcId: vpc.VpcId }]);
    assert.deepEqual(
      main!.Routes!.map((r) => [r.DestinationCidrBlock, r.GatewayId, r.State, r.Origin]),
      [
        [vpc.CidrBlock, 'local', 'active', 'CreateRouteTable'],
        ['0.0.0.0/0', igw[0]!.InternetGatewayId, 'active', 'CreateRoute'],
      ],
    );
  });

  it('associates subnets, routes to a gateway, an interface; refuses what AWS refuses; the VPC is deleted only when bare', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!;
    const otherVpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.21.0.0/16' }))).Vpc!;
    const mainT = (await tables([{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'association.main', Values: ['true'] }]))[0]!;
    assert.deepEqual(mainT.Routes!.map((r) => [r.DestinationCidrBlock, r.GatewayId]), [['10.20.0.0/16', 'local']]);
    const mainAssoc = mainT.Associations![0]!.RouteTableAssociationId!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.20.1.0/24' }))).Subnet!;
    const foreignSubnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: otherVpc.VpcId, CidrBlock: '10.21.1.0/24' }))).Subnet!;

    const rt = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpc.VpcId, TagSpecifications: [{ ResourceType: 'route-table', Tags: [{ Key: 'Name', Value: 'public' }] }] }))).RouteTable!;
    assert.deepEqual(rt.Tags, [{ Key: 'Name', Value: 'public' }]);
    assert.deepEqual(rt.Associations, []);
    await fails(t.ec2.send(new CreateRouteTableCommand({ VpcId: 'vpc-00000000000000000' })), 'InvalidVpcID.NotFound');
    await fails(t.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-00000000000000000'] })), 'InvalidRouteTableID.NotFound');
    await fails(t.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['nope'] })), 'InvalidRouteTableID.Malformed');

    // associations
    await fails(t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: foreignSubnet.SubnetId })), 'InvalidParameterValue');
    await fails(t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: subnet.SubnetId, DryRun: true })), 'DryRunOperation');
    const assoc = (await t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: subnet.SubnetId }))).AssociationId!;
    assert.match(assoc, /^rtbassoc-[0-9a-f]{17}$/);
    await fails(t.ec2.send(new AssociateRouteTableCommand({ RouteTableId: rt.RouteTableId, SubnetId: subnet.SubnetId })), 'Resource.AlreadyAssociated');
    assert.deepEqual((await tables([{ Name: 'association.subnet-id', Values: [subnet.SubnetId!] }])).map((t) => t.RouteTableId), [rt.RouteTableId]);
    await fails(t.ec2.send(new DisassociateRouteTableCommand({ AssociationId: mainAssoc })), 'InvalidParameterValue');
    await fails(t.ec2.send(new DisassociateRouteTableCommand({ AssociationId: 'rtbassoc-00000000000000000' })), 'InvalidAssociationID.NotFound');
    await fails(t.other.send(new DisassociateRouteTableCommand({ AssociationId: assoc })), 'InvalidAssociationID.NotFound');
    await fails(t.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rt.RouteTableId })), 'DependencyViolation');

    // internet gateways
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw })), 'InvalidParameterValue');
    await fails(t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId })), 'Gateway.NotAttached');
    await fails(t.other.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId })), 'InvalidInternetGatewayID.NotFound');
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId }));
    await fails(t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId })), 'Resource.AlreadyAssociated');
    await fails(t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: otherVpc.VpcId })), 'Resource.AlreadyAssociated');
    const igw2 = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await fails(t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw2, VpcId: vpc.VpcId })), 'Resource.AlreadyAssociated');
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw2, VpcId: otherVpc.VpcId }));
    await fails(t.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw })), 'DependencyViolation');

    // routes
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw2 })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/33', GatewayId: igw })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-00000000000000000' })), 'InvalidInternetGatewayID.NotFound');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-00000000000000000' })), 'InvalidNatGatewayID.NotFound');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: 'rtb-00000000000000000', DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw })), 'InvalidRouteTableID.NotFound');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw })), 'RouteAlreadyExists');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '10.20.0.0/16', GatewayId: igw })), 'RouteAlreadyExists');
    await fails(t.ec2.send(new DeleteRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '10.20.0.0/16' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new DeleteRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '192.0.2.0/24' })), 'InvalidRoute.NotFound');
    await fails(t.ec2.send(new ReplaceRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '192.0.2.0/24', GatewayId: igw })), 'InvalidRoute.NotFound');
    await fails(t.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })), 'DependencyViolation');

    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId }))).NetworkInterface!.NetworkInterfaceId!;
    const foreignEni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: foreignSubnet.SubnetId }))).NetworkInterface!.NetworkInterfaceId!;
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '192.0.2.0/24', NetworkInterfaceId: foreignEni })), 'InvalidParameterValue');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '192.0.2.7/24', NetworkInterfaceId: eni }));
    let [table] = await tables([{ Name: 'route.gateway-id', Values: [igw] }]);
    assert.equal(table!.RouteTableId, rt.RouteTableId);
    assert.deepEqual(
      table!.Routes!.map((r) => [r.DestinationCidrBlock, r.GatewayId ?? r.NetworkInterfaceId, r.State]),
      [['10.20.0.0/16', 'local', 'active'], ['0.0.0.0/0', igw, 'active'], ['192.0.2.0/24', eni, 'active']],
    );
    // a detached gateway leaves its route a blackhole; the route can be pointed elsewhere
    await t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId }));
    [table] = await tables([{ Name: 'route-table-id', Values: [rt.RouteTableId!] }]);
    assert.equal(table!.Routes!.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')!.State, 'blackhole');
    await t.ec2.send(new ReplaceRouteCommand({ RouteTableId: rt.RouteTableId, DestinationCidrBlock: '0.0.0.0/0', NetworkInterfaceId: eni }));
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: foreignEni }));
    await t.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
    await fails(t.ec2.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [igw] })), 'InvalidInternetGatewayID.NotFound');

    // the main association moves to the new table, and back
    const moved = (await t.ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: mainAssoc, RouteTableId: rt.RouteTableId }))).NewAssociationId!;
    assert.deepEqual((await tables([{ Name: 'vpc-id', Values: [vpc.VpcId!] }, { Name: 'association.main', Values: ['true'] }])).map((x) => x.RouteTableId), [rt.RouteTableId]);
    await fails(t.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rt.RouteTableId })), 'DependencyViolation');
    await t.ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: moved, RouteTableId: mainT.RouteTableId }));
    await fails(t.ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: moved, RouteTableId: mainT.RouteTableId })), 'InvalidAssociationID.NotFound');
    await t.ec2.send(new CreateTagsCommand({ Resources: [rt.RouteTableId!], Tags: [{ Key: 'k', Value: 'v' }] }));
    assert.equal((await tables([{ Name: 'tag:k', Values: ['v'] }]))[0]!.RouteTableId, rt.RouteTableId);

    // tearing down: the subnet's association goes with it; then the table, the VPC (its main table with it)
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet.SubnetId }));
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId })), 'DependencyViolation');
    await t.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rt.RouteTableId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc.VpcId }));
    assert.deepEqual(await tables([{ Name: 'vpc-id', Values: [vpc.VpcId!] }]), []);
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: otherVpc.VpcId })), 'DependencyViolation');
    await t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw2, VpcId: otherVpc.VpcId }));
    await t.ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw2 }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: foreignSubnet.SubnetId }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: otherVpc.VpcId }));
  });

  it('allocates Elastic IPs from the pool and associates them as AWS does, with its errors', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc.VpcId, CidrBlock: '10.30.1.0/24' }))).Subnet!;
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId }))).NetworkInterface!;
    const a = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    assert.match(a.AllocationId!, /^eipalloc-[0-9a-f]{17}$/);
    assert.match(a.PublicIp!, /^198\.1[89]\./, 'from the default pool 198.18.0.0/15');
    const b = await t.ec2.send(new AllocateAddressCommand({}));
    assert.notEqual(b.PublicIp, a.PublicIp);

    await fails(t.ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId })), 'Gateway.NotAttached');
    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc.VpcId }));
    await fails(t.other.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId })), 'InvalidAllocationID.NotFound');
    await fails(t.other.send(new AssociateAddressCommand({ PublicIp: a.PublicIp, NetworkInterfaceId: eni.NetworkInterfaceId })), 'AuthFailure');
    await fails(t.ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId, PrivateIpAddress: '10.30.1.200' })), 'InvalidParameterValue');
    const assoc = (await t.ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId }))).AssociationId!;
    assert.match(assoc, /^eipassoc-[0-9a-f]{17}$/);
    await fails(t.ec2.send(new AssociateAddressCommand({ AllocationId: b.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId, AllowReassociation: false })), 'Resource.AlreadyAssociated');
    const [d] = (await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [a.AllocationId!] }))).Addresses!;
    assert.equal(d!.PublicIp, a.PublicIp);
    assert.equal(d!.AssociationId, assoc);
    assert.equal(d!.NetworkInterfaceId, eni.NetworkInterfaceId);
    assert.equal(d!.PrivateIpAddress, eni.PrivateIpAddress);
    assert.equal(d!.Domain, 'vpc');
    assert.deepEqual((await t.ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'association-id', Values: [assoc] }] }))).Addresses!.map((x) => x.AllocationId), [a.AllocationId]);
    assert.deepEqual((await t.ec2.send(new DescribeAddressesCommand({ PublicIps: [b.PublicIp!] }))).Addresses!.map((x) => x.AllocationId), [b.AllocationId]);
    assert.deepEqual((await t.other.send(new DescribeAddressesCommand({}))).Addresses, []);
    await fails(t.ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-00000000000000000'] })), 'InvalidAllocationID.NotFound');

    await fails(t.ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId })), 'InvalidIPAddress.InUse');
    await fails(t.other.send(new ReleaseAddressCommand({ PublicIp: b.PublicIp })), 'AuthFailure');
    await fails(t.ec2.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-00000000000000000' })), 'InvalidAssociationID.NotFound');
    await t.ec2.send(new DisassociateAddressCommand({ AssociationId: assoc }));

    // by instance: its primary address; DescribeInstances shows the public address and name
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const inst = (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1, SubnetId: subnet.SubnetId }))).Instances![0]!;
    await t.ec2.send(new AssociateAddressCommand({ AllocationId: b.AllocationId, InstanceId: inst.InstanceId }));
    const seen = (await t.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'ip-address', Values: [b.PublicIp!] }] }))).Reservations![0]!.Instances![0]!;
    assert.equal(seen.InstanceId, inst.InstanceId);
    assert.equal(seen.PublicIpAddress, b.PublicIp);
    assert.equal(seen.PublicDnsName, `ec2-${b.PublicIp!.replace(/\./g, '-')}.compute-1.amazonaws.com`);
    assert.equal((await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [b.AllocationId!] }))).Addresses![0]!.InstanceId, inst.InstanceId);
    await t.ec2.send(new DisassociateAddressCommand({ PublicIp: b.PublicIp }));
    assert.equal((await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.InstanceId!] }))).Reservations![0]!.Instances![0]!.PublicIpAddress, undefined);
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId }));
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: b.AllocationId }));
    await fails(t.ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId })), 'InvalidAllocationID.NotFound');
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId }));
  });
});
