/** For `doctor`: every libvirt domain that carries The Cloud's metadata, whichever installation made it. */
import { run as defaultRunner, type Runner } from '../exec/index.js';
import type { HostInventory, HostObject } from '../../ports/index.js';
import { LibvirtComputeBackend, mapDomainState } from './backend.js';
import { readMetadata } from './metadata.js';
import { Virsh } from './virsh.js';

export class LibvirtInventory implements HostInventory {
  readonly kind = 'libvirt';
  private readonly virsh: Virsh;

  constructor(
    private readonly uri: string,
    runner: Runner = defaultRunner,
  ) {
    this.virsh = new Virsh(uri, runner);
  }

  async objects(): Promise<HostObject[]> {
    const names = (await this.virsh.run(['list', '--all', '--name'])).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    const out: HostObject[] = [];
    for (const name of names) {
      const meta = await readMetadata(this.virsh, name);
      if (!meta) continue;
      const state = await this.virsh.domstate(name);
      out.push({ kind: 'libvirt-domain', name, installation: meta.cloudId, owner: meta.instanceId, detail: `${mapDomainState(state)}, account ${meta.accountId}` });
    }
    return out;
  }

  /** Removes the domain with its disks, seed and console log (the adapter's destroy, which checks the metadata). */
  async remove(o: HostObject): Promise<void> {
    await new LibvirtComputeBackend({ uri: this.uri }).destroy(o.name);
  }
}
