/**
 * For `doctor`: every container and network on this Docker engine that some The Cloud installation made (label
 * thecloud.managed), whichever installation it was. A network carries no installation id of its own: it is
 * attributed to the installation of the containers on its subnet, else to none.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type { HostInventory, HostObject } from '../../ports/index.js';
import { LABEL_ACCOUNT, LABEL_CLOUD, LABEL_INSTANCE, LABEL_MANAGED, LABEL_SUBNET } from './names.js';
import * as check from './names.js';
import { isStatus } from './errors.js';
import { bootRootOf } from './boot.js';

export class DockerInventory implements HostInventory {
  readonly kind = 'docker';
  private readonly docker: Docker;

  private readonly bootDir: string;

  constructor(socketPath?: string, bootDir?: string) {
    this.docker = new Docker(socketPath ? { socketPath } : undefined);
    this.bootDir = bootRootOf(bootDir);
  }

  async objects(): Promise<HostObject[]> {
    const filters = { label: [`${LABEL_MANAGED}=true`] };
    const [containers, networks] = await Promise.all([this.docker.listContainers({ all: true, filters }), this.docker.listNetworks({ filters })]);
    const bySubnet = new Map<string, string>();
    const out: HostObject[] = [];
    for (const c of containers) {
      const installation = c.Labels[LABEL_CLOUD] ?? '';
      const subnet = c.Labels[LABEL_SUBNET];
      if (subnet && installation) bySubnet.set(subnet, installation);
      out.push({
        kind: 'docker-container',
        name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        installation,
        owner: c.Labels[LABEL_INSTANCE] ?? '',
        detail: `${c.State}, account ${c.Labels[LABEL_ACCOUNT] ?? '?'}, container ${c.Id.slice(0, 12)}`,
      });
    }
    for (const n of networks) {
      const subnet = n.Labels?.[LABEL_SUBNET] ?? '';
      const cidr = (n.IPAM?.Config ?? []).map((c) => c.Subnet).join(', ');
      out.push({ kind: 'docker-network', name: n.Name, installation: bySubnet.get(subnet) ?? '', owner: subnet, detail: `holds ${cidr || 'no range'}` });
    }
    // Each installation's directory of first-boot files (boot.ts), by its id ('local': adapters made without one).
    const dirs = await readdir(this.bootDir, { withFileTypes: true }).catch(() => []);
    for (const d of dirs) {
      if (!d.isDirectory() || !isInstallationDir(d.name)) continue;
      const n = (await readdir(join(this.bootDir, d.name)).catch(() => [])).length;
      if (!n) continue; // nothing of it left
      out.push({ kind: 'docker-boot-dir', name: d.name, installation: d.name === 'local' ? '' : d.name, owner: '', detail: `${n} instance director${n === 1 ? 'y' : 'ies'} in ${join(this.bootDir, d.name)}` });
    }
    return out;
  }

  async remove(o: HostObject): Promise<void> {
    try {
      if (o.kind === 'docker-container') {
        await this.docker.getContainer(check.instanceId(o.name)).remove({ force: true, v: true });
      } else if (o.kind === 'docker-network') {
        if (o.name !== check.networkName(o.owner)) throw new TypeError(`not a network of The Cloud: ${o.name}`);
        await this.docker.getNetwork(o.name).remove();
      } else if (o.kind === 'docker-boot-dir') {
        if (!isInstallationDir(o.name)) throw new TypeError(`not an installation's directory: ${o.name}`);
        await rm(join(this.bootDir, o.name), { recursive: true, force: true });
      }
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }
}

/** A directory of first-boot files named as the adapter names them: an installation id (names.ts), or 'local'. */
function isInstallationDir(name: string): boolean {
  if (name === 'local') return true;
  try {
    check.cloudId(name);
    return true;
  } catch {
    return false;
  }
}
