import assert from 'node:assert/strict';
import { useTestServer } from '../support/use-server.js';
import { raw, errorCode } from '../support/clients.js';

describe('protocol: errors, authentication and DryRun over HTTP', () => {
  const t = useTestServer();

  const cases: [string, Record<string, string>, Parameters<typeof raw>[2], number, string][] = [
    ['a wrong secret', { Action: 'DescribeRegions' }, { secret: 'wrong' }, 403, 'SignatureDoesNotMatch'],
    ['an unknown access key', { Action: 'DescribeRegions' }, { accessKeyId: 'NOPE' }, 401, 'AuthFailure'],
    ['no signature at all', { Action: 'DescribeRegions' }, { unsigned: true }, 401, 'MissingAuthenticationToken'],
    ['a clock 20 minutes off', { Action: 'DescribeRegions' }, { date: new Date(Date.now() - 20 * 60_000) }, 400, 'RequestExpired'],
    ['an unknown action', { Action: 'FlyToTheMoon' }, {}, 400, 'InvalidAction'],
    ['an action of the model not implemented', { Action: 'DescribeFleets' }, {}, 400, 'InvalidAction'],
    ['no action', {}, {}, 400, 'MissingParameter'],
    ['a non-integer MaxResults', { Action: 'DescribeTags', MaxResults: 'abc' }, {}, 400, 'InvalidParameterValue'],
    ['a MaxResults out of bounds', { Action: 'DescribeVpcs', MaxResults: '2' }, {}, 400, 'InvalidParameterValue'],
    ['an unknown filter', { Action: 'DescribeVpcs', 'Filter.1.Name': 'colour', 'Filter.1.Value.1': 'red' }, {}, 400, 'InvalidParameterValue'],
    ['a malformed vpc id', { Action: 'DescribeVpcs', 'VpcId.1': 'vpc-xyz' }, {}, 400, 'InvalidVpcID.Malformed'],
    ['a vpc id that does not exist', { Action: 'DescribeVpcs', 'VpcId.1': 'vpc-0123456789abcdef0' }, {}, 400, 'InvalidVpcID.NotFound'],
    ['a missing required parameter', { Action: 'CreateTags', 'ResourceId.1': 'vpc-0123456789abcdef0' }, {}, 400, 'MissingParameter'],
    ['an unknown parameter', { Action: 'DescribeRegions', Colour: 'red' }, {}, 400, 'UnknownParameter'],
    ['a bad boolean', { Action: 'DescribeRegions', AllRegions: 'maybe' }, {}, 400, 'InvalidParameterValue'],
    ['a bad pagination token', { Action: 'DescribeTags', NextToken: '!!!' }, {}, 400, 'InvalidPaginationToken'],
    ['DryRun on a valid request', { Action: 'DescribeRegions', DryRun: 'true' }, {}, 412, 'DryRunOperation'],
  ];
  for (const [what, params, opts, status, code] of cases) {
    it(`answers ${code} (${status}) to ${what}`, async () => {
      const r = await raw(t.url, params, opts);
      assert.equal(r.status, status, r.body);
      assert.equal(errorCode(r), code, r.body);
      assert.ok(r.xml.Response.RequestID, 'the error document carries RequestID');
      assert.equal(r.headers.get('x-amzn-requestid'), r.xml.Response.RequestID);
      assert.ok(!/at .*\.ts:\d+/.test(r.body), 'no stack trace in the body');
    });
  }

  it('names the parameter in InvalidParameterValue', async () => {
    const r = await raw(t.url, { Action: 'DescribeTags', MaxResults: 'abc' });
    assert.match(r.xml.Response.Errors.Error.Message, /MaxResults/);
  });

  it('DryRun has no side effect', async () => {
    const vpc = await raw(t.url, { Action: 'DescribeVpcs' });
    const vpcId = vpc.xml.DescribeVpcsResponse.vpcSet.item.vpcId;
    const r = await raw(t.url, { Action: 'CreateTags', 'ResourceId.1': vpcId, 'Tag.1.Key': 'dry', 'Tag.1.Value': 'run', DryRun: 'true' });
    assert.equal(r.status, 412);
    const tags = await raw(t.url, { Action: 'DescribeTags', 'Filter.1.Name': 'key', 'Filter.1.Value.1': 'dry' });
    assert.equal(tags.xml.DescribeTagsResponse.tagSet, '', 'no tag was written');
  });

  it('DryRun still validates first: a missing resource is NotFound, not DryRunOperation', async () => {
    const r = await raw(t.url, { Action: 'CreateTags', 'ResourceId.1': 'vpc-0123456789abcdef0', 'Tag.1.Key': 'a', DryRun: 'true' });
    assert.equal(errorCode(r), 'InvalidVpcID.NotFound');
  });

  it('accepts GET with the parameters in the query string', async () => {
    const r = await raw(t.url, { Action: 'DescribeAvailabilityZones' }, { method: 'GET' });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.xml.DescribeAvailabilityZonesResponse.availabilityZoneInfo.item.length, 3);
  });

  it('serves a well-formed success document with the EC2 namespace and requestId', async () => {
    const r = await raw(t.url, { Action: 'DescribeRegions' });
    assert.equal(r.status, 200);
    assert.match(r.body, /^<\?xml version="1.0" encoding="UTF-8"\?><DescribeRegionsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/"><requestId>/);
    assert.equal(r.headers.get('x-amzn-requestid'), r.xml.DescribeRegionsResponse.requestId);
  });
});
