import assert from 'node:assert/strict';
import { confineNatRoutes } from '../../src/services/network/routing.js';

/**
 * AWS creates a NAT gateway in any subnet, but the gateway forwards what it translates by its own subnet's route
 * table: without a route there to the internet gateway its traffic goes nowhere. The router cannot chain the two
 * tables, so a route to a NAT gateway is narrowed to what the gateway's subnet sends to the internet gateway.
 */
describe('routes to a NAT gateway follow its own subnet\'s route table', () => {
  const nat = { kind: 'nat', natGatewayId: 'nat-0123456789abcdef0' } as const;

  it('goes nowhere when the gateway\'s subnet has no route to the internet gateway', () => {
    assert.deepEqual(confineNatRoutes([{ destination: '0.0.0.0/0', target: nat }], () => []), [{ destination: '0.0.0.0/0', target: { kind: 'blackhole' } }]);
  });

  it('is kept whole when the gateway\'s subnet sends all of it to the internet gateway', () => {
    assert.deepEqual(confineNatRoutes([{ destination: '203.0.113.0/24', target: nat }], () => ['0.0.0.0/0']), [{ destination: '203.0.113.0/24', target: nat }]);
  });

  it('is narrowed to the part the gateway\'s subnet sends to the internet gateway, never over a route of the table\'s own', () => {
    const got = confineNatRoutes(
      [
        { destination: '0.0.0.0/0', target: nat },
        { destination: '198.51.100.0/24', target: { kind: 'address', ip: '10.0.1.5' } },
      ],
      () => ['203.0.113.0/24', '198.51.100.0/24', '10.9.0.0/16'],
    );
    assert.deepEqual(got, [
      { destination: '0.0.0.0/0', target: { kind: 'blackhole' } },
      { destination: '198.51.100.0/24', target: { kind: 'address', ip: '10.0.1.5' } },
      { destination: '203.0.113.0/24', target: nat },
      { destination: '10.9.0.0/16', target: nat },
    ]);
  });

  it('leaves other routes alone', () => {
    const routes = [{ destination: '0.0.0.0/0', target: { kind: 'internet' } } as const];
    assert.deepEqual(confineNatRoutes([...routes], () => []), routes);
  });
});
