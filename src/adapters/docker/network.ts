/**
 * One Docker bridge network per EC2 subnet, `thecloud-<subnet id>`, with the subnet's CIDR and gateway, so
 * that an instance gets its EC2 private IP and MAC and the host reaches it there (the gateway address sits
 * on the host's side of the bridge).
 *
 * A network is created on first use and removed when no managed container (running or not) refers to its
 * subnet any more: Docker refuses overlapping networks, so a leftover network would block a later subnet
 * with the same CIDR. Stopped containers count, because a container whose network was removed cannot start.
 * Within this process, creation and removal are serialised so that a destroy cannot remove a network that
 * a concurrent create is about to use.
 */
import type Docker from 'dockerode';
import { HostCapacityError, type NetworkAttachment } from '../../ports/index.js';
import { LABEL_MANAGED, LABEL_SUBNET, LABEL_VPC, bridgeName, networkName } from './names.js';
import { VpcRoutes } from './routing.js';
import { dockerMessage, isStatus } from './errors.js';
import { cidrsOverlap } from '../../domain/ipv4.js';

export class SubnetNetworks {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly docker: Docker,
    private readonly routes: VpcRoutes = new VpcRoutes(),
  ) {}

  /** Runs `fn` after every earlier locked call has finished. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn, fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Makes sure the subnet's network exists with the right CIDR; returns its name. Call inside `locked`. */
  async ensure(net: NetworkAttachment): Promise<string> {
    const name = networkName(net.subnetId);
    try {
      this.check(name, net, await this.docker.getNetwork(name).inspect());
      await this.routes.ensure(net.vpcId, net.vpcCidr, { moveToTop: false });
      return name;
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
    try {
      await this.create(name, net);
    } catch (e) {
      // A leftover network of a deleted subnet with the same CIDR (a crash between destroy and cleanup):
      // remove unused networks and try once more.
      if (!isOverlap(e)) throw e;
      await this.pruneUnused();
      try {
        await this.create(name, net);
      } catch (again) {
        if (!isOverlap(again)) throw again;
        // Still taken: by a subnet in use on this host (another account's default VPC has the same CIDR, or
        // another installation shares the Docker engine). Docker cannot hold two overlapping networks.
        throw new HostCapacityError(await this.overlapMessage(net));
      }
    }
    await this.routes.ensure(net.vpcId, net.vpcCidr, { moveToTop: true });
    return name;
  }

  private async overlapMessage(net: NetworkAttachment): Promise<string> {
    const holders = (await this.docker.listNetworks().catch(() => []))
      .filter((n) => (n.IPAM?.Config ?? []).some((c) => c.Subnet && cidrsOverlap(c.Subnet, net.cidr)))
      .map((n) => n.Name);
    return `the address range ${net.cidr} of ${net.subnetId} is taken on this Docker host` +
      (holders.length ? ` by network ${holders.join(', ')}` : '') +
      '; Docker cannot hold two overlapping networks';
  }

  private async create(name: string, net: NetworkAttachment): Promise<void> {
    try {
      await this.docker.createNetwork({
        Name: name,
        Driver: 'bridge',
        CheckDuplicate: true,
        // Not internal: like a default VPC subnet, instances reach the outside through the host (NAT).
        Internal: false,
        IPAM: { Driver: 'default', Config: [{ Subnet: net.cidr, Gateway: net.gateway }] },
        Options: { 'com.docker.network.bridge.name': bridgeName(net.subnetId) },
        Labels: { [LABEL_MANAGED]: 'true', [LABEL_SUBNET]: net.subnetId, [LABEL_VPC]: net.vpcId },
      });
    } catch (e) {
      throw new Error(`cannot create Docker network ${name} for ${net.cidr}: ${dockerMessage(e)}`, { cause: e });
    }
  }

  private check(name: string, net: NetworkAttachment, info: Docker.NetworkInspectInfo): string {
    const subnets = (info.IPAM?.Config ?? []).map((c) => c.Subnet);
    if (!subnets.includes(net.cidr)) {
      throw new Error(`Docker network ${name} exists with subnet ${subnets.join(', ') || 'none'}, not ${net.cidr}`);
    }
    return name;
  }

  /** Removes every managed network that no managed container refers to. Call inside `locked`. */
  async pruneUnused(): Promise<void> {
    const [networks, containers] = await Promise.all([
      this.docker.listNetworks({ filters: { label: [`${LABEL_MANAGED}=true`] } }),
      this.docker.listContainers({ all: true, filters: { label: [`${LABEL_MANAGED}=true`] } }),
    ]);
    const inUse = new Set(containers.map((c) => c.Labels[LABEL_SUBNET]).filter(Boolean));
    const kept: Docker.NetworkInspectInfo[] = [];
    for (const n of networks) {
      const subnet = n.Labels?.[LABEL_SUBNET];
      if (!subnet || inUse.has(subnet)) {
        kept.push(n);
        continue;
      }
      try {
        await this.docker.getNetwork(n.Id).remove();
      } catch (e) {
        // 404: gone already. 403/409: something is still attached (or dockerd kept a stale endpoint, which
        // only a dockerd restart clears): leave it, but say so, since it keeps its address range taken.
        if (!isStatus(e, 404) && !isStatus(e, 403) && !isStatus(e, 409)) throw e;
        if (isStatus(e, 404)) continue;
        console.warn(`thecloud: Docker network ${n.Name} (${subnet}) could not be removed: ${dockerMessage(e)}`);
        kept.push(n);
      }
    }
    // The routing rules of a VPC go with its last network on this host.
    await this.routes.prune(new Set(kept.map((n) => n.Labels?.[LABEL_VPC]).filter((v): v is string => !!v)));
  }
}

function isOverlap(e: unknown): boolean {
  return /overlap/i.test(e instanceof Error ? `${e.message} ${dockerMessage(e.cause)}` : dockerMessage(e));
}
