import assert from 'node:assert/strict';
import {
  CreateVpcCommand,
  DeleteVpcCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
  DescribeSubnetsCommand,
  CreateRouteTableCommand,
  DescribeRouteTablesCommand,
  CreateRouteCommand,
  ReplaceRouteCommand,
  CreateInternetGatewayCommand,
  AttachInternetGatewayCommand,
  DetachInternetGatewayCommand,
  DescribeNetworkInterfacesCommand,
  DeleteNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  AllocateAddressCommand,
  AssociateAddressCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  DescribeAddressesCommand,
  CreateNatGatewayCommand,
  DescribeNatGatewaysCommand,
  DeleteNatGatewayCommand,
  DescribeTagsCommand,
} from '@aws-sdk/client-ec2';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';

/** NAT gateways: AWS's records, states and error codes (noop backends; the traffic is in edge-traffic.test.ts). */
describe('NAT gateways', () => {
  const t = useTestServer();

  const nat = async (id: string) => (await t.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [id] }))).NatGateways![0]!;
  const freeIps = async (id: string) => (await t.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [id] }))).Subnets![0]!.AvailableIpAddressCount!;

  it('makes a gateway with an interface and the Elastic IP, routes to it, refuses what AWS refuses, and deletes it', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }))).Vpc!.VpcId!;
    const otherVpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.41.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.40.1.0/24' }))).Subnet!.SubnetId!;
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const foreignEip = await t.other.send(new AllocateAddressCommand({ Domain: 'vpc' }));

    // AWS's synchronous refusals
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: 'subnet-00000000000000000', AllocationId: eip.AllocationId })), 'InvalidSubnetID.NotFound');
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: 'eipalloc-00000000000000000' })), 'InvalidElasticIpID.NotFound');
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: foreignEip.AllocationId })), 'InvalidElasticIpID.NotFound');
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet })), 'MissingParameter');
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: eip.AllocationId, ConnectivityType: 'sideways' as 'public' })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: eip.AllocationId, DryRun: true })), 'DryRunOperation');

    // no internet gateway: the gateway is made, and fails as AWS's does
    const noIgw = (await t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: eip.AllocationId }))).NatGateway!;
    const failed = await nat(noIgw.NatGatewayId!);
    assert.deepEqual([failed.State, failed.FailureCode, failed.FailureMessage], ['failed', 'Gateway.NotAttached', `Network ${vpc} has no Internet gateway attached`]);

    const igw = (await t.ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await t.ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
    const before = await freeIps(subnet);
    const made = (await t.ec2.send(new CreateNatGatewayCommand({
      SubnetId: subnet, AllocationId: eip.AllocationId, TagSpecifications: [{ ResourceType: 'natgateway', Tags: [{ Key: 'Name', Value: 'egress' }] }],
    }))).NatGateway!;
    assert.match(made.NatGatewayId!, /^nat-[0-9a-f]{17}$/);
    assert.deepEqual([made.State, made.VpcId, made.SubnetId, made.ConnectivityType], ['pending', vpc, subnet, 'public']);
    assert.deepEqual(made.Tags, [{ Key: 'Name', Value: 'egress' }]);
    const g = await nat(made.NatGatewayId!);
    assert.equal(g.State, 'available');
    const [addr] = g.NatGatewayAddresses!;
    assert.deepEqual([addr!.AllocationId, addr!.PublicIp, addr!.IsPrimary, addr!.Status], [eip.AllocationId, eip.PublicIp, true, 'succeeded']);
    assert.match(addr!.PrivateIp!, /^10\.40\.1\./);

    // its interface is an ENI of the subnet (one address fewer there), requester-managed; the address shows it
    const [eni] = (await t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [addr!.NetworkInterfaceId!] }))).NetworkInterfaces!;
    assert.deepEqual([eni!.InterfaceType, eni!.RequesterManaged, eni!.PrivateIpAddress, eni!.SubnetId, eni!.Status], ['nat_gateway', true, addr!.PrivateIp, subnet, 'in-use']);
    assert.equal(eni!.Description, `Interface for NAT Gateway ${g.NatGatewayId}`);
    assert.equal(await freeIps(subnet), before - 1);
    const [a] = (await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses!;
    assert.deepEqual([a!.NetworkInterfaceId, a!.PrivateIpAddress, a!.AssociationId, a!.InstanceId], [eni!.NetworkInterfaceId, addr!.PrivateIp, addr!.AssociationId, undefined]);

    // a retry with the same ClientToken answers the same gateway; other arguments with it are refused
    const token = { SubnetId: subnet, AllocationId: eip.AllocationId, ClientToken: 'retry-1' };
    const once = (await t.ec2.send(new CreateNatGatewayCommand(token))).NatGateway!.NatGatewayId;
    assert.equal((await t.ec2.send(new CreateNatGatewayCommand(token))).NatGateway!.NatGatewayId, once);
    await fails(t.ec2.send(new CreateNatGatewayCommand({ ...token, ConnectivityType: 'private', AllocationId: undefined })), 'IdempotentParameterMismatch');

    // the address and interface are the gateway's
    const again = (await t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: eip.AllocationId }))).NatGateway!;
    assert.deepEqual((({ State, FailureCode }) => [State, FailureCode])(await nat(again.NatGatewayId!)), ['failed', 'Resource.AlreadyAssociated']);
    const userEni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }))).NetworkInterface!.NetworkInterfaceId!;
    await fails(t.ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, NetworkInterfaceId: userEni, AllowReassociation: true })), 'AuthFailure');
    await fails(t.ec2.send(new DisassociateAddressCommand({ AssociationId: addr!.AssociationId })), 'AuthFailure');
    await fails(t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId })), 'InvalidIPAddress.InUse');
    await fails(t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni!.NetworkInterfaceId })), 'InvalidNetworkInterface.InUse');
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: userEni }));

    // routes to it
    const rtb = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpc }))).RouteTable!.RouteTableId!;
    const foreignRtb = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: otherVpc }))).RouteTable!.RouteTableId!;
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: foreignRtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: g.NatGatewayId })), 'InvalidParameterValue');
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: again.NatGatewayId })), 'InvalidNatGatewayID.NotFound');
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: g.NatGatewayId }));
    const routed = async () => (await t.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'route.nat-gateway-id', Values: [g.NatGatewayId!] }] }))).RouteTables!;
    assert.deepEqual((await routed()).map((t) => t.Routes!.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')).map((r) => [r!.NatGatewayId, r!.State]), [[g.NatGatewayId, 'active']]);
    await t.ec2.send(new ReplaceRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    await t.ec2.send(new ReplaceRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: g.NatGatewayId }));

    // what it depends on cannot go
    await fails(t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet })), 'DependencyViolation');
    await fails(t.ec2.send(new DeleteVpcCommand({ VpcId: vpc })), 'DependencyViolation');

    // describe: filters, tags, paging, other accounts
    const ids = async (filters: { Name: string; Values: string[] }[]) => (await t.ec2.send(new DescribeNatGatewaysCommand({ Filter: filters }))).NatGateways!.map((x) => x.NatGatewayId).sort();
    assert.deepEqual(await ids([{ Name: 'state', Values: ['available'] }, { Name: 'vpc-id', Values: [vpc] }]), [g.NatGatewayId]);
    assert.deepEqual(await ids([{ Name: 'subnet-id', Values: [subnet] }]), [noIgw.NatGatewayId, g.NatGatewayId, again.NatGatewayId, once].sort());
    assert.deepEqual(await ids([{ Name: 'state', Values: ['failed'] }, { Name: 'subnet-id', Values: [subnet] }]), [noIgw.NatGatewayId, again.NatGatewayId, once].sort());
    assert.deepEqual(await ids([{ Name: 'tag:Name', Values: ['egress'] }]), [g.NatGatewayId]);
    assert.deepEqual(await ids([{ Name: 'nat-gateway-id', Values: [g.NatGatewayId!] }]), [g.NatGatewayId]);
    const tags = (await t.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [g.NatGatewayId!] }] }))).Tags!;
    assert.deepEqual(tags.map((t) => [t.ResourceType, t.Key, t.Value]), [['natgateway', 'Name', 'egress']]);
    const first = await t.ec2.send(new DescribeNatGatewaysCommand({ Filter: [{ Name: 'subnet-id', Values: [subnet] }], MaxResults: 5 }));
    assert.equal(first.NatGateways!.length, 4);
    await fails(t.ec2.send(new DescribeNatGatewaysCommand({ MaxResults: 4 })), 'InvalidParameterValue');
    await fails(t.ec2.send(new DescribeNatGatewaysCommand({ NatGatewayIds: ['nat-00000000000000000'] })), 'NatGatewayNotFound');
    await fails(t.other.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [g.NatGatewayId!] })), 'NatGatewayNotFound');
    await fails(t.other.send(new DeleteNatGatewayCommand({ NatGatewayId: g.NatGatewayId })), 'NatGatewayNotFound');

    // delete: deleted (still visible), its route a blackhole, the address and the subnet's address free again
    assert.equal((await t.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: g.NatGatewayId }))).NatGatewayId, g.NatGatewayId);
    const gone = await nat(g.NatGatewayId!);
    assert.equal(gone.State, 'deleted');
    assert.ok(gone.DeleteTime instanceof Date);
    assert.equal((await routed())[0]!.Routes!.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')!.State, 'blackhole');
    assert.equal((await t.ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.AllocationId!] }))).Addresses![0]!.AssociationId, undefined);
    await fails(t.ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eni!.NetworkInterfaceId!] })), 'InvalidNetworkInterfaceID.NotFound');
    assert.equal(await freeIps(subnet), before);
    await fails(t.ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '192.0.2.0/24', NatGatewayId: g.NatGatewayId })), 'InvalidNatGatewayID.NotFound');
    assert.equal((await t.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: g.NatGatewayId }))).NatGatewayId, g.NatGatewayId, 'deleting a deleted one changes nothing');

    await t.ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    await t.other.send(new ReleaseAddressCommand({ AllocationId: foreignEip.AllocationId }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
  });

  it('makes a private gateway without an Elastic IP', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.42.1.0/24' }))).Subnet!.SubnetId!;
    const eip = await t.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    await fails(t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, ConnectivityType: 'private', AllocationId: eip.AllocationId })), 'InvalidParameterCombination');
    const made = (await t.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet, ConnectivityType: 'private', PrivateIpAddress: '10.42.1.50' }))).NatGateway!;
    const g = await nat(made.NatGatewayId!);
    assert.deepEqual([g.State, g.ConnectivityType, g.NatGatewayAddresses![0]!.PrivateIp, g.NatGatewayAddresses![0]!.PublicIp], ['available', 'private', '10.42.1.50', undefined]);
    await t.ec2.send(new DeleteNatGatewayCommand({ NatGatewayId: g.NatGatewayId }));
    await t.ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpc }));
  });
});
