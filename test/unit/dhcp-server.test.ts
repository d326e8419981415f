import assert from 'node:assert/strict';
import { dhcpAnswer } from '../../src/adapters/ovs/dhcp-server.js';
import { parseRequest } from '../../src/adapters/ovs/dhcp-wire.js';
import { bridgeFlows } from '../../src/adapters/ovs/flows.js';
import type { PortSpec } from '../../src/ports/index.js';

const port: PortSpec = {
  eniId: 'eni-0123456789abcdef0', vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', mac: '02:ab:cd:00:00:05',
  ips: ['10.0.1.5', '10.0.1.9'], gateway: '10.0.1.1', subnetCidr: '10.0.1.0/24', securityGroupIds: [], deviceIndex: 0,
};
const options = { domainName: 'ec2.internal', dnsServers: ['10.0.0.2'], ntpServers: ['169.254.169.123'] };

/** A client's request as dhclient/udhcpc send it: BOOTREQUEST, Ethernet, the magic cookie, option 53 (+ 50). */
function request(type: number, mac: string, opts: { requested?: string; ciaddr?: string } = {}): Buffer {
  const b = Buffer.alloc(300);
  b[0] = 1; b[1] = 1; b[2] = 6;
  b.writeUInt32BE(0x1234abcd, 4);
  if (opts.ciaddr) Buffer.from(opts.ciaddr.split('.').map(Number)).copy(b, 12);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 28);
  b.writeUInt32BE(0x63825363, 236);
  let i = 240;
  for (const o of [[53, type], ...(opts.requested ? [[50, ...opts.requested.split('.').map(Number)]] : [])]) {
    b[i++] = o[0]!; b[i++] = o.length - 1;
    for (const v of o.slice(1)) b[i++] = v!;
  }
  b[i] = 255;
  return b;
}

/** The options of a reply, by code. */
function replyOptions(r: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (let i = 240; r[i] !== 255; ) {
    if (r[i] === 0) { i++; continue; }
    out.set(r[i]!, r.subarray(i + 2, i + 2 + r[i + 1]!));
    i += 2 + r[i + 1]!;
  }
  return out;
}
const ip = (b: Buffer | undefined) => [...(b ?? [])].join('.');

describe('the VPC router\'s DHCP answers', () => {
  it('offers and acknowledges the port\'s primary address with mask, router, the options set, hostname and a long lease', () => {
    for (const [type, answer] of [[1, 2], [3, 5]] as const) {
      const r = dhcpAnswer(request(type, port.mac, { requested: '10.0.1.5' }), port, options)!;
      assert.equal(r[0], 2, 'BOOTREPLY');
      assert.equal(r.readUInt32BE(4), 0x1234abcd, 'the transaction id');
      assert.equal(ip(r.subarray(16, 20)), '10.0.1.5', 'yiaddr: the primary address');
      const o = replyOptions(r);
      assert.equal(o.get(53)![0], answer);
      assert.equal(ip(o.get(1)), '255.255.255.0');
      assert.equal(ip(o.get(3)), '10.0.1.1');
      assert.equal(ip(o.get(54)), '10.0.1.1', 'server id: the router in the subnet');
      assert.equal(ip(o.get(6)), '10.0.0.2');
      assert.equal(ip(o.get(42)), '169.254.169.123');
      assert.equal(o.get(15)!.toString(), 'ec2.internal');
      assert.equal(o.get(12)!.toString(), 'ip-10-0-1-5');
      assert.ok(o.get(51)!.readUInt32BE(0) >= 86_400 * 30, 'a long lease');
    }
  });

  it('refuses a request for another address (NAK), and answers nothing for a MAC that is not the port\'s or a non-DHCP packet', () => {
    const nak = dhcpAnswer(request(3, port.mac, { requested: '10.0.1.77' }), port, options)!;
    assert.equal(replyOptions(nak).get(53)![0], 6);
    assert.equal(ip(nak.subarray(16, 20)), '0.0.0.0');
    assert.equal(dhcpAnswer(request(1, '02:ab:cd:00:00:06'), port, options), null);
    assert.equal(dhcpAnswer(Buffer.from('not dhcp'), port, options), null);
    assert.equal(parseRequest(request(1, port.mac).subarray(0, 200)), null);
  });

  it('answers INFORM with the options but no address and no lease', () => {
    const r = dhcpAnswer(request(8, port.mac, { ciaddr: '10.0.1.5' }), port, options)!;
    const o = replyOptions(r);
    assert.equal(o.get(53)![0], 5);
    assert.equal(ip(r.subarray(16, 20)), '0.0.0.0');
    assert.equal(o.has(51), false);
    assert.equal(ip(o.get(6)), '10.0.0.2');
  });

  it('the switch hands a port\'s DHCP to its subnet\'s router leg with the port\'s primary address as source', () => {
    const flows = bridgeFlows({
      subnets: [{ spec: { vpcId: port.vpcId, subnetId: port.subnetId, cidr: port.subnetCidr, gateway: port.gateway }, tag: 1, legMac: '0a:00:00:00:00:01', legOfport: 1 }],
      ports: [{ spec: port, ofport: 7, zone: 3 }],
      groups: new Map(),
    });
    assert.match(flows, /^table=0,priority=110,in_port=7,dl_src=02:ab:cd:00:00:05,udp,tp_src=68,tp_dst=67,actions=set_field:10\.0\.1\.5->nw_src,set_field:10\.0\.1\.1->nw_dst,set_field:0a:00:00:00:00:01->dl_dst,output:1$/m);
  });
});
