/**
 * The AWS SDK for JavaScript v3 (@aws-sdk/client-ec2) against the server: commands and their typed output,
 * the exceptions a user catches (name, $metadata), paginators, DryRun, account isolation, and presigned
 * GET requests made with @smithy/signature-v4.
 */
import assert from 'node:assert/strict';
import {
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeAccountAttributesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypesCommand,
  DescribeRegionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  EC2Client,
  EC2ServiceException,
  paginateDescribeInstanceTypes,
  paginateDescribeTags,
} from '@aws-sdk/client-ec2';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SECOND_ACCOUNT } from '../test/support/server.js';
import { useTestServer } from '../test/support/use-server.js';
import { sdk } from '../test/support/clients.js';
import { defaultNetwork, putTags, UUID, type DefaultNetwork } from './support.js';

const TEST = { accessKeyId: 'test', secretAccessKey: 'test' };

/** Any command of the client (the SDK's own union type does not accept each command class). */
type Cmd = { readonly input: object };
const send = (client: EC2Client, command: Cmd): Promise<any> => client.send(command as never);

/** The exception a command throws (fails the test when it succeeds or throws something else). */
async function failure(client: EC2Client, command: Cmd): Promise<EC2ServiceException> {
  try {
    await send(client, command);
  } catch (e) {
    assert.ok(e instanceof EC2ServiceException, `an EC2ServiceException, not ${String(e)}`);
    return e;
  }
  assert.fail('the command succeeded');
}

/** A client whose requests name another action than the command's (an SDK cannot send unknown actions). */
function renamingAction(url: string, from: string, to: string): EC2Client {
  assert.equal(from.length, to.length, 'same length, so Content-Length stays right');
  const c = sdk(url);
  c.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { body?: unknown };
      req.body = String(req.body).replace(`Action=${from}`, `Action=${to}`);
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'renameAction' },
  );
  return c;
}

describe('compat: AWS SDK for JavaScript v3', () => {
  const t = useTestServer();
  let net: DefaultNetwork;
  before(async () => {
    net = await defaultNetwork(t.ec2);
  });

  describe('commands', () => {
    const cases: [string, (n: DefaultNetwork) => Cmd, (out: any, n: DefaultNetwork) => void][] = [
      ['DescribeRegions with RegionNames', () => new DescribeRegionsCommand({ RegionNames: ['us-east-1'] }), (o) => {
        assert.deepEqual(o.Regions, [{ RegionName: 'us-east-1', Endpoint: 'ec2.us-east-1.amazonaws.com', OptInStatus: 'opt-in-not-required' }]);
      }],
      ['DescribeAvailabilityZones with ZoneNames', () => new DescribeAvailabilityZonesCommand({ ZoneNames: ['us-east-1c'] }), (o) => {
        assert.deepEqual(o.AvailabilityZones.map((z: any) => [z.ZoneName, z.RegionName, z.State, z.ZoneType]), [['us-east-1c', 'us-east-1', 'available', 'availability-zone']]);
      }],
      ['DescribeAccountAttributes', () => new DescribeAccountAttributesCommand({}), (o, n) => {
        const byName = Object.fromEntries(o.AccountAttributes.map((a: any) => [a.AttributeName, a.AttributeValues.map((v: any) => v.AttributeValue)]));
        assert.deepEqual(byName['default-vpc'], [n.vpcId]);
        assert.deepEqual(byName['supported-platforms'], ['VPC']);
      }],
      ['DescribeInstanceTypes with InstanceTypes (numbers and booleans typed)', () => new DescribeInstanceTypesCommand({ InstanceTypes: ['t3.micro'] }), (o) => {
        const t = o.InstanceTypes[0];
        assert.equal(t.VCpuInfo.DefaultVCpus, 2);
        assert.equal(t.MemoryInfo.SizeInMiB, 1024);
        assert.equal(t.BurstablePerformanceSupported, true);
        assert.deepEqual(t.ProcessorInfo.SupportedArchitectures, ['x86_64']);
      }],
      ['DescribeInstanceTypes with a memory filter', () => new DescribeInstanceTypesCommand({ Filters: [{ Name: 'memory-info.size-in-mib', Values: ['8192'] }] }), (o) => {
        assert.ok(o.InstanceTypes.some((t: any) => t.InstanceType === 'm5.large'));
        for (const t of o.InstanceTypes) assert.equal(t.MemoryInfo.SizeInMiB, 8192);
      }],
      ['DescribeVpcs with a vpc-id filter', (n) => new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [n.vpcId] }] }), (o, n) => {
        const v = o.Vpcs[0];
        assert.deepEqual([o.Vpcs.length, v.VpcId, v.IsDefault, v.CidrBlock, v.OwnerId], [1, n.vpcId, true, '172.31.0.0/16', '000000000000']);
      }],
      ['DescribeSubnets by ids', (n) => new DescribeSubnetsCommand({ SubnetIds: n.subnetIds }), (o, n) => {
        assert.deepEqual(o.Subnets.map((x: any) => x.SubnetId).sort(), [...n.subnetIds].sort());
        for (const x of o.Subnets) assert.equal(x.VpcId, n.vpcId);
      }],
      ['DescribeSecurityGroups by id', (n) => new DescribeSecurityGroupsCommand({ GroupIds: [n.securityGroupId] }), (o, n) => {
        assert.deepEqual(o.SecurityGroups.map((g: any) => [g.GroupId, g.GroupName, g.OwnerId]), [[n.securityGroupId, 'default', '000000000000']]);
      }],
    ];
    for (const [title, command, check] of cases) {
      it(`${title}: 200, a request id, the values`, async () => {
        const out = await send(t.ec2, command(net));
        assert.equal(out.$metadata.httpStatusCode, 200);
        assert.match(out.$metadata.requestId, UUID);
        check(out, net);
      });
    }
  });

  describe('exceptions: name, $metadata.httpStatusCode, $metadata.requestId', () => {
    const cases: [string, (url: string, n: DefaultNetwork) => [EC2Client, Cmd], string, number][] = [
      ['a wrong secret', (u) => [sdk(u, { ...TEST, secretAccessKey: 'wrong' }), new DescribeRegionsCommand({})], 'SignatureDoesNotMatch', 403],
      ['an unknown access key', (u) => [sdk(u, { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' }), new DescribeRegionsCommand({})], 'AuthFailure', 401],
      ['an unknown action', (u) => [renamingAction(u, 'DescribeRegions', 'DescribeUnicorn'), new DescribeRegionsCommand({})], 'InvalidAction', 400],
      ['DryRun on a read', (u) => [sdk(u), new DescribeVpcsCommand({ DryRun: true })], 'DryRunOperation', 412],
      ['an unknown filter', (u) => [sdk(u), new DescribeVpcsCommand({ Filters: [{ Name: 'colour', Values: ['red'] }] })], 'InvalidParameterValue', 400],
      ['a malformed VPC id', (u) => [sdk(u), new DescribeVpcsCommand({ VpcIds: ['vpc-xyz'] })], 'InvalidVpcID.Malformed', 400],
      ['a subnet that does not exist', (u) => [sdk(u), new DescribeSubnetsCommand({ SubnetIds: ['subnet-0123456789abcdef0'] })], 'InvalidSubnetID.NotFound', 400],
      ['MaxResults under the minimum', (u) => [sdk(u), new DescribeTagsCommand({ MaxResults: 4 })], 'InvalidParameterValue', 400],
      ['a tag key with the reserved aws: prefix', (u, n) => [sdk(u), new CreateTagsCommand({ Resources: [n.vpcId], Tags: [{ Key: 'aws:owner', Value: 'x' }] })], 'InvalidParameterValue', 400],
    ];
    for (const [what, make, name, status] of cases) {
      it(`${name} (${status}) for ${what}`, async () => {
        const [client, command] = make(t.url, net);
        const e = await failure(client, command);
        assert.equal(e.name, name, e.message);
        assert.equal(e.$metadata.httpStatusCode, status);
        assert.match(e.$metadata.requestId ?? '', UUID);
        assert.equal(e.$fault, 'client');
        assert.ok(e.message.length > 0, 'a message');
      });
    }
  });

  describe('paginators', () => {
    it('paginateDescribeTags with pageSize 5 gives every tag once, in pages of 5', async () => {
      const expected = await putTags(t.ec2, net.resources, 'pg-', 23);
      const pages: number[] = [];
      const seen: string[] = [];
      for await (const page of paginateDescribeTags({ client: t.ec2, pageSize: 5 }, { Filters: [{ Name: 'key', Values: ['pg-*'] }] })) {
        pages.push(page.Tags?.length ?? 0);
        for (const t of page.Tags ?? []) seen.push(`${t.ResourceId} ${t.Key}`);
      }
      assert.deepEqual(pages, [5, 5, 5, 5, 3]);
      assert.deepEqual(seen.sort(), expected);
    });

    it('paginateDescribeInstanceTypes with pageSize 5 gives the same types as one unpaged call', async () => {
      const all = (await t.ec2.send(new DescribeInstanceTypesCommand({}))).InstanceTypes!.map((t) => t.InstanceType!);
      const paged: string[] = [];
      let pages = 0;
      for await (const page of paginateDescribeInstanceTypes({ client: t.ec2, pageSize: 5 }, {})) {
        pages++;
        assert.ok((page.InstanceTypes?.length ?? 0) <= 5);
        paged.push(...page.InstanceTypes!.map((t) => t.InstanceType!));
      }
      assert.equal(pages, Math.ceil(all.length / 5));
      assert.deepEqual(paged.sort(), [...all].sort());
    });
  });

  describe('DryRun', () => {
    it('CreateTags with DryRun answers DryRunOperation (412) and writes no tag', async () => {
      const e = await failure(t.ec2, new CreateTagsCommand({ DryRun: true, Resources: [net.vpcId], Tags: [{ Key: 'dry', Value: 'run' }] }));
      assert.equal(e.name, 'DryRunOperation');
      assert.equal(e.$metadata.httpStatusCode, 412);
      const tags = await t.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['dry'] }] }));
      assert.deepEqual(tags.Tags, []);
    });

    it('DeleteTags with DryRun deletes nothing', async () => {
      await t.ec2.send(new CreateTagsCommand({ Resources: [net.vpcId], Tags: [{ Key: 'keep', Value: 'me' }] }));
      const e = await failure(t.ec2, new DeleteTagsCommand({ DryRun: true, Resources: [net.vpcId], Tags: [{ Key: 'keep' }] }));
      assert.equal(e.name, 'DryRunOperation');
      const tags = await t.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['keep'] }] }));
      assert.equal(tags.Tags?.length, 1);
    });
  });

  describe('account isolation', () => {
    let otherNet: DefaultNetwork;
    before(async () => {
      otherNet = await defaultNetwork(t.other);
      await t.ec2.send(new CreateTagsCommand({ Resources: [net.vpcId], Tags: [{ Key: 'owner', Value: 'first' }] }));
    });
    const firstHasItsTag = async () => {
      const tags = await t.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [net.vpcId] }, { Name: 'key', Values: ['owner'] }] }));
      assert.deepEqual(tags.Tags?.map((x) => x.Value), ['first']);
    };

    it('the second account has its own default VPC, owned by it', async () => {
      const v = await t.other.send(new DescribeVpcsCommand({}));
      assert.deepEqual(v.Vpcs?.map((x) => [x.VpcId, x.OwnerId]), [[otherNet.vpcId, SECOND_ACCOUNT.accountId]]);
      assert.notEqual(otherNet.vpcId, net.vpcId);
      assert.equal(new Set([...net.subnetIds, ...otherNet.subnetIds]).size, 6);
    });

    it("it does not see the first account's tags", async () => {
      const tags = await t.other.send(new DescribeTagsCommand({}));
      assert.ok(!(tags.Tags ?? []).some((x) => net.resources.includes(x.ResourceId!)), JSON.stringify(tags.Tags));
      const f = await t.other.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag:owner', Values: ['first'] }] }));
      assert.deepEqual(f.Vpcs, []);
    });

    const cases: [string, (n: DefaultNetwork) => Cmd, string][] = [
      ['CreateTags on the first account\'s VPC', (n) => new CreateTagsCommand({ Resources: [n.vpcId], Tags: [{ Key: 'owner', Value: 'second' }] }), 'InvalidVpcID.NotFound'],
      ['DeleteTags on the first account\'s VPC', (n) => new DeleteTagsCommand({ Resources: [n.vpcId], Tags: [{ Key: 'owner' }] }), 'InvalidVpcID.NotFound'],
      ['CreateTags on the first account\'s subnet', (n) => new CreateTagsCommand({ Resources: [n.subnetIds[0]!], Tags: [{ Key: 'x', Value: 'y' }] }), 'InvalidSubnetID.NotFound'],
      ['DescribeVpcs of the first account\'s VPC id', (n) => new DescribeVpcsCommand({ VpcIds: [n.vpcId] }), 'InvalidVpcID.NotFound'],
      ['DescribeSubnets of the first account\'s subnet id', (n) => new DescribeSubnetsCommand({ SubnetIds: [n.subnetIds[1]!] }), 'InvalidSubnetID.NotFound'],
      ['DescribeSecurityGroups of the first account\'s group id', (n) => new DescribeSecurityGroupsCommand({ GroupIds: [n.securityGroupId] }), 'InvalidGroup.NotFound'],
    ];
    for (const [what, command, name] of cases) {
      it(`${what} by the second account is ${name}, and changes nothing`, async () => {
        const e = await failure(t.other, command(net));
        assert.equal(e.name, name, e.message);
        await firstHasItsTag();
      });
    }

    it('filtering on the first account\'s ids finds nothing', async () => {
      const v = await t.other.send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [net.vpcId] }] }));
      assert.deepEqual(v.Vpcs, []);
      const tags = await t.other.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [net.vpcId] }] }));
      assert.deepEqual(tags.Tags, []);
    });
  });

  describe('presigned GET (@smithy/signature-v4 presign)', () => {
    async function presigned(
      query: Record<string, string>,
      opts: { creds?: { accessKeyId: string; secretAccessKey: string }; signingDate?: Date; expiresIn?: number } = {},
    ): Promise<string> {
      const u = new URL(t.url);
      const signer = new SignatureV4({ service: 'ec2', region: 'us-east-1', credentials: opts.creds ?? TEST, sha256: Sha256 });
      const signed = await signer.presign(
        {
          method: 'GET',
          protocol: u.protocol,
          hostname: u.hostname,
          port: Number(u.port),
          path: '/',
          headers: { host: u.host },
          query: { Version: '2016-11-15', ...query },
        },
        { expiresIn: opts.expiresIn ?? 300, signingDate: opts.signingDate },
      );
      return `${t.url}/?${new URLSearchParams(signed.query as Record<string, string>)}`;
    }
    const get = async (url: string) => {
      const r = await fetch(url);
      return { status: r.status, body: await r.text() };
    };

    it('is answered 200 with the result', async () => {
      const r = await get(await presigned({ Action: 'DescribeRegions', 'RegionName.1': 'eu-west-1' }));
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /<regionName>eu-west-1<\/regionName>/);
    });

    it('a changed parameter is SignatureDoesNotMatch (403)', async () => {
      const url = (await presigned({ Action: 'DescribeRegions', 'RegionName.1': 'eu-west-1' })).replace('eu-west-1', 'us-east-1');
      const r = await get(url);
      assert.equal(r.status, 403);
      assert.match(r.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    });

    it('is valid until it expires, beyond the 5 minutes of clock skew allowed to signed headers', async () => {
      const r = await get(await presigned({ Action: 'DescribeRegions' }, { signingDate: new Date(Date.now() - 10 * 60_000), expiresIn: 3600 }));
      assert.equal(r.status, 200, r.body);
    });

    it('after it expires it is RequestExpired (400)', async () => {
      const r = await get(await presigned({ Action: 'DescribeRegions' }, { signingDate: new Date(Date.now() - 20 * 60_000), expiresIn: 60 }));
      assert.equal(r.status, 400);
      assert.match(r.body, /<Code>RequestExpired<\/Code>/);
    });

    it("acts as the signing account (the second account's default VPC)", async () => {
      const r = await get(await presigned({ Action: 'DescribeAccountAttributes', 'AttributeName.1': 'default-vpc' }, { creds: SECOND_ACCOUNT }));
      assert.equal(r.status, 200, r.body);
      const otherVpc = (await defaultNetwork(t.other)).vpcId;
      assert.match(r.body, new RegExp(`<attributeValue>${otherVpc}</attributeValue>`));
    });

    it('DryRun in a presigned URL is DryRunOperation (412)', async () => {
      const r = await get(await presigned({ Action: 'DescribeVpcs', DryRun: 'true' }));
      assert.equal(r.status, 412);
      assert.match(r.body, /<Code>DryRunOperation<\/Code>/);
    });
  });
});
