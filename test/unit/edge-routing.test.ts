import assert from 'node:assert/strict';
import { applyPublicIps, checkRouting, onlyPublicIpsChanged } from '../../src/adapters/ovs/edge.js';
import { Host } from '../../src/adapters/ovs/host.js';
import type { VpcRouting, VpcSpec } from '../../src/ports/index.js';

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

/** A public address given or released (an instance's launch or stop) changes the router by a delta, not whole. */
describe('VPC routing: public address delta', () => {
  const routing = (publicIps: { publicIp: string; privateIp: string }[]): VpcRouting => ({
    vpcId: 'vpc-0123456789abcdef0',
    internet: true,
    tables: [{ routeTableId: 'rtb-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'], routes: [{ destination: '0.0.0.0/0', target: { kind: 'internet' } }] }],
    publicIps,
  });
  const a = { publicIp: '198.18.0.5', privateIp: '10.0.0.5' };
  const b = { publicIp: '198.18.0.6', privateIp: '10.0.0.6' };

  it('is taken only when nothing but the public addresses changed, with internet on both sides', () => {
    assert.equal(onlyPublicIpsChanged(routing([a]), routing([a, b])), true);
    const otherTables = routing([a, b]);
    otherTables.tables[0]!.routes = [];
    assert.equal(onlyPublicIpsChanged(routing([a]), otherTables), false);
    assert.equal(onlyPublicIpsChanged(routing([a]), { ...routing([a, b]), internet: false }), false);
  });

  it('rewrites the nat table and routes the new address, drops the route of the one gone', async () => {
    const calls: { cmd: string; args: readonly string[]; input?: string }[] = [];
    const host = new Host(async (cmd, args, opts) => {
      calls.push({ cmd, args, input: opts?.input?.toString() });
      return { stdout: '', stderr: '', exitCode: 0 };
    });
    const vpc: VpcSpec = { vpcId: 'vpc-0123456789abcdef0', cidrs: ['10.0.0.0/16'], vni: 7 };
    await applyPublicIps(host, '0123456789abcdef', vpc, routing([a]), routing([b]));
    const nat = calls.find((c) => c.args.includes('iptables-restore'));
    assert.match(nat?.input ?? '', /-A PREROUTING -i up0 -d 198\.18\.0\.6\/32 -j DNAT --to-destination 10\.0\.0\.6/);
    assert.doesNotMatch(nat?.input ?? '', /198\.18\.0\.5/);
    const batch = calls.find((c) => c.args.includes('-batch'));
    assert.match(batch?.input ?? '', /^route del 198\.18\.0\.5\/32 dev tcu\w+$/m);
    assert.match(batch?.input ?? '', /^route replace 198\.18\.0\.6\/32 via 169\.254\.128\.8 dev tcu\w+$/m);
    assert.equal(calls.length, 2);
  });
});
