import assert from 'node:assert/strict';
import { checkRouting } from '../../src/adapters/ovs/edge.js';
import type { VpcRouting } from '../../src/ports/index.js';

/** What reaches the router's commands from a VPC's routing is checked first (pure): NAT gateways' parts too. */
describe('VPC routing checks (NAT gateways)', () => {
  const good = (): VpcRouting => ({
    vpcId: 'vpc-0123456789abcdef0',
    internet: true,
    tables: [{ routeTableId: 'rtb-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'], routes: [{ destination: '0.0.0.0/0', target: { kind: 'nat', natGatewayId: 'nat-0123456789abcdef0' } }] }],
    natGateways: [{ natGatewayId: 'nat-0123456789abcdef0', publicIp: '198.18.0.7' }],
  });

  it('takes a route to a NAT gateway and the gateway with its public address', () => {
    assert.doesNotThrow(() => checkRouting(good()));
  });

  it('refuses a NAT gateway id or address that is not one, in a route or in the list', () => {
    const badRoute = good();
    badRoute.tables[0]!.routes[0]!.target = { kind: 'nat', natGatewayId: 'nat-1;reboot' };
    assert.throws(() => checkRouting(badRoute), /NAT gateway id/);
    const badId = good();
    badId.natGateways![0]!.natGatewayId = '$(id)';
    assert.throws(() => checkRouting(badId), /NAT gateway id/);
    const badIp = good();
    badIp.natGateways![0]!.publicIp = '198.18.0.7 -j ACCEPT';
    assert.throws(() => checkRouting(badIp));
  });
});
