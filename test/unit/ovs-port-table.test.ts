import assert from 'node:assert/strict';
import { PortTable } from '../../src/adapters/ovs/port-table.js';
import type { PortSpec } from '../../src/ports/index.js';

const spec = (eniId: string, vpcId: string, ips: string[]): PortSpec => ({
  eniId, vpcId, subnetId: 'subnet-0123456789abcdef0', mac: '02:ab:cd:00:00:05',
  ips, gateway: '10.0.1.1', subnetCidr: '10.0.1.0/24', securityGroupIds: [], deviceIndex: 0,
});

describe('ovs plugged ports: the DHCP lookup by (VPC, sender address)', () => {
  it('finds a port by its primary address in its own VPC only, and follows re-plugs, unplugs and a new sync', () => {
    const ports = new PortTable<{ spec: PortSpec }>();
    ports.set('eni-a', { spec: spec('eni-a', 'vpc-1', ['10.0.1.5', '10.0.1.9']) });
    ports.set('eni-b', { spec: spec('eni-b', 'vpc-2', ['10.0.1.5']) });
    assert.equal(ports.byAddress('vpc-1', '10.0.1.5')?.spec.eniId, 'eni-a');
    assert.equal(ports.byAddress('vpc-2', '10.0.1.5')?.spec.eniId, 'eni-b', 'the same address in another VPC is another port');
    assert.equal(ports.byAddress('vpc-1', '10.0.1.9'), undefined, 'a secondary address never sends DHCP: the switch writes the primary as source');
    assert.equal(ports.byAddress('vpc-3', '10.0.1.5'), undefined);

    ports.set('eni-a', { spec: spec('eni-a', 'vpc-1', ['10.0.1.6']) });
    assert.equal(ports.byAddress('vpc-1', '10.0.1.5'), undefined, 'the old primary is forgotten when the port is plugged again');
    assert.equal(ports.byAddress('vpc-1', '10.0.1.6')?.spec.eniId, 'eni-a');

    ports.delete('eni-a');
    assert.equal(ports.byAddress('vpc-1', '10.0.1.6'), undefined);
    assert.equal(ports.size, 1);
    ports.clear();
    assert.equal(ports.byAddress('vpc-2', '10.0.1.5'), undefined);
  });
});
