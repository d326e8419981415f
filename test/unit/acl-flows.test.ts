import assert from 'node:assert/strict';
import { bridgeFlows } from '../../src/adapters/ovs/flows.js';
import { checkAcls } from '../../src/adapters/ovs/acl-flows.js';

/** The network ACL flows (pure): where they sit in the pipeline, their order and their matches. */
describe('OVS network ACL flows', () => {
  const subnet = { spec: { vpcId: 'vpc-0123456789abcdef0', subnetId: 'subnet-0123456789abcdef0', cidr: '10.1.1.0/24', gateway: '10.1.1.1' }, tag: 1, legMac: '02:00:00:00:00:01', legOfport: 7 };
  const acl = {
    aclId: 'acl-0123456789abcdef0', vpcId: subnet.spec.vpcId, isDefault: true, subnetIds: [],
    entries: [
      { ruleNumber: 100, egress: false, action: 'allow' as const, protocol: 'tcp' as const, cidr: '10.0.0.0/8', ports: { from: 80, to: 80 } },
      { ruleNumber: 50, egress: false, action: 'deny' as const, protocol: 'all' as const, cidr: '10.9.0.0/16' },
      { ruleNumber: 100, egress: true, action: 'allow' as const, protocol: 'all' as const, cidr: '0.0.0.0/0' },
    ],
  };
  const lines = (acls: typeof acl[]) => bridgeFlows({ subnets: [subnet], ports: [], groups: new Map(), acls }).split('\n');

  it('sends what crosses the router leg through the ACL tables, lower rule numbers first, and nothing when there is no ACL', () => {
    const none = lines([]);
    assert.ok(none.includes('table=20,priority=100,reg5=1,dl_dst=02:00:00:00:00:01,actions=output:7'));
    assert.ok(!none.some((l) => l.startsWith('table=40') || l.startsWith('table=41')));
    const f = lines([acl]);
    assert.ok(f.includes('table=20,priority=100,reg5=1,dl_dst=02:00:00:00:00:01,actions=resubmit(,40)'), 'leaving: through table 40');
    assert.ok(f.includes('table=0,priority=100,in_port=7,actions=set_field:1->reg5,resubmit(,41)'), 'entering: through table 41');
    assert.ok(f.includes('table=41,priority=39900,reg5=1,tcp,tp_dst=80,nw_src=10.0.0.0/8,actions=resubmit(,20)'));
    assert.ok(f.includes('table=41,priority=39950,reg5=1,ip,nw_src=10.9.0.0/16,actions=drop'), 'rule 50 outranks rule 100');
    assert.ok(f.includes('table=40,priority=39900,reg5=1,ip,actions=output:7'));
    assert.ok(f.includes('table=40,priority=50000,reg5=1,ip,nw_dst=10.1.1.1,actions=output:7'), 'the router itself is not filtered');
    assert.ok(f.includes('table=41,priority=0,actions=drop') && f.includes('table=40,priority=0,actions=drop'), 'the * rule');
  });

  it('refuses a malformed model before any command', () => {
    assert.throws(() => checkAcls([{ ...acl, entries: [{ ...acl.entries[0]!, ruleNumber: 32767 }] }]), TypeError);
    assert.throws(() => checkAcls([{ ...acl, entries: [{ ...acl.entries[0]!, cidr: '10.0.0.0/8;x' }] }]), TypeError);
    assert.throws(() => checkAcls([{ ...acl, aclId: 'acl-x' }]), TypeError);
  });
});
