/**
 * Python boto3 against the server, through the scripts in compat/python (run as `python3 script.py <endpoint>`):
 * client calls and the ClientError a user catches (code, HTTP status, request id), paginators, the resource
 * layer and waiters, and presigned URLs made by botocore. Skipped when python3 cannot import boto3
 * (PYTHON names another interpreter).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { SECOND_ACCOUNT } from '../test/support/server.js';
import { useTestServer } from '../test/support/use-server.js';
import { awsClientEnv, defaultNetwork, putTags, runs, UUID, type DefaultNetwork, needClient } from './support.js';

const PYTHON = process.env.PYTHON ?? 'python3';
const DIR = fileURLToPath(new URL('./python/', import.meta.url));

/** Runs compat/python/<script> with the endpoint first; its stdout is one JSON document. */
async function python(script: string, args: string[], input?: unknown): Promise<any> {
  const r = await execa(PYTHON, [script, ...args], {
    cwd: DIR,
    env: awsClientEnv({ PYTHONDONTWRITEBYTECODE: '1' }),
    extendEnv: false,
    reject: false,
    timeout: 90_000,
    input: input === undefined ? undefined : JSON.stringify(input),
  });
  assert.equal(r.exitCode, 0, `${script} exited ${r.exitCode}: ${r.stderr}${r.stdout}`);
  return JSON.parse(String(r.stdout));
}

interface Outcome {
  ok: boolean;
  status: number;
  requestId?: string;
  headerRequestId?: string;
  code?: string;
  message?: string;
  result?: any;
}

describe('compat: Python boto3', function () {
  let net: DefaultNetwork;

  const t = useTestServer({ requires: (ctx) => needClient(ctx, 'boto3', PYTHON, ['-c', 'import boto3']) });
  before(async () => {
    net = await defaultNetwork(t.ec2);
  });

  describe('client calls', () => {
    type Case = { id: string; op: string; params?: (n: DefaultNetwork) => Record<string, unknown>; creds?: [string, string] };
    const successes: [Case, (result: any, n: DefaultNetwork) => void][] = [
      [{ id: 'describe_regions lists us-east-1', op: 'describe_regions' }, (r) => {
        assert.ok(r.Regions.some((x: any) => x.RegionName === 'us-east-1' && x.Endpoint === 'ec2.us-east-1.amazonaws.com'));
      }],
      [{ id: 'describe_availability_zones with a zone-name filter', op: 'describe_availability_zones', params: () => ({ Filters: [{ Name: 'zone-name', Values: ['us-east-1a'] }] }) }, (r) => {
        assert.deepEqual(r.AvailabilityZones.map((z: any) => [z.ZoneName, z.State]), [['us-east-1a', 'available']]);
      }],
      [{ id: 'describe_vpcs by id', op: 'describe_vpcs', params: (n) => ({ VpcIds: [n.vpcId] }) }, (r, n) => {
        assert.deepEqual(r.Vpcs.map((v: any) => [v.VpcId, v.CidrBlock, v.IsDefault]), [[n.vpcId, '172.31.0.0/16', true]]);
      }],
      [{ id: 'describe_subnets with default-for-az', op: 'describe_subnets', params: () => ({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }) }, (r, n) => {
        assert.deepEqual(r.Subnets.map((x: any) => x.SubnetId).sort(), [...n.subnetIds].sort());
      }],
      [{ id: 'describe_security_groups by GroupNames in the default VPC', op: 'describe_security_groups', params: () => ({ GroupNames: ['default'] }) }, (r, n) => {
        assert.deepEqual(r.SecurityGroups.map((g: any) => g.GroupId), [n.securityGroupId]);
      }],
      [{ id: 'describe_instance_types m5.large', op: 'describe_instance_types', params: () => ({ InstanceTypes: ['m5.large'] }) }, (r) => {
        const t = r.InstanceTypes[0];
        assert.deepEqual([t.InstanceType, t.VCpuInfo.DefaultVCpus, t.MemoryInfo.SizeInMiB], ['m5.large', 2, 8192]);
      }],
      [{ id: 'describe_account_attributes default-vpc', op: 'describe_account_attributes', params: () => ({ AttributeNames: ['default-vpc'] }) }, (r, n) => {
        assert.equal(r.AccountAttributes[0].AttributeValues[0].AttributeValue, n.vpcId);
      }],
    ];
    const wrong: [string, string] = ['test', 'wrong'];
    const failures: [Case, number, string][] = [
      [{ id: 'a wrong secret', op: 'describe_regions', creds: wrong }, 403, 'SignatureDoesNotMatch'],
      [{ id: 'an unknown access key', op: 'describe_vpcs', creds: ['AKIDNOBODY', 'x'] }, 401, 'AuthFailure'],
      [{ id: 'DryRun on a read', op: 'describe_vpcs', params: () => ({ DryRun: true }) }, 412, 'DryRunOperation'],
      [{ id: 'DryRun on create_tags', op: 'create_tags', params: (n) => ({ DryRun: true, Resources: [n.vpcId], Tags: [{ Key: 'dry', Value: 'run' }] }) }, 412, 'DryRunOperation'],
      [{ id: 'an unknown filter', op: 'describe_subnets', params: () => ({ Filters: [{ Name: 'colour', Values: ['red'] }] }) }, 400, 'InvalidParameterValue'],
      [{ id: 'a malformed VPC id', op: 'describe_vpcs', params: () => ({ VpcIds: ['vpc-xyz'] }) }, 400, 'InvalidVpcID.Malformed'],
      [{ id: 'a subnet that does not exist', op: 'describe_subnets', params: () => ({ SubnetIds: ['subnet-0123456789abcdef0'] }) }, 400, 'InvalidSubnetID.NotFound'],
      [{ id: 'MaxResults over the maximum', op: 'describe_tags', params: () => ({ MaxResults: 1001 }) }, 400, 'InvalidParameterValue'],
      [{ id: 'a NextToken the server never gave', op: 'describe_tags', params: () => ({ NextToken: 'not-a-token' }) }, 400, 'InvalidPaginationToken'],
      [{ id: 'an unknown instance type', op: 'describe_instance_types', params: () => ({ InstanceTypes: ['t9.huge'] }) }, 400, 'InvalidInstanceType'],
    ];

    let outcomes: Record<string, Outcome>;
    before(async () => {
      const calls = [...successes.map(([c]) => c), ...failures.map(([c]) => c)].map((c) => ({
        id: c.id,
        op: c.op,
        params: c.params?.(net) ?? {},
        creds: c.creds,
      }));
      outcomes = await python('calls.py', [t.url], calls);
    });

    for (const [c, check] of successes) {
      it(c.id, () => {
        const o = outcomes[c.id]!;
        assert.ok(o.ok, `${o.code}: ${o.message}`);
        assert.equal(o.status, 200);
        check(o.result, net);
      });
    }
    for (const [c, status, code] of failures) {
      it(`ClientError ${code} (HTTP ${status}) for ${c.id}`, () => {
        const o = outcomes[c.id]!;
        assert.equal(o.ok, false, 'the call raised ClientError');
        assert.equal(o.code, code, o.message);
        assert.equal(o.status, status);
      });
    }

    it('ResponseMetadata.RequestId is a UUID, the x-amzn-requestid header, on successes and errors', () => {
      for (const [id, o] of Object.entries(outcomes)) {
        assert.match(o.requestId ?? '', UUID, id);
        assert.equal(o.requestId, o.headerRequestId, id);
      }
      assert.equal(new Set(Object.values(outcomes).map((o) => o.requestId)).size, Object.keys(outcomes).length, 'one id per request');
    });
  });

  describe('paginators', () => {
    const COUNT = 23;
    let expected: string[];
    let out: any;
    before(async () => {
      expected = await putTags(t.ec2, net.resources, 'pg-', COUNT);
      out = await python('paginate.py', [t.url, 'pg-']);
    });

    it(`get_paginator('describe_tags') with PageSize=5 yields every tag once, in pages of 5`, () => {
      assert.deepEqual([...out.items].sort(), expected);
      assert.deepEqual(out.pages, [5, 5, 5, 5, 3]);
      assert.deepEqual(out.maxResultsSent, [5, 5, 5, 5, 5]);
    });

    it('MaxItems=7 stops mid-page and StartingToken resumes there', () => {
      assert.equal(out.firstPart.length, 7);
      assert.ok(out.resumeToken);
      assert.equal(out.secondNextToken ?? undefined, undefined);
      assert.deepEqual([...out.firstPart, ...out.secondPart].sort(), expected);
    });
  });

  describe('resources and waiters', () => {
    it('ec2.vpcs/subnets/security_groups, create_tags + reload, and the vpc/subnet/security-group waiters', async () => {
      const out = await python('resources.py', [t.url]);
      assert.equal(out.vpc, net.vpcId);
      assert.deepEqual(out.subnets, net.subnetIds);
      assert.equal(out.group, net.securityGroupId);
    });
  });

  describe('presigned URLs (botocore generate_presigned_url, HTTP GET)', () => {
    let out: Record<string, { status: number; body: string; url: string }>;
    before(async () => {
      out = await python('presign.py', [t.url, SECOND_ACCOUNT.accessKeyId, SECOND_ACCOUNT.secretAccessKey]);
    });

    it('carries the SigV4 query parameters and is answered 200 with the result', () => {
      const r = out.regions!;
      const q = new URL(r.url).searchParams;
      assert.equal(q.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
      assert.ok(q.get('X-Amz-Signature'));
      assert.equal(r.status, 200, r.body);
      assert.match(r.body, /<regionName>us-east-1<\/regionName>/);
      assert.doesNotMatch(r.body, /<regionName>eu-west-1<\/regionName>/);
    });

    it('a tampered parameter is SignatureDoesNotMatch (403)', () => {
      assert.equal(out.tampered!.status, 403);
      assert.match(out.tampered!.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    });

    it('a URL signed with a wrong secret is SignatureDoesNotMatch (403)', () => {
      assert.equal(out.wrongSecret!.status, 403);
      assert.match(out.wrongSecret!.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    });

    it("a URL signed by the second account is answered with that account's data", async () => {
      const second = await defaultNetwork(t.other);
      assert.notEqual(second.vpcId, net.vpcId);
      assert.equal(out.secondAccount!.status, 200, out.secondAccount!.body);
      assert.match(out.secondAccount!.body, new RegExp(`<attributeValue>${second.vpcId}</attributeValue>`));
    });
  });
});
