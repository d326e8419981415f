import assert from 'node:assert/strict';
import { useTestServer } from '../support/use-server.js';
import { raw, errorCode } from '../support/clients.js';

describe('protocol: authentication switched off for local use', () => {
  const t = useTestServer({ env: { THECLOUD_AUTH: 'false' } });

  it('answers unsigned requests as the default account, and ignores a wrong secret', async () => {
    const r = await raw(t.url, { Action: 'DescribeVpcs' }, { unsigned: true });
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /<ownerId>000000000000<\/ownerId>/, 'the default account owns the default VPC');
    const wrong = await raw(t.url, { Action: 'DescribeVpcs' }, { secret: 'wrong' });
    assert.equal(wrong.status, 200, wrong.body);
    assert.match(wrong.body, /<ownerId>000000000000<\/ownerId>/);
  });

  it('still validates everything else', async () => {
    const r = await raw(t.url, { Action: 'DescribeVpcs', 'VpcId.1': 'vpc-bad' }, { unsigned: true });
    assert.equal(errorCode(r), 'InvalidVpcID.Malformed');
  });
});
