import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import * as packet from 'dns-packet';
import { DnsResolver, upstreamsFrom, type DnsSource } from '../../src/services/dns/index.js';
import { addressOfPrivateName, addressOfReverseName, privateDnsName, vpcResolverAddress } from '../../src/domain/dns.js';

const VPC = 'vpc-0123456789abcdef0';
/** A VPC with DNS support whose ENIs hold 10.0.1.5, and one with it off. */
const source: DnsSource = {
  async vpc(vpcId, ip) {
    if (vpcId === VPC) return { enableDnsSupport: true, known: ip === '10.0.1.5' };
    if (vpcId === 'vpc-off') return { enableDnsSupport: false, known: ip === '10.0.1.5' };
    return undefined;
  },
};

const query = (name: string, type: packet.RecordType = 'A', id = 4242) =>
  packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
const rcodeOf = (b: Buffer) => b.readUInt16BE(2) & 0xf;

describe('VPC resolver (unit)', () => {
  it('names private addresses as EC2 does and finds the resolver at the VPC base + 2', () => {
    assert.equal(privateDnsName('10.0.1.5', 'us-east-1'), 'ip-10-0-1-5.ec2.internal');
    assert.equal(privateDnsName('10.0.1.5', 'eu-west-1'), 'ip-10-0-1-5.eu-west-1.compute.internal');
    assert.equal(addressOfPrivateName('IP-10-0-1-5.EC2.Internal.', 'us-east-1'), '10.0.1.5');
    assert.equal(addressOfPrivateName('ip-10-0-1-5.ec2.internal', 'eu-west-1'), undefined, 'another region\'s domain');
    assert.equal(addressOfPrivateName('ip-10-0-1-256.ec2.internal', 'us-east-1'), undefined);
    assert.equal(addressOfPrivateName('xip-10-0-1-5.ec2.internal', 'us-east-1'), undefined);
    assert.equal(addressOfReverseName('5.1.0.10.in-addr.arpa'), '10.0.1.5');
    assert.equal(vpcResolverAddress('172.31.0.0/16'), '172.31.0.2');
    assert.equal(vpcResolverAddress('10.0.0.16/28'), '10.0.0.18');
  });

  it('answers A and PTR for the VPC\'s addresses, NXDOMAIN for others, no data for other types', async () => {
    const r = new DnsResolver(source, { region: 'us-east-1', upstreams: [] });
    const a = packet.decode((await r.respond(VPC, query('ip-10-0-1-5.ec2.internal')))!);
    assert.equal(a.id, 4242);
    assert.equal(a.type, 'response');
    assert.equal(a.flag_aa, true);
    assert.deepEqual(a.answers?.map((x) => [x.type, 'data' in x ? x.data : undefined]), [['A', '10.0.1.5']]);
    const ptr = packet.decode((await r.respond(VPC, query('5.1.0.10.in-addr.arpa', 'PTR')))!);
    assert.deepEqual(ptr.answers?.map((x) => ('data' in x ? x.data : undefined)), ['ip-10-0-1-5.ec2.internal']);
    assert.equal(rcodeOf((await r.respond(VPC, query('ip-10-0-1-6.ec2.internal')))!), 3, 'no ENI has it: NXDOMAIN');
    const aaaa = (await r.respond(VPC, query('ip-10-0-1-5.ec2.internal', 'AAAA')))!;
    assert.equal(rcodeOf(aaaa), 0);
    assert.equal(packet.decode(aaaa).answers?.length, 0);
  });

  it('is silent with enableDnsSupport off, for an unknown VPC and for garbage; SERVFAIL without upstreams', async () => {
    const r = new DnsResolver(source, { region: 'us-east-1', upstreams: [] });
    assert.equal(await r.respond('vpc-off', query('ip-10-0-1-5.ec2.internal')), null);
    assert.equal(await r.respond('vpc-gone', query('ip-10-0-1-5.ec2.internal')), null);
    assert.equal(await r.respond(VPC, Buffer.from('not dns at all')), null);
    assert.equal(rcodeOf((await r.respond(VPC, query('example.org')))!), 2);
  });

  describe('forwarding', () => {
    let up: Socket;
    let seen: string[];
    before(async () => {
      seen = [];
      up = createSocket('udp4');
      up.on('message', (msg, from) => {
        const q = packet.decode(msg);
        seen.push(q.questions![0]!.name);
        up.send(packet.encode({ type: 'response', id: q.id, flags: packet.RECURSION_AVAILABLE, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 30, data: '192.0.2.9' }] }), from.port, from.address);
      });
      await new Promise<void>((res) => up.bind(0, '127.0.0.1', () => res()));
    });
    after(() => up.close());

    it('forwards other names to the first upstream that answers, keeping the query id', async () => {
      const port = up.address().port;
      // The first upstream does not answer (nothing listens there); the second does.
      const silent = createSocket('udp4');
      await new Promise<void>((res) => silent.bind(0, '127.0.0.1', () => res()));
      const r = new DnsResolver(source, { region: 'us-east-1', upstreams: [{ address: '127.0.0.1', port: silent.address().port }, { address: '127.0.0.1', port }], upstreamTimeoutMs: 300 });
      const answer = packet.decode((await r.respond(VPC, query('example.org', 'A', 777)))!);
      silent.close();
      assert.equal(answer.id, 777);
      assert.deepEqual(answer.answers?.map((x) => ('data' in x ? x.data : undefined)), ['192.0.2.9']);
      assert.deepEqual(seen, ['example.org'], 'the VPC\'s own names never go upstream');
      await r.respond(VPC, query('ip-10-0-1-5.ec2.internal'));
      assert.deepEqual(seen, ['example.org']);
    });
  });

  it('takes upstreams from THECLOUD_DNS_UPSTREAMS, else from the host\'s resolv.conf', () => {
    assert.deepEqual(upstreamsFrom('none', 'nameserver 10.0.0.1'), []);
    assert.deepEqual(upstreamsFrom('10.1.1.1, 10.2.2.2:5353', ''), [{ address: '10.1.1.1', port: 53 }, { address: '10.2.2.2', port: 5353 }]);
    assert.throws(() => upstreamsFrom('resolver.example', ''), /THECLOUD_DNS_UPSTREAMS/);
    assert.deepEqual(upstreamsFrom(undefined, '# x\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n'), [{ address: '127.0.0.53', port: 53 }]);
  });
});
