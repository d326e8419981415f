import assert from 'node:assert/strict';
import { execa } from 'execa';
import { OvsNetworkBackend, bridgeName } from '../../src/adapters/ovs/index.js';
import { needBackend } from '../support/backends.js';
import type { NetworkBackend } from '../../src/ports/index.js';

describe('ovs network adapter (real Open vSwitch)', function () {
  this.timeout(60_000);
  const backend: NetworkBackend = new OvsNetworkBackend();
  const vpcId = `vpc-${Date.now().toString(16).padStart(17, '0').slice(-17)}`;
  before(async function () {
    await needBackend(this, 'ovs', () => backend.probe());
  });
  after(async () => backend.deleteVpc(vpcId).catch(() => undefined));

  it('makes one userspace bridge per VPC, idempotently, tagged with the VPC id, and removes it', async () => {
    await backend.ensureVpc(vpcId, '10.99.0.0/16');
    await backend.ensureSubnet(vpcId, 'subnet-0123456789abcdef0', '10.99.1.0/24');
    const br = bridgeName(vpcId);
    assert.ok(br.length <= 15, 'a valid Linux interface name');
    const list = (await execa('ovs-vsctl', ['list-br'])).stdout.split('\n');
    assert.equal(list.filter((b) => b === br).length, 1);
    assert.equal((await execa('ovs-vsctl', ['get', 'bridge', br, 'datapath_type'])).stdout.trim(), 'netdev');
    assert.equal((await execa('ovs-vsctl', ['get', 'bridge', br, 'external_ids:thecloud-vpc'])).stdout.trim().replace(/"/g, ''), vpcId);
    await backend.deleteVpc(vpcId);
    assert.ok(!(await execa('ovs-vsctl', ['list-br'])).stdout.split('\n').includes(br));
  });

  it('refuses unsafe names before running any command, and says security groups are not enforced yet', async () => {
    assert.throws(() => bridgeName('vpc-1; rm -rf /'));
    await assert.rejects(backend.applySecurityRules('eni-0123456789abcdef0', []), /not implemented/);
  });
});
