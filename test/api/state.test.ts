import assert from 'node:assert/strict';
import {
  CreateTagsCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  DescribeSubnetsCommand,
  DescribeSecurityGroupsCommand,
  DescribeInstanceTypesCommand,
  DescribeAccountAttributesCommand,
  DeleteTagsCommand,
  CreateSubnetCommand,
  DeleteSubnetCommand,
} from '@aws-sdk/client-ec2';
import { SECOND_ACCOUNT } from '../support/server.js';
import { useTestServer } from '../support/use-server.js';

describe('state: paging, isolation, restarts and concurrency', () => {
  const t = useTestServer();

  it('pages DescribeTags by position: no duplicates or gaps while tags are added between pages', async () => {
    const { ec2 } = t;
    const vpcId = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets!.map((x) => x.SubnetId!);
    const resources = [vpcId, ...subnets];
    for (let i = 0; i < 10; i++) {
      await ec2.send(new CreateTagsCommand({ Resources: resources, Tags: [{ Key: `k${String(i).padStart(2, '0')}`, Value: `v${i}` }] }));
    }
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await ec2.send(new DescribeTagsCommand({ MaxResults: 7, NextToken: token }));
      assert.ok(page.Tags!.length <= 7);
      for (const t of page.Tags!) seen.push(`${t.ResourceId}/${t.Key}`);
      token = page.NextToken;
      if (pages === 1) {
        // A tag created mid-listing on a resource that sorts before every other: it must not shift the pages.
        await ec2.send(new CreateTagsCommand({ Resources: [subnets[0]!], Tags: [{ Key: 'a-late', Value: 'x' }] }));
      }
      pages++;
    } while (token);
    const original = resources.flatMap((r) => Array.from({ length: 10 }, (_, i) => `${r}/k${String(i).padStart(2, '0')}`));
    for (const o of original) assert.equal(seen.filter((x) => x === o).length, 1, `${o} listed exactly once`);
    assert.equal(new Set(seen).size, seen.length, 'no duplicates');
    assert.ok(pages >= 6);
  });

  it('filters tags by key, value wildcards and resource type', async () => {
    const { ec2 } = t;
    const byKey = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['k0?'] }, { Name: 'resource-type', Values: ['vpc'] }] }));
    assert.equal(byKey.Tags!.length, 10);
    const byValue = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'value', Values: ['v*'] }, { Name: 'key', Values: ['k05'] }] }));
    assert.equal(byValue.Tags!.length, 4);
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag:k03', Values: ['v3'] }, { Name: 'is-default', Values: ['true'] }] }));
    assert.equal(vpcs.Vpcs!.length, 1);
    const none = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag:k03', Values: ['nope'] }] }));
    assert.equal(none.Vpcs!.length, 0);
    const vpcId = vpcs.Vpcs![0]!.VpcId!;
    await ec2.send(new DeleteTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'k03', Value: 'wrong-value' }] }));
    assert.equal((await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [vpcId] }, { Name: 'key', Values: ['k03'] }] }))).Tags!.length, 1, 'a value that does not match deletes nothing');
    await ec2.send(new DeleteTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'k03' }] }));
    assert.equal((await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [vpcId] }, { Name: 'key', Values: ['k03'] }] }))).Tags!.length, 0);
  });

  it('keeps accounts apart: another account neither sees nor tags this one\'s resources', async () => {
    const mine = t.ec2;
    const theirs = t.other;
    const myVpc = (await mine.send(new DescribeVpcsCommand({}))).Vpcs![0]!;
    const theirVpc = (await theirs.send(new DescribeVpcsCommand({}))).Vpcs![0]!;
    assert.notEqual(myVpc.VpcId, theirVpc.VpcId, 'each account has its own default VPC');
    assert.equal(theirVpc.OwnerId, SECOND_ACCOUNT.accountId);
    await assert.rejects(theirs.send(new CreateTagsCommand({ Resources: [myVpc.VpcId!], Tags: [{ Key: 'x', Value: 'y' }] })), { name: 'InvalidVpcID.NotFound' });
    await assert.rejects(theirs.send(new DescribeVpcsCommand({ VpcIds: [myVpc.VpcId!] })), { name: 'InvalidVpcID.NotFound' });
    const theirTags = await theirs.send(new DescribeTagsCommand({}));
    assert.equal(theirTags.Tags!.length, 0);
  });

  it('describes the default network: 172.31.0.0/16, one /20 per zone, a default security group', async () => {
    const { ec2 } = t;
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
    assert.deepEqual(subnets.map((x) => x.CidrBlock).sort(), ['172.31.0.0/20', '172.31.16.0/20', '172.31.32.0/20']);
    assert.deepEqual(subnets.map((x) => x.AvailabilityZone).sort(), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
    assert.equal(subnets[0]!.AvailableIpAddressCount, 4091);
    const sgs = await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }));
    assert.equal(sgs.SecurityGroups![0]!.IpPermissionsEgress![0]!.IpRanges![0]!.CidrIp, '0.0.0.0/0');
    await assert.rejects(ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['nope'] })), { name: 'InvalidGroup.NotFound' });
    await assert.rejects(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-nope'] })), { name: 'InvalidGroupId.Malformed' });
    const attrs = await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }));
    assert.equal(attrs.AccountAttributes![0]!.AttributeValues![0]!.AttributeValue, (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId);
  });

  it('catalogues instance types with the vCPU and memory the backends enforce', async () => {
    const { ec2 } = t;
    const types = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro', 'm5.large'] }));
    const byName = Object.fromEntries(types.InstanceTypes!.map((x) => [x.InstanceType, x]));
    assert.equal(byName['t3.micro']!.VCpuInfo!.DefaultVCpus, 2);
    assert.equal(byName['t3.micro']!.MemoryInfo!.SizeInMiB, 1024);
    assert.equal(byName['m5.large']!.MemoryInfo!.SizeInMiB, 8192);
    const filtered = await ec2.send(new DescribeInstanceTypesCommand({ Filters: [{ Name: 'vcpu-info.default-vcpus', Values: ['1'] }] }));
    assert.ok(filtered.InstanceTypes!.every((x) => x.VCpuInfo!.DefaultVCpus === 1));
    await assert.rejects(ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: ['x9.huge' as never] })), { name: 'InvalidInstanceType' });
  });

  it('hands out each subnet address once under 60 concurrent allocations', async () => {
    const subnet = (await t.s.services.network.subnets('000000000000')).find((x) => x.cidr_block === '172.31.32.0/20')!;
    const ips = await Promise.all(Array.from({ length: 60 }, (_, i) => t.s.services.network.allocateIp(subnet, `owner-${i}`)));
    assert.equal(new Set(ips).size, 60);
    assert.ok(!ips.includes('172.31.32.0') && !ips.includes('172.31.32.1') && !ips.includes('172.31.32.2') && !ips.includes('172.31.32.3'), 'AWS reserved addresses are never handed out');
    await assert.rejects(t.s.services.network.allocateIp(subnet, 'late', ips[0]), { code: 'InvalidIPAddress.InUse' });
  });

  it('hands out the lowest free address of a subnet, fills a gap first, and says when the subnet is full', async () => {
    const vpcId = (await t.ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    const subnetId = (await t.ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '172.31.77.16/28' }))).Subnet!.SubnetId!;
    const subnet = (await t.s.services.network.subnet('000000000000', subnetId))!;
    // A /28: 16 addresses, AWS keeps the first four and the last: .20 to .30 are handed out, in order.
    const got: string[] = [];
    for (let i = 0; i < 11; i++) got.push(await t.s.services.network.allocateIp(subnet, `owner-${i}`));
    assert.deepEqual(got, Array.from({ length: 11 }, (_, i) => `172.31.77.${20 + i}`));
    await assert.rejects(t.s.services.network.allocateIp(subnet, 'one-too-many'), { code: 'InsufficientFreeAddressesInSubnet' });
    await t.s.services.network.releaseIps('owner-3');
    await t.s.services.network.releaseIps('owner-7');
    assert.equal(await t.s.services.network.allocateIp(subnet, 'gap-1'), '172.31.77.23', 'the lowest gap first');
    assert.equal(await t.s.services.network.allocateIp(subnet, 'gap-2'), '172.31.77.27');
    await assert.rejects(t.s.services.network.allocateIp(subnet, 'full-again'), { code: 'InsufficientFreeAddressesInSubnet' });
    await t.s.services.network.releaseIps('owner-0');
    assert.equal(await t.s.services.network.allocateIp(subnet, 'first-again'), '172.31.77.20', 'the first usable address when it is free');
    for (const owner of [...got.map((_, i) => `owner-${i}`), 'gap-1', 'gap-2', 'first-again']) await t.s.services.network.releaseIps(owner);
    await t.ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
  });

  it('keeps state across a restart of the server on the same database', async () => {
    const { ec2 } = t;
    const vpcId = (await ec2.send(new DescribeVpcsCommand({}))).Vpcs![0]!.VpcId!;
    await ec2.send(new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: 'survives', Value: 'restart' }] }));
    await t.restart();
    const again = t.ec2;
    const vpcs = await again.send(new DescribeVpcsCommand({}));
    assert.equal(vpcs.Vpcs!.length, 1, 'no second default VPC after a restart');
    assert.equal(vpcs.Vpcs![0]!.VpcId, vpcId);
    const tags = await again.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['survives'] }] }));
    assert.equal(tags.Tags![0]!.Value, 'restart');
  });
});
