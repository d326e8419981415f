/**
 * Open vSwitch network adapter: one OVS bridge per VPC (userspace datapath, since the host kernel may lack the
 * openvswitch module). Subnets of a VPC share its bridge. Security group enforcement as OpenFlow rules is
 * not built yet: that method throws rather than pretend.
 */
import { createHash } from 'node:crypto';
import { run as defaultRun, assertSafeName, type Runner } from '../exec/index.js';
import type { NetworkBackend, ProbeResult, SecurityRule } from '../../ports/index.js';

/** Linux interface names are at most 15 characters: 'tc' + 12 hex digits of the VPC id's hash. */
export function bridgeName(vpcId: string): string {
  assertSafeName('vpc', vpcId);
  return 'tc' + createHash('sha256').update(vpcId).digest('hex').slice(0, 12);
}

export class OvsNetworkBackend implements NetworkBackend {
  readonly name = 'ovs' as const;
  constructor(private readonly run: Runner = defaultRun) {}

  async ensureVpc(vpcId: string): Promise<void> {
    const br = bridgeName(vpcId);
    await this.run('ovs-vsctl', ['--may-exist', 'add-br', br, '--', 'set', 'bridge', br, 'datapath_type=netdev', `external_ids:thecloud-vpc=${vpcId}`]);
  }

  async deleteVpc(vpcId: string): Promise<void> {
    await this.run('ovs-vsctl', ['--if-exists', 'del-br', bridgeName(vpcId)]);
  }

  async ensureSubnet(vpcId: string, subnetId: string): Promise<void> {
    assertSafeName('subnet', subnetId);
    await this.ensureVpc(vpcId);
  }

  async deleteSubnet(subnetId: string): Promise<void> {
    assertSafeName('subnet', subnetId);
  }

  async applySecurityRules(_interfaceId: string, _rules: SecurityRule[]): Promise<void> {
    throw new Error('security group enforcement on Open vSwitch is not implemented yet');
  }

  async probe(): Promise<ProbeResult> {
    try {
      const r = await this.run('ovs-vsctl', ['--timeout=3', 'show'], { timeoutMs: 5000 });
      return { ok: true, detail: `ovs-vsctl answers (${r.stdout.split('\n').find((l) => l.includes('ovs_version'))?.trim() ?? 'version unknown'})` };
    } catch (e) {
      return { ok: false, detail: `ovs-vsctl does not answer: ${(e as Error).message.split('\n')[0]}` };
    }
  }
}
