/**
 * The plugged ports by ENI id, also found by (VPC, primary address): the DHCP server knows a request's port by its
 * sender address, which the switch sets to the port's primary address (flows.ts), and finds it without going
 * through every port of the host. The index follows set, delete and clear; a port's addresses change by set
 * (plug again), never in place.
 */
import type { PortSpec } from '../../ports/index.js';

/** Made empty (a Map's constructor would call set before the index exists). */
export class PortTable<P extends { spec: PortSpec }> extends Map<string, P> {
  private readonly byPrimary = new Map<string, P>();

  /** The port whose primary address in `vpcId` is `address`. */
  byAddress(vpcId: string, address: string): P | undefined {
    return this.byPrimary.get(key(vpcId, address));
  }

  override set(eniId: string, port: P): this {
    this.unindex(eniId);
    super.set(eniId, port);
    this.byPrimary.set(key(port.spec.vpcId, port.spec.ips[0]!), port);
    return this;
  }

  override delete(eniId: string): boolean {
    this.unindex(eniId);
    return super.delete(eniId);
  }

  override clear(): void {
    this.byPrimary.clear();
    super.clear();
  }

  private unindex(eniId: string): void {
    const old = this.get(eniId);
    if (!old) return;
    const k = key(old.spec.vpcId, old.spec.ips[0]!);
    if (this.byPrimary.get(k) === old) this.byPrimary.delete(k);
  }
}

function key(vpcId: string, address: string): string {
  return `${vpcId} ${address}`;
}
