import assert from 'node:assert/strict';
import { bridgeFlows } from '../../src/adapters/ovs/flows.js';
import type { PortSpec } from '../../src/ports/index.js';

/** A port's admission and delivery flows (pure), with its source/destination check on and off. */
describe('OVS port flows and the source/destination check', () => {
  const subnet = { spec: { vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', cidr: '10.1.1.0/24', gateway: '10.1.1.1' }, tag: 1, legMac: '02:00:00:00:00:01', legOfport: 7 };
  const port: PortSpec = {
    eniId: 'eni-0123456789abcdef0', vpcId: subnet.spec.vpcId, subnetId: subnet.spec.subnetId, mac: '02:aa:00:00:00:05', ips: ['10.1.1.5'],
    gateway: '10.1.1.1', subnetCidr: '10.1.1.0/24', securityGroupIds: [], deviceIndex: 0,
  };
  const flows = (p: PortSpec) => bridgeFlows({ subnets: [subnet], ports: [{ spec: p, ofport: 9, zone: 3 }], groups: new Map() }).split('\n');
  const anySource = 'table=0,priority=90,in_port=9,dl_src=02:aa:00:00:00:05,ip,actions=set_field:1->reg5,resubmit(,10)';
  const foreignDestination = 'table=20,priority=105,reg5=1,ip,dl_dst=02:aa:00:00:00:05,actions=drop';

  it('on (the default): only the port\'s own source addresses in, nothing for other addresses delivered to it', () => {
    for (const f of [flows(port), flows({ ...port, sourceDestCheck: true })]) {
      assert.ok(f.includes('table=0,priority=100,in_port=9,dl_src=02:aa:00:00:00:05,ip,nw_src=10.1.1.5,actions=set_field:1->reg5,resubmit(,10)'));
      assert.ok(!f.includes(anySource), 'no packet from another source address');
      assert.ok(f.includes(foreignDestination), 'an IP packet to its MAC for another address is dropped');
      assert.ok(f.includes('table=20,priority=110,reg5=1,ip,nw_dst=10.1.1.5,actions=set_field:02:aa:00:00:00:05->eth_dst,set_field:9->reg7,resubmit(,30)'), 'its own address still reaches it');
    }
  });

  it('off: any source address from the port\'s MAC (through its egress rules), and traffic routed through it delivered', () => {
    const f = flows({ ...port, sourceDestCheck: false });
    assert.ok(f.includes(anySource));
    assert.ok(!f.includes(foreignDestination));
    assert.ok(!f.some((l) => l.startsWith('table=0') && l.includes('arp') && !l.includes('arp_spa=10.1.1.5')), 'ARP still only for its own address');
  });
});
