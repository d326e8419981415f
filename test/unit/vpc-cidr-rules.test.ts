import assert from 'node:assert/strict';
import { checkSecondaryCidr, restrictedBy } from '../../src/domain/vpc-cidr-rules.js';

describe('unit: which secondary IPv4 blocks a VPC may add (AWS\'s restriction table)', () => {
  it('keeps a VPC in its own RFC 1918 range, with AWS\'s exceptions', () => {
    // primary in 10.0.0.0/8
    assert.equal(restrictedBy('10.1.0.0/16', '10.2.0.0/16'), undefined);
    assert.equal(restrictedBy('10.1.0.0/16', '172.20.0.0/16'), '172.16.0.0/12');
    assert.equal(restrictedBy('10.1.0.0/16', '192.168.4.0/24'), '192.168.0.0/16');
    assert.equal(restrictedBy('10.1.0.0/16', '198.19.0.0/20'), '198.19.0.0/16');
    assert.equal(restrictedBy('10.1.0.0/16', '10.0.5.0/24'), '10.0.0.0/16', 'a primary in 10.0.0.0/15 may not add from 10.0.0.0/16');
    assert.equal(restrictedBy('10.2.0.0/16', '10.0.5.0/24'), undefined);
    // primary in 172.16.0.0/12
    assert.equal(restrictedBy('172.20.0.0/16', '172.21.0.0/16'), undefined);
    assert.equal(restrictedBy('172.20.0.0/16', '172.31.0.0/20'), '172.31.0.0/16');
    assert.equal(restrictedBy('172.20.0.0/16', '10.0.0.0/16'), '10.0.0.0/8');
    // primary in 192.168.0.0/16
    assert.equal(restrictedBy('192.168.0.0/20', '192.168.16.0/20'), undefined);
    assert.equal(restrictedBy('192.168.0.0/20', '172.16.0.0/16'), '172.16.0.0/12');
    // primary in 198.19.0.0/16, or public / 100.64.0.0/10
    assert.equal(restrictedBy('198.19.0.0/20', '10.0.0.0/16'), '10.0.0.0/8');
    assert.equal(restrictedBy('100.64.0.0/16', '192.168.0.0/16'), '192.168.0.0/16');
    assert.equal(restrictedBy('100.64.0.0/16', '198.19.0.0/16'), '198.19.0.0/16');
    assert.equal(restrictedBy('100.64.0.0/16', '203.0.113.0/24'), undefined);
    // publicly routable blocks and 100.64.0.0/10 from any primary
    for (const primary of ['10.1.0.0/16', '172.20.0.0/16', '192.168.0.0/20', '198.19.0.0/20']) {
      assert.equal(restrictedBy(primary, '100.64.0.0/16'), undefined, primary);
      assert.equal(restrictedBy(primary, '203.0.113.0/24'), undefined, primary);
    }
  });

  it('refuses overlap, a block holding a route\'s destination, and a sixth block', () => {
    assert.deepEqual(checkSecondaryCidr('10.1.128.0/17', ['10.1.0.0/16'], []), { reason: 'overlap', with: '10.1.0.0/16' });
    assert.deepEqual(checkSecondaryCidr('10.0.0.0/16', ['10.2.0.0/16'], ['10.0.0.0/24']), { reason: 'route', destination: '10.0.0.0/24' });
    assert.equal(checkSecondaryCidr('10.0.0.0/25', ['10.2.0.0/16'], ['10.0.0.0/24', '0.0.0.0/0']), undefined, 'smaller than the route: allowed');
    const five = ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16', '10.4.0.0/16', '10.5.0.0/16'];
    assert.deepEqual(checkSecondaryCidr('10.6.0.0/16', five, []), { reason: 'limit' });
    assert.equal(checkSecondaryCidr('10.6.0.0/16', five.slice(0, 4), []), undefined);
  });
});
