import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, ipToInt, isIpv4 } from '../../src/domain/ipv4.js';

describe('unit: IPv4 arithmetic', () => {
  it('converts and recognises addresses', () => {
    assert.equal(ipToInt('172.31.16.1'), 0xac1f1001);
    assert.equal(isIpv4('172.31.16.1'), true);
    assert.equal(isIpv4('172.31.256.1'), false);
  });

  it('tells whether a CIDR holds an address', () => {
    assert.equal(cidrContains('172.31.16.0/20', '172.31.31.255'), true);
    assert.equal(cidrContains('172.31.16.0/20', '172.31.32.0'), false);
    assert.equal(cidrContains('0.0.0.0/0', '8.8.8.8'), true);
  });

  it('tells whether two CIDRs overlap', () => {
    assert.equal(cidrsOverlap('172.31.0.0/16', '172.31.32.0/20'), true, 'a VPC and its subnet');
    assert.equal(cidrsOverlap('172.31.0.0/20', '172.31.16.0/20'), false, 'neighbouring subnets');
    assert.equal(cidrsOverlap('172.31.5.9/20', '172.31.15.0/24'), true, 'host bits are ignored');
    assert.equal(cidrsOverlap('10.0.0.0/8', 'not a cidr'), false);
  });
});
