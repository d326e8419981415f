/**
 * For `doctor`: every Open vSwitch bridge that a The Cloud installation made: one that carries thecloud-*
 * external ids (thecloud-cloud: the installation, thecloud-vpc: the VPC), or is named as VPC bridges are named
 * (tcb + 12 hex digits; tc + 12 hex before that). The libvirt adapter's shared bridge (br-thecloud) is no
 * installation's. Removing one removes the VPC's bridge, router namespace and host link (router.ts's removeVpc)
 * and its host rules and uplink (edge.ts's removeUplink) when the bridge says whose it is, else the bridge alone.
 */
import { run as defaultRun, assertSafeName, type Runner } from '../exec/index.js';
import type { HostInventory, HostObject } from '../../ports/index.js';
import { EXT, Host } from './host.js';
import { removeVpc } from './router.js';
import { removeUplink } from './edge.js';

const VPC_BRIDGE = /^tcb?[0-9a-f]{12}$/;

type OvsValue = string | number | boolean | [string, unknown];

export class OvsInventory implements HostInventory {
  readonly kind = 'ovs';
  constructor(private readonly run: Runner = defaultRun) {}

  async objects(): Promise<HostObject[]> {
    const r = await this.run('ovs-vsctl', ['--timeout=5', '--format=json', '--columns=name,external_ids', 'list', 'Bridge']);
    const table = JSON.parse(r.stdout) as { headings: string[]; data: OvsValue[][] };
    const out: HostObject[] = [];
    for (const row of table.data) {
      const name = String(row[0]);
      const map = row[1] as [string, [string, string][]];
      const ids = Object.fromEntries(Array.isArray(map) && map[0] === 'map' ? map[1] : []);
      const ours = Object.keys(ids).some((k) => k.startsWith('thecloud'));
      if (!ours && !VPC_BRIDGE.test(name)) continue;
      const vpc = ids[EXT.vpc] ?? '';
      out.push({ kind: 'ovs-bridge', name, installation: ids[EXT.cloud] ?? '', owner: vpc, detail: vpc ? `bridge of ${vpc}` : 'no VPC recorded' });
    }
    return out;
  }

  async remove(o: HostObject): Promise<void> {
    if (/^[0-9a-f]{8,64}$/.test(o.installation) && /^vpc-[0-9a-f]+$/.test(o.owner)) {
      const host = new Host(this.run);
      await removeVpc(host, o.installation, o.owner);
      await removeUplink(host, o.installation, o.owner); // its host rules (FORWARD, NAT) and uplink link too
      return;
    }
    await this.run('ovs-vsctl', ['--timeout=10', '--if-exists', 'del-br', assertSafeName('bridge', o.name)]);
  }
}
