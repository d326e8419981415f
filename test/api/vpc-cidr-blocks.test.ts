import assert from 'node:assert/strict';
import {
  AssociateVpcCidrBlockCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DeleteRouteTableCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeRouteTablesCommand,
  DescribeVpcsCommand,
  DisassociateVpcCidrBlockCommand,
  CreateNetworkInterfaceCommand,
  DeleteNetworkInterfaceCommand,
} from '@aws-sdk/client-ec2';
import pg from 'pg';
import { useTestServer } from '../support/use-server.js';
import { fails } from '../support/clients.js';
import { eventually } from '../support/eventually.js';

/** Secondary IPv4 blocks of a VPC: AWS's rules, states, DescribeVpcs and its filters, subnets and local routes (records only). */
describe('the VPC API: secondary IPv4 CIDR blocks (AssociateVpcCidrBlock / DisassociateVpcCidrBlock)', () => {
  // A reconciliation pass every second: it forgets blocks disassociated more than an hour ago.
  const t = useTestServer({ env: { THECLOUD_RECONCILE_SECONDS: '1' } });

  const vpcOf = async (id: string) => (await t.ec2.send(new DescribeVpcsCommand({ VpcIds: [id] }))).Vpcs![0]!;
  const localRoutes = async (rtb: string) =>
    (await t.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rtb] }))).RouteTables![0]!.Routes!.filter((r) => r.GatewayId === 'local').map((r) => r.DestinationCidrBlock).sort();

  it('adds a block as AWS does: states, DescribeVpcs and its filters, a local route in every table, subnets in it; removes it only when empty', async () => {
    const vpc = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.31.0.0/16' }))).Vpc!;
    const vpcId = vpc.VpcId!;
    const primary = vpc.CidrBlockAssociationSet![0]!;
    assert.equal(primary.CidrBlockState!.State, 'associated');
    const main = (await t.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables![0]!.RouteTableId!;

    const r = await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.32.0.5/16' }));
    assert.equal(r.VpcId, vpcId);
    assert.match(r.CidrBlockAssociation!.AssociationId!, /^vpc-cidr-assoc-[0-9a-f]{17}$/);
    assert.equal(r.CidrBlockAssociation!.CidrBlock, '10.32.0.0/16', 'the canonical form');
    assert.equal(r.CidrBlockAssociation!.CidrBlockState!.State, 'associating');
    const assocId = r.CidrBlockAssociation!.AssociationId!;

    const v = await vpcOf(vpcId);
    assert.equal(v.CidrBlock, '10.31.0.0/16', 'the primary block stays the VPC\'s CidrBlock');
    assert.deepEqual(v.CidrBlockAssociationSet!.map((a) => [a.AssociationId, a.CidrBlock, a.CidrBlockState!.State]), [
      [primary.AssociationId, '10.31.0.0/16', 'associated'],
      [assocId, '10.32.0.0/16', 'associated'],
    ]);
    const ids = async (name: string, value: string) => (await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: name, Values: [value] }] }))).Vpcs!.map((x) => x.VpcId);
    assert.deepEqual(await ids('cidr-block-association.cidr-block', '10.32.0.0/16'), [vpcId]);
    assert.deepEqual(await ids('cidr-block-association.association-id', assocId), [vpcId]);
    assert.ok((await ids('cidr-block-association.state', 'associated')).includes(vpcId));
    assert.deepEqual(await ids('cidr', '10.32.0.0/16'), [], 'cidr is the primary block only');

    // The main table and a new one route both blocks locally.
    assert.deepEqual(await localRoutes(main), ['10.31.0.0/16', '10.32.0.0/16']);
    const rtb = (await t.ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    assert.deepEqual(await localRoutes(rtb), ['10.31.0.0/16', '10.32.0.0/16']);

    // Subnets: in either block, not across them nor outside.
    const sub = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.32.1.0/24' }))).Subnet!;
    assert.equal(sub.CidrBlock, '10.32.1.0/24');
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.33.1.0/24' })), 'InvalidSubnet.Range');
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: sub.SubnetId }))).NetworkInterface!;
    assert.match(eni.PrivateIpAddress!, /^10\.32\.1\./);

    // Not while a subnet is in it; never the primary one.
    // AWS's code and words for a block that holds a subnet.
    await assert.rejects(t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId })), (e: Error) =>
      (assert.deepEqual([e.name, e.message], ['InvalidCidrBlock.InUse', `The vpc ${vpcId} currently has a subnet within CIDR block 10.32.0.0/16`]), true));
    await fails(t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: primary.AssociationId })), 'OperationNotPermitted');
    await fails(t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: 'vpc-cidr-assoc-0123456789abcdef0' })), 'InvalidVpcCidrBlockAssociationID.NotFound');
    await fails(t.other.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId })), 'InvalidVpcCidrBlockAssociationID.NotFound');
    await t.ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId }));
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: sub.SubnetId }));

    const d = await t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId }));
    assert.deepEqual([d.VpcId, d.CidrBlockAssociation!.AssociationId, d.CidrBlockAssociation!.CidrBlock, d.CidrBlockAssociation!.CidrBlockState!.State], [vpcId, assocId, '10.32.0.0/16', 'disassociating']);
    assert.deepEqual((await vpcOf(vpcId)).CidrBlockAssociationSet!.map((a) => [a.CidrBlock, a.CidrBlockState!.State]), [
      ['10.31.0.0/16', 'associated'],
      ['10.32.0.0/16', 'disassociated'],
    ], 'a disassociated block stays visible for a while, as on AWS');
    assert.deepEqual(await ids('cidr-block-association.state', 'disassociated'), [vpcId]);
    await fails(t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId })), 'InvalidVpcCidrBlockAssociationID.NotFound');
    assert.deepEqual(await localRoutes(main), ['10.31.0.0/16']);
    assert.deepEqual(await localRoutes(rtb), ['10.31.0.0/16']);
    await fails(t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.32.1.0/24' })), 'InvalidSubnet.Range');

    // The same block again: a new association.
    const again = (await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.32.0.0/16' }))).CidrBlockAssociation!;
    assert.notEqual(again.AssociationId, assocId);
    await t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: again.AssociationId }));
    await t.ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb }));
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  });

  it('never leaves a subnet in a block that went away, nor two overlapping subnets, when the calls race', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.33.0.0/16' }))).Vpc!.VpcId!;
    for (let round = 0; round < 6; round++) {
      const assocId = (await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.34.0.0/16' }))).CidrBlockAssociation!.AssociationId!;
      // A disassociate and two CreateSubnets of overlapping ranges in that block, all at once.
      const [gone, a, b] = await Promise.allSettled([
        t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId })),
        t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.34.0.0/24' })),
        t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.34.0.0/23' })),
      ]);
      const made = [a, b].filter((x) => x.status === 'fulfilled').map((x) => (x as PromiseFulfilledResult<{ Subnet?: { SubnetId?: string } }>).value.Subnet!.SubnetId!);
      assert.ok(made.length <= 1, `round ${round}: two overlapping subnets were made`);
      if (gone.status === 'fulfilled') assert.equal(made.length, 0, `round ${round}: a subnet was made in the block that was disassociated`);
      else assert.equal(made.length, 1, `round ${round}: the block was kept for a subnet that is not there`);
      for (const id of made) await t.ec2.send(new DeleteSubnetCommand({ SubnetId: id }));
      if (gone.status === 'rejected') await t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: assocId }));
    }
    await t.ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  });

  it('ends the transitions a crash left once reconciliation has synced the network', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.36.0.0/16' }))).Vpc!.VpcId!;
    const up = (await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.37.0.0/16' }))).CidrBlockAssociation!.AssociationId!;
    const down = (await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.38.0.0/16' }))).CidrBlockAssociation!.AssociationId!;
    // As a server killed between the record and the backend leaves them.
    const c = new pg.Client({ connectionString: t.s.databaseUrl });
    await c.connect();
    try {
      await c.query(`UPDATE vpc_cidr_blocks SET state = CASE association_id WHEN $1 THEN 'associating' ELSE 'disassociating' END WHERE association_id IN ($1, $2)`, [up, down]);
    } finally {
      await c.end();
    }
    const states = async () => (await vpcOf(vpcId)).CidrBlockAssociationSet!.map((a) => a.CidrBlockState!.State);
    assert.deepEqual(await states(), ['associated', 'associating', 'disassociating']);
    await t.s.services.network.sync(async () => undefined);
    assert.deepEqual(await states(), ['associated', 'associated', 'disassociated']);
  });

  it('forgets a disassociated block on its own once it is an hour old, and only then', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.45.0.0/16' }))).Vpc!.VpcId!;
    const gone = async (cidr: string) => {
      const id = (await t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: cidr }))).CidrBlockAssociation!.AssociationId!;
      await t.ec2.send(new DisassociateVpcCidrBlockCommand({ AssociationId: id }));
      return id;
    };
    const old = await gone('10.46.0.0/16');
    const recent = await gone('10.47.0.0/16');
    const shown = async () => (await vpcOf(vpcId)).CidrBlockAssociationSet!.map((a) => [a.AssociationId, a.CidrBlockState!.State]);
    // The first one disassociated 61 minutes ago, as far as its record says.
    const c = new pg.Client({ connectionString: t.s.databaseUrl });
    await c.connect();
    try {
      await c.query(`UPDATE vpc_cidr_blocks SET updated_at = clock_timestamp() - interval '61 minutes' WHERE association_id = $1`, [old]);
    } finally {
      await c.end();
    }
    await eventually('the hour-old disassociated block forgotten', async () => !(await shown()).some(([id]) => id === old));
    const primary = (await vpcOf(vpcId)).CidrBlockAssociationSet![0]!.AssociationId;
    assert.deepEqual(await shown(), [[primary, 'associated'], [recent, 'disassociated']], 'the recent one is still shown');
    assert.deepEqual((await t.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidr-block-association.association-id', Values: [old] }] }))).Vpcs, []);
  });

  it('refuses what AWS refuses: bad or restricted ranges, overlap, a route\'s destination, a sixth block, unknown VPCs', async () => {
    const vpcId = (await t.ec2.send(new CreateVpcCommand({ CidrBlock: '10.41.0.0/16' }))).Vpc!.VpcId!;
    const assoc = (cidr: string) => t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: cidr }));
    await fails(assoc('10.42.0.0/29'), 'InvalidVpc.Range');
    await fails(assoc('10.42.0.0/15'), 'InvalidVpc.Range');
    await fails(assoc('10.42.0.300/16'), 'InvalidParameterValue');
    await fails(assoc('10.41.128.0/17'), 'InvalidVpc.Range'); // overlaps the primary
    // Another RFC 1918 range: AWS's code and words.
    await assert.rejects(assoc('192.168.0.0/16'), (e: Error) => (assert.deepEqual([e.name, e.message], ['InvalidVpc.Range',
      'The CIDR \'192.168.0.0/16\' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, or use a publicly-routable CIDR. For additional restrictions, see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html']), true));
    await fails(assoc('172.16.0.0/16'), 'InvalidVpc.Range');
    await fails(assoc('198.19.0.0/16'), 'InvalidVpc.Range');
    await fails(t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: 'vpc-0123456789abcdef0', CidrBlock: '10.42.0.0/16' })), 'InvalidVpcID.NotFound');
    await fails(t.ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, AmazonProvidedIpv6CidrBlock: true })), 'UnsupportedOperation');

    // A route's destination inside the block: refused; a block smaller than the route: allowed.
    const main = (await t.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables![0]!.RouteTableId!;
    const eni = (await t.ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.41.1.0/24' }))).Subnet!.SubnetId }))).NetworkInterface!;
    await t.ec2.send(new CreateRouteCommand({ RouteTableId: main, DestinationCidrBlock: '10.50.0.0/24', NetworkInterfaceId: eni.NetworkInterfaceId }));
    await fails(assoc('10.50.0.0/16'), 'InvalidVpc.Range');
    await assoc('10.50.0.0/25');

    // Publicly routable and 100.64.0.0/10 blocks are fine; five blocks in all.
    await assoc('100.64.0.0/16');
    await assoc('203.0.113.0/24');
    await assoc('10.43.0.0/16');
    await fails(assoc('10.44.0.0/16'), 'CidrLimitExceeded');
    assert.equal((await vpcOf(vpcId)).CidrBlockAssociationSet!.length, 5);
  });
});
