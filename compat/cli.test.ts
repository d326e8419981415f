/**
 * The real AWS CLI (`aws ec2 ...`) against the server: what a user types and what they see (JSON output,
 * exit codes, the "(Code)" of error messages, the CLI's own pagination). Skipped when no `aws` is installed
 * (AWS_CLI names another binary).
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { useTestServer } from '../test/support/use-server.js';
import { awsClientEnv, defaultNetwork, limit, putTags, runs, type DefaultNetwork, needClient } from './support.js';

const AWS = process.env.AWS_CLI ?? 'aws';
const TEST = { accessKeyId: 'test', secretAccessKey: 'test' };
const parallel = limit(4);

interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: any;
}

describe('compat: AWS CLI', function () {
  const t = useTestServer({ requires: (ctx) => needClient(ctx, 'aws-cli', AWS, ['--version']) });
  let net: DefaultNetwork;

  async function aws(args: string[], creds = TEST): Promise<CliResult> {
    const r = await execa(AWS, ['ec2', ...args, '--endpoint-url', t.url, '--output', 'json'], {
      env: awsClientEnv({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1' }),
      extendEnv: false,
      reject: false,
      timeout: 60_000,
    });
    const stdout = String(r.stdout);
    return { exitCode: r.exitCode ?? -1, stdout, stderr: String(r.stderr), json: stdout.trim() ? JSON.parse(stdout) : undefined };
  }

  /** Runs a command that must succeed and returns its JSON output. */
  async function ok(args: string[]): Promise<any> {
    const r = await aws(args);
    assert.equal(r.exitCode, 0, `aws ec2 ${args.join(' ')} failed: ${r.stderr}`);
    return r.json;
  }

  before(async () => {
    net = await defaultNetwork(t.ec2);
  });

  describe('reading', () => {
    const cases: [string, (n: DefaultNetwork) => string[], (out: any, n: DefaultNetwork) => void][] = [
      ['describe-regions lists us-east-1 and its endpoint', () => ['describe-regions'], (o) => {
        const r = o.Regions.find((x: any) => x.RegionName === 'us-east-1');
        assert.equal(r?.Endpoint, 'ec2.us-east-1.amazonaws.com');
      }],
      ['describe-regions --region-names selects those regions', () => ['describe-regions', '--region-names', 'us-east-1', 'eu-west-1'], (o) => {
        assert.deepEqual(o.Regions.map((r: any) => r.RegionName).sort(), ['eu-west-1', 'us-east-1']);
      }],
      ['describe-regions --filters region-name with a wildcard', () => ['describe-regions', '--filters', 'Name=region-name,Values=us-*'], (o) => {
        assert.deepEqual(o.Regions.map((r: any) => r.RegionName).sort(), ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2']);
      }],
      ['describe-availability-zones lists the three zones, available', () => ['describe-availability-zones'], (o) => {
        assert.deepEqual(o.AvailabilityZones.map((z: any) => z.ZoneName).sort(), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
        for (const z of o.AvailabilityZones) {
          assert.equal(z.State, 'available');
          assert.equal(z.RegionName, 'us-east-1');
          assert.match(z.ZoneId, /^use1-az\d+$/);
        }
      }],
      ['describe-availability-zones --zone-names selects one zone', () => ['describe-availability-zones', '--zone-names', 'us-east-1b'], (o) => {
        assert.deepEqual(o.AvailabilityZones.map((z: any) => z.ZoneName), ['us-east-1b']);
      }],
      ['describe-account-attributes --attribute-names default-vpc names the default VPC', () => ['describe-account-attributes', '--attribute-names', 'default-vpc'], (o, n) => {
        assert.deepEqual(o.AccountAttributes, [{ AttributeName: 'default-vpc', AttributeValues: [{ AttributeValue: n.vpcId }] }]);
      }],
      ['describe-account-attributes says the platform is VPC', () => ['describe-account-attributes'], (o) => {
        const p = o.AccountAttributes.find((a: any) => a.AttributeName === 'supported-platforms');
        assert.deepEqual(p?.AttributeValues, [{ AttributeValue: 'VPC' }]);
      }],
      ['describe-vpcs shows the default VPC', () => ['describe-vpcs'], (o, n) => {
        assert.equal(o.Vpcs.length, 1);
        const v = o.Vpcs[0];
        assert.deepEqual([v.VpcId, v.CidrBlock, v.IsDefault, v.State, v.OwnerId], [n.vpcId, '172.31.0.0/16', true, 'available', '000000000000']);
        assert.equal('Tags' in v, false, 'an untagged VPC has no Tags key, as on AWS');
      }],
      ['describe-vpcs --vpc-ids selects it', (n) => ['describe-vpcs', '--vpc-ids', n.vpcId], (o, n) => {
        assert.deepEqual(o.Vpcs.map((v: any) => v.VpcId), [n.vpcId]);
      }],
      ['describe-vpcs with matching filters (ANDed) finds it', () => ['describe-vpcs', '--filters', 'Name=cidr,Values=172.31.0.0/16', 'Name=is-default,Values=true'], (o, n) => {
        assert.deepEqual(o.Vpcs.map((v: any) => v.VpcId), [n.vpcId]);
      }],
      ['describe-vpcs with a filter that matches nothing is empty, not an error', () => ['describe-vpcs', '--filters', 'Name=cidr,Values=10.0.0.0/16'], (o) => {
        assert.deepEqual(o.Vpcs, []);
      }],
      ['describe-subnets --filters vpc-id shows the three default subnets', (n) => ['describe-subnets', '--filters', `Name=vpc-id,Values=${n.vpcId}`], (o) => {
        const subnets = [...o.Subnets].sort((a: any, b: any) => a.AvailabilityZone.localeCompare(b.AvailabilityZone));
        assert.deepEqual(subnets.map((x: any) => x.AvailabilityZone), ['us-east-1a', 'us-east-1b', 'us-east-1c']);
        for (const x of subnets) {
          assert.match(x.CidrBlock, /^172\.31\.\d+\.0\/20$/);
          assert.equal(x.DefaultForAz, true);
          assert.equal(x.MapPublicIpOnLaunch, true);
          assert.equal(x.AvailableIpAddressCount, 4091);
        }
      }],
      ['describe-subnets --filters availability-zone selects one', () => ['describe-subnets', '--filters', 'Name=availability-zone,Values=us-east-1b'], (o, n) => {
        assert.deepEqual(o.Subnets.map((x: any) => x.SubnetId), [n.subnetIds[1]]);
      }],
      ['describe-subnets --subnet-ids selects those', (n) => ['describe-subnets', '--subnet-ids', n.subnetIds[0]!, n.subnetIds[2]!], (o, n) => {
        assert.deepEqual(o.Subnets.map((x: any) => x.SubnetId).sort(), [n.subnetIds[0], n.subnetIds[2]].sort());
      }],
      ['describe-security-groups --filters group-name,vpc-id finds the default group', (n) => ['describe-security-groups', '--filters', 'Name=group-name,Values=default', `Name=vpc-id,Values=${n.vpcId}`], (o, n) => {
        assert.deepEqual(o.SecurityGroups.map((g: any) => [g.GroupId, g.GroupName, g.VpcId]), [[n.securityGroupId, 'default', n.vpcId]]);
      }],
      ['describe-security-groups --group-ids shows its rules', (n) => ['describe-security-groups', '--group-ids', n.securityGroupId], (o, n) => {
        const g = o.SecurityGroups[0];
        assert.deepEqual(g.IpPermissionsEgress.map((p: any) => [p.IpProtocol, p.IpRanges]), [['-1', [{ CidrIp: '0.0.0.0/0' }]]]);
        assert.equal('Tags' in g, false, 'an untagged group has no Tags key, as on AWS');
        assert.deepEqual(g.IpPermissions[0].UserIdGroupPairs.map((p: any) => p.GroupId), [n.securityGroupId]);
      }],
      ['describe-instance-types --instance-types gives vCPUs and memory', () => ['describe-instance-types', '--instance-types', 't3.micro', 't2.micro'], (o) => {
        const got = o.InstanceTypes.map((t: any) => [t.InstanceType, t.VCpuInfo.DefaultVCpus, t.MemoryInfo.SizeInMiB]).sort();
        assert.deepEqual(got, [['t2.micro', 1, 1024], ['t3.micro', 2, 1024]]);
      }],
      ['describe-instance-types --filters instance-type wildcard and vcpus', () => ['describe-instance-types', '--filters', 'Name=instance-type,Values=t3.*', 'Name=vcpu-info.default-vcpus,Values=2'], (o) => {
        const names = o.InstanceTypes.map((t: any) => t.InstanceType);
        assert.ok(names.includes('t3.micro') && names.includes('t3.large'), names.join(','));
        for (const t of o.InstanceTypes) {
          assert.match(t.InstanceType, /^t3\./);
          assert.equal(t.VCpuInfo.DefaultVCpus, 2);
        }
      }],
      ['describe-instance-types --filters processor-info.supported-architecture=arm64', () => ['describe-instance-types', '--filters', 'Name=processor-info.supported-architecture,Values=arm64'], (o) => {
        assert.ok(o.InstanceTypes.length > 0);
        for (const t of o.InstanceTypes) assert.deepEqual(t.ProcessorInfo.SupportedArchitectures, ['arm64']);
      }],
    ];
    // Independent reads: started together in before(), each test checks its own.
    const started = new Map<string, Promise<CliResult>>();
    before(() => {
      for (const [title, args] of cases) started.set(title, parallel(() => aws(args(net))));
    });
    for (const [title, args, check] of cases) {
      it(title, async () => {
        const r = await started.get(title)!;
        assert.equal(r.exitCode, 0, `aws ec2 ${args(net).join(' ')} failed: ${r.stderr}`);
        check(r.json, net);
      });
    }
  });

  describe('tagging', () => {
    it('create-tags prints nothing and exits 0', async () => {
      const r = await aws(['create-tags', '--resources', net.vpcId, net.subnetIds[0]!, '--tags', 'Key=Name,Value=cli-main', 'Key=team,Value=blue']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout.trim(), '');
    });

    it('describe-tags --filters resource-id lists the tags of one resource', async () => {
      const o = await ok(['describe-tags', '--filters', `Name=resource-id,Values=${net.vpcId}`]);
      assert.deepEqual(o.Tags.map((t: any) => [t.ResourceId, t.ResourceType, t.Key, t.Value]).sort(), [
        [net.vpcId, 'vpc', 'Name', 'cli-main'],
        [net.vpcId, 'vpc', 'team', 'blue'],
      ]);
    });

    it('describe-tags --filters resource-type,key', async () => {
      const o = await ok(['describe-tags', '--filters', 'Name=resource-type,Values=subnet', 'Name=key,Values=team']);
      assert.deepEqual(o.Tags.map((t: any) => [t.ResourceId, t.Value]), [[net.subnetIds[0], 'blue']]);
    });

    it('describe-tags --filters tag:Name (a documented DescribeTags filter)', async () => {
      const o = await ok(['describe-tags', '--filters', 'Name=tag:Name,Values=cli-main']);
      assert.deepEqual(new Set(o.Tags.map((t: any) => t.ResourceId)), new Set([net.vpcId, net.subnetIds[0]]));
    });

    it('describe-vpcs --filters tag:Name finds the tagged VPC, with its Tags', async () => {
      const o = await ok(['describe-vpcs', '--filters', 'Name=tag:Name,Values=cli-main']);
      assert.deepEqual(o.Vpcs.map((v: any) => v.VpcId), [net.vpcId]);
      assert.deepEqual(o.Vpcs[0].Tags.map((t: any) => `${t.Key}=${t.Value}`).sort(), ['Name=cli-main', 'team=blue']);
    });

    it('describe-subnets --filters tag:team and tag-key find only the tagged subnet', async () => {
      for (const filter of ['Name=tag:team,Values=blue', 'Name=tag-key,Values=team', 'Name=tag-value,Values=bl?e']) {
        const o = await ok(['describe-subnets', '--filters', filter]);
        assert.deepEqual(o.Subnets.map((x: any) => x.SubnetId), [net.subnetIds[0]], filter);
      }
    });

    it('describe-security-groups --filters tag:Name is empty (the group has no tags)', async () => {
      const o = await ok(['describe-security-groups', '--filters', 'Name=tag:Name,Values=cli-main']);
      assert.deepEqual(o.SecurityGroups, []);
    });

    it('delete-tags with a value that does not match leaves the tag', async () => {
      await ok(['delete-tags', '--resources', net.vpcId, '--tags', 'Key=team,Value=red']);
      const o = await ok(['describe-tags', '--filters', `Name=resource-id,Values=${net.vpcId}`, 'Name=key,Values=team']);
      assert.equal(o.Tags.length, 1);
    });

    it('delete-tags by key removes it whatever its value, on that resource only', async () => {
      await ok(['delete-tags', '--resources', net.vpcId, '--tags', 'Key=team']);
      const o = await ok(['describe-tags', '--filters', 'Name=key,Values=team']);
      assert.deepEqual(o.Tags.map((t: any) => t.ResourceId), [net.subnetIds[0]]);
    });

    it('create-tags --dry-run answers DryRunOperation and writes nothing', async () => {
      const r = await aws(['create-tags', '--dry-run', '--resources', net.vpcId, '--tags', 'Key=dry,Value=run']);
      assert.match(r.stderr, /\(DryRunOperation\)/);
      const o = await ok(['describe-tags', '--filters', 'Name=key,Values=dry']);
      assert.deepEqual(o.Tags, []);
    });
  });

  describe('secondary VPC CIDR blocks', () => {
    it('associate-vpc-cidr-block, describe-vpcs with its association filters, create-subnet in it, disassociate-vpc-cidr-block once it is empty', async () => {
      const vpcId = (await ok(['create-vpc', '--cidr-block', '10.71.0.0/16'])).Vpc.VpcId;
      const a = await ok(['associate-vpc-cidr-block', '--vpc-id', vpcId, '--cidr-block', '10.72.0.0/16']);
      assert.deepEqual([a.VpcId, a.CidrBlockAssociation.CidrBlock, a.CidrBlockAssociation.CidrBlockState.State], [vpcId, '10.72.0.0/16', 'associating']);
      const assocId = a.CidrBlockAssociation.AssociationId;
      const found = await ok(['describe-vpcs', '--filters', 'Name=cidr-block-association.cidr-block,Values=10.72.0.0/16']);
      assert.deepEqual(found.Vpcs.map((v: any) => v.VpcId), [vpcId]);
      assert.deepEqual(found.Vpcs[0].CidrBlockAssociationSet.map((x: any) => [x.CidrBlock, x.CidrBlockState.State]), [['10.71.0.0/16', 'associated'], ['10.72.0.0/16', 'associated']]);
      const subnetId = (await ok(['create-subnet', '--vpc-id', vpcId, '--cidr-block', '10.72.3.0/24'])).Subnet.SubnetId;
      const busy = await aws(['disassociate-vpc-cidr-block', '--association-id', assocId]);
      assert.notEqual(busy.exitCode, 0);
      assert.match(busy.stderr, /\(InvalidCidrBlock\.InUse\)/);
      await ok(['delete-subnet', '--subnet-id', subnetId]);
      const d = await ok(['disassociate-vpc-cidr-block', '--association-id', assocId]);
      assert.equal(d.CidrBlockAssociation.CidrBlockState.State, 'disassociating');
      const after = await ok(['describe-vpcs', '--vpc-ids', vpcId, '--query', 'Vpcs[0].CidrBlockAssociationSet[].CidrBlockState.State']);
      assert.deepEqual(after, ['associated', 'disassociated']);
      await ok(['delete-vpc', '--vpc-id', vpcId]);
    });
  });

  describe('errors: exit code 254/255 and "(Code)" on stderr', () => {
    const wrongSecret = { accessKeyId: 'test', secretAccessKey: 'wrong' };
    const unknownKey = { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' };
    const cases: [string, (n: DefaultNetwork) => string[], string, typeof TEST?][] = [
      ['a wrong secret', () => ['describe-regions'], 'SignatureDoesNotMatch', wrongSecret],
      ['an unknown access key', () => ['describe-vpcs'], 'AuthFailure', unknownKey],
      ['an unknown filter', () => ['describe-vpcs', '--filters', 'Name=colour,Values=red'], 'InvalidParameterValue'],
      ['a malformed VPC id', () => ['describe-vpcs', '--vpc-ids', 'vpc-xyz'], 'InvalidVpcID.Malformed'],
      ['a VPC id that does not exist', () => ['describe-vpcs', '--vpc-ids', 'vpc-0123456789abcdef0'], 'InvalidVpcID.NotFound'],
      ['a malformed subnet id', () => ['describe-subnets', '--subnet-ids', 'subnet-nope'], 'InvalidSubnetID.Malformed'],
      ['a security group that does not exist', () => ['describe-security-groups', '--group-ids', 'sg-0123456789abcdef0'], 'InvalidGroup.NotFound'],
      ['create-tags on a security group that does not exist', () => ['create-tags', '--resources', 'sg-0123456789abcdef0', '--tags', 'Key=a,Value=b'], 'InvalidGroup.NotFound'],
      ['create-tags on a VPC that does not exist', () => ['create-tags', '--resources', 'vpc-0123456789abcdef0', '--tags', 'Key=a,Value=b'], 'InvalidVpcID.NotFound'],
      ['create-tags on a malformed id', () => ['create-tags', '--resources', 'vpc-xyz', '--tags', 'Key=a,Value=b'], 'InvalidID'],
      ['an instance type that does not exist', () => ['describe-instance-types', '--instance-types', 't9.huge'], 'InvalidInstanceType'],
      ['--dry-run on a read', () => ['describe-vpcs', '--dry-run'], 'DryRunOperation'],
      ['a --page-size under the minimum of 5', () => ['describe-tags', '--page-size', '2'], 'InvalidParameterValue'],
    ];
    const started = new Map<string, Promise<CliResult>>();
    before(() => {
      for (const [what, args, , creds] of cases) started.set(what, parallel(() => aws(args(net), creds)));
    });
    for (const [what, , code] of cases) {
      it(`${code} for ${what}`, async () => {
        const r = await started.get(what)!;
        assert.ok([254, 255].includes(r.exitCode), `exit code ${r.exitCode}; stderr: ${r.stderr}`);
        assert.ok(r.stderr.includes(`(${code})`), r.stderr);
        assert.match(r.stderr, /when calling the \w+ operation/);
        assert.equal(r.stdout.trim(), '');
      });
    }
  });

  describe('pagination done by the CLI', () => {
    const COUNT = 23;
    let expected: string[];
    const pairs = (o: any) => o.Tags.map((t: any) => `${t.ResourceId} ${t.Key}`);
    before(async () => {
      expected = await putTags(t.ec2, net.resources, 'pg-', COUNT);
    });

    it(`--page-size 5 returns all ${COUNT} tags exactly once, in ceil(${COUNT}/5) requests of MaxResults=5`, async () => {
      const r = await aws(['describe-tags', '--filters', 'Name=key,Values=pg-*', '--page-size', '5', '--debug']);
      assert.equal(r.exitCode, 0, r.stderr.slice(-2000));
      assert.deepEqual(pairs(r.json).sort(), expected);
      assert.equal(r.json.NextToken, undefined);
      const requests = r.stderr.split('\n').filter((l) => l.includes('Making request for OperationModel(name=DescribeTags)'));
      assert.equal(requests.length, Math.ceil(COUNT / 5));
      for (const l of requests) assert.match(l, /'MaxResults': 5\b/);
    });

    for (const pageSize of [undefined, 5]) {
      it(`--max-items 7 then --starting-token gives the rest, no gap or duplicate${pageSize ? ' (with --page-size 5)' : ''}`, async () => {
        const paging = pageSize ? ['--page-size', String(pageSize)] : [];
        const first = await ok(['describe-tags', '--filters', 'Name=key,Values=pg-*', '--max-items', '7', ...paging]);
        assert.equal(first.Tags.length, 7);
        assert.ok(first.NextToken, 'a NextToken to continue from');
        const rest = await ok(['describe-tags', '--filters', 'Name=key,Values=pg-*', '--max-items', '100', '--starting-token', first.NextToken, ...paging]);
        assert.equal(rest.NextToken, undefined);
        assert.deepEqual([...pairs(first), ...pairs(rest)].sort(), expected);
      });
    }
  });
});
