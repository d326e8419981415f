/**
 * A NetworkBackend for tests and benches of the service path: it programs nothing (NoopNetworkBackend underneath)
 * but answers to the name 'ovs', so that the services hand it everything they would hand the real data plane, and
 * it keeps what each setSecurityGroups / setNetworkAcls / setRouting call was given. `name` may be set to 'noop'
 * for a while: the services then skip the data plane (records are made fast, nothing is recorded).
 */
import { NoopNetworkBackend } from '../../src/adapters/noop/index.js';
import type {
  DesiredNetwork,
  NetworkAclSpec,
  NetworkBackend,
  NetworkInventory,
  PortSpec,
  ProbeResult,
  Sandbox,
  SecurityModel,
  SubnetSpec,
  SyncReport,
  VmInterface,
  VpcRouting,
  VpcSpec,
} from '../../src/ports/index.js';

export type RecordedCall =
  /** `vpcIds` undefined: the call named no scope (the model replaces everything). */
  | { op: 'setSecurityGroups'; model: SecurityModel; vpcIds?: string[] }
  | { op: 'setNetworkAcls'; acls: NetworkAclSpec[]; vpcIds?: string[] }
  | { op: 'setRouting'; routing: VpcRouting }
  | { op: 'sync'; desired: DesiredNetwork };

export class RecordingNetworkBackend implements NetworkBackend {
  name: 'ovs' | 'noop' = 'ovs';
  readonly calls: RecordedCall[] = [];
  private readonly inner = new NoopNetworkBackend();

  /** The calls recorded since `from` (an earlier calls.length). */
  since(from: number): RecordedCall[] {
    return this.calls.slice(from);
  }

  ensureVpc(vpc: VpcSpec): Promise<void> {
    return this.inner.ensureVpc(vpc);
  }
  deleteVpc(vpcId: string): Promise<void> {
    return this.inner.deleteVpc(vpcId);
  }
  ensureSubnet(subnet: SubnetSpec): Promise<void> {
    return this.inner.ensureSubnet(subnet);
  }
  deleteSubnet(vpcId: string, subnetId: string): Promise<void> {
    return this.inner.deleteSubnet(vpcId, subnetId);
  }
  plug(port: PortSpec, sandbox: Sandbox): Promise<void> {
    return this.inner.plug(port, sandbox);
  }
  unplug(eniId: string): Promise<void> {
    return this.inner.unplug(eniId);
  }
  async setPortSecurityGroups(): Promise<void> {}
  async setSecurityGroups(model: SecurityModel, scope?: { vpcIds: string[] }): Promise<void> {
    this.calls.push({ op: 'setSecurityGroups', model, vpcIds: scope?.vpcIds });
  }
  async setNetworkAcls(acls: NetworkAclSpec[], scope?: { vpcIds: string[] }): Promise<void> {
    this.calls.push({ op: 'setNetworkAcls', acls, vpcIds: scope?.vpcIds });
  }
  async setRouting(routing: VpcRouting): Promise<void> {
    this.calls.push({ op: 'setRouting', routing });
  }
  async serveMetadata(): Promise<void> {}
  vmInterface(port: PortSpec): VmInterface {
    return this.inner.vmInterface(port);
  }
  list(): Promise<NetworkInventory> {
    return this.inner.list();
  }
  sync(desired: DesiredNetwork): Promise<SyncReport> {
    this.calls.push({ op: 'sync', desired });
    return this.inner.sync(desired);
  }
  probe(): Promise<ProbeResult> {
    return this.inner.probe();
  }
}
