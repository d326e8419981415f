/**
 * The noop adapters: the whole API works, nothing on the host changes. The compute one keeps an in-memory
 * picture of its "instances" so that states, console output and reconciliation behave as with a real backend.
 */
import { randomBytes } from 'node:crypto';
export { NoopStorageBackend } from './storage.js';
import type {
  BackendImageInfo,
  BackendInstanceInfo,
  BackendState,
  ComputeBackend,
  ImageSource,
  InstanceSpec,
  NetworkBackend,
  ProbeResult,
  PortSpec,
  Sandbox,
  SubnetSpec,
  VpcSpec,
  VmInterface,
  NetworkInventory,
  DesiredNetwork,
  SyncReport,
  VolumeAttachment,
} from '../../ports/index.js';

interface NoopInstance {
  spec: InstanceSpec;
  state: BackendState;
  console: string[];
  vcpus: number;
  memoryMiB: number;
  booted: boolean;
  /** Attached volumes by device name */
  volumes: Map<string, VolumeAttachment>;
}

export class NoopComputeBackend implements ComputeBackend {
  readonly name = 'noop' as const;
  private readonly instances = new Map<string, NoopInstance>();
  private readonly images = new Set<string>(['noop:base']);

  async create(spec: InstanceSpec): Promise<{ backendId: string }> {
    const backendId = `noop-${randomBytes(6).toString('hex')}`;
    if ([...this.instances.values()].some((i) => i.spec.instanceId === spec.instanceId)) {
      throw new Error(`a noop instance for ${spec.instanceId} exists already`);
    }
    // Made, not started: as a Docker container after create.
    this.instances.set(backendId, { spec, state: 'pending', console: [], vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, booted: false, volumes: new Map() });
    return { backendId };
  }

  private get(id: string): NoopInstance {
    const i = this.instances.get(id);
    if (!i) throw new Error(`noop instance ${id} does not exist`);
    return i;
  }

  async start(backendId: string): Promise<void> {
    const i = this.get(backendId);
    i.state = 'running';
    i.console.push(`[noop] booting ${i.spec.instanceId} (${i.vcpus} vCPU, ${i.memoryMiB} MiB)`);
    if (!i.booted && i.spec.firstBootScript) i.console.push('[noop] first-boot script accepted (not run: noop backend)');
    i.booted = true;
  }

  async stop(backendId: string): Promise<void> {
    this.get(backendId).state = 'stopped';
  }

  async reboot(backendId: string): Promise<void> {
    const i = this.get(backendId);
    if (i.state !== 'running') throw new Error(`noop instance ${backendId} is not running`);
    i.console.push('[noop] reboot');
    i.console.push(`[noop] booting ${i.spec.instanceId} (${i.vcpus} vCPU, ${i.memoryMiB} MiB)`);
  }

  async destroy(backendId: string): Promise<void> {
    this.instances.delete(backendId);
  }

  async state(backendId: string): Promise<BackendState> {
    return this.instances.get(backendId)?.state ?? 'missing';
  }

  async list(): Promise<BackendInstanceInfo[]> {
    return [...this.instances.entries()].map(([backendId, i]) => ({
      backendId,
      instanceId: i.spec.instanceId,
      accountId: i.spec.accountId,
      state: i.state,
    }));
  }

  async find(instanceId: string): Promise<BackendInstanceInfo | undefined> {
    return (await this.list()).find((i) => i.instanceId === instanceId);
  }

  async consoleOutput(backendId: string): Promise<string> {
    return this.get(backendId).console.join('\n') + '\n';
  }

  async resize(backendId: string, vcpus: number, memoryMiB: number): Promise<void> {
    const i = this.get(backendId);
    i.vcpus = vcpus;
    i.memoryMiB = memoryMiB;
  }

  parseImageLocation(location: string): ImageSource {
    return { kind: 'virtual', location };
  }

  async ownDirectories(): Promise<string[]> {
    return [];
  }

  async inspectImage(location: string): Promise<BackendImageInfo> {
    return { ref: location, architecture: 'x86_64', sizeGiB: 8 };
  }

  async captureImage(_backendId: string, imageId: string): Promise<BackendImageInfo> {
    const ref = `noop:${imageId}`;
    this.images.add(ref);
    return { ref, architecture: 'x86_64', sizeGiB: 8 };
  }

  async deleteImage(ref: string): Promise<void> {
    this.images.delete(ref);
  }

  async attachVolume(backendId: string, a: VolumeAttachment): Promise<void> {
    const i = this.get(backendId);
    const taken = i.volumes.get(a.deviceName);
    if (taken && taken.volumeId !== a.volumeId) throw new Error(`${a.deviceName} is in use by ${taken.volumeId}`);
    for (const [other, instance] of this.instances) {
      if (other !== backendId && [...instance.volumes.values()].some((v) => v.volumeId === a.volumeId)) {
        throw new Error(`${a.volumeId} is attached to another instance`);
      }
    }
    i.volumes.set(a.deviceName, a);
    i.console.push(`[noop] ${a.volumeId} attached at ${a.deviceName}`);
  }

  async detachVolume(backendId: string, volumeId: string): Promise<void> {
    const i = this.get(backendId);
    for (const [name, v] of i.volumes) if (v.volumeId === volumeId) i.volumes.delete(name);
  }

  /** For tests: the volumes attached to an instance, by device name. */
  attachedVolumes(backendId: string): Map<string, VolumeAttachment> {
    return this.get(backendId).volumes;
  }

  async probe(): Promise<ProbeResult> {
    return { ok: true, detail: 'noop backend: nothing on the host' };
  }
}

/** Programs nothing; remembers what is plugged so that list() answers as a real backend would. */
export class NoopNetworkBackend implements NetworkBackend {
  readonly name = 'noop' as const;
  private readonly vpcs = new Set<string>();
  private readonly subnets = new Map<string, string>();
  private readonly ports = new Map<string, PortSpec>();
  async ensureVpc(vpc: VpcSpec): Promise<void> {
    this.vpcs.add(vpc.vpcId);
  }
  async deleteVpc(vpcId: string): Promise<void> {
    this.vpcs.delete(vpcId);
    for (const [id, v] of this.subnets) if (v === vpcId) this.subnets.delete(id);
    for (const [id, p] of this.ports) if (p.vpcId === vpcId) this.ports.delete(id);
  }
  async ensureSubnet(subnet: SubnetSpec): Promise<void> {
    this.subnets.set(subnet.subnetId, subnet.vpcId);
  }
  async deleteSubnet(_vpcId: string, subnetId: string): Promise<void> {
    this.subnets.delete(subnetId);
  }
  async plug(port: PortSpec, _sandbox: Sandbox): Promise<void> {
    this.ports.set(port.eniId, port);
  }
  async unplug(eniId: string): Promise<void> {
    this.ports.delete(eniId);
  }
  async setPortSecurityGroups(): Promise<void> {}
  async setSecurityGroups(): Promise<void> {}
  async setNetworkAcls(): Promise<void> {}
  /** No VPC has a router here, so no instance can reach a metadata address. */
  async serveMetadata(): Promise<void> {}
  /** No router: routes are records only. */
  async setRouting(): Promise<void> {}
  vmInterface(port: PortSpec): VmInterface {
    return { bridge: 'thecloud-noop', portName: `tct${port.eniId.slice(-12)}`, interfaceId: '00000000-0000-4000-8000-000000000000', mac: port.mac };
  }
  async list(): Promise<NetworkInventory> {
    return {
      vpcs: [...this.vpcs],
      subnets: [...this.subnets.keys()],
      ports: [...this.ports.values()].map((p) => ({ eniId: p.eniId, vpcId: p.vpcId, kind: 'container' as const, name: p.eniId, attached: true })),
    };
  }
  async sync(desired: DesiredNetwork): Promise<SyncReport> {
    this.vpcs.clear();
    this.subnets.clear();
    this.ports.clear();
    for (const v of desired.vpcs) await this.ensureVpc(v);
    for (const s of desired.subnets) await this.ensureSubnet(s);
    for (const p of desired.ports) await this.plug(p.port, p.sandbox);
    return { removed: [] };
  }
  async probe(): Promise<ProbeResult> {
    return { ok: true, detail: 'noop backend: nothing on the host' };
  }
}
