/**
 * A compute backend for service tests: objects whose state a test sets by hand (as a crash or the host would
 * leave them), and a log of every call the service made.
 */
import { randomBytes } from 'node:crypto';
import type { BackendImageInfo, BackendInstanceInfo, BackendState, ComputeBackend, ImageSource, InstanceSpec, ProbeResult, VolumeAttachment } from '../../src/ports/index.js';

export interface FakeObject {
  instanceId: string;
  accountId: string;
  state: BackendState;
}

export class FakeCompute implements ComputeBackend {
  readonly name = 'noop' as const;
  readonly objects = new Map<string, FakeObject>();
  readonly calls: string[] = [];
  /** Calls (by method name) that fail with this error until cleared. */
  readonly failing = new Map<string, Error>();

  private op(method: string, id: string): void {
    this.calls.push(`${method} ${id}`);
    const e = this.failing.get(method);
    if (e) throw e;
  }

  private get(id: string): FakeObject {
    const o = this.objects.get(id);
    if (!o) throw new Error(`fake object ${id} does not exist`);
    return o;
  }

  /** Puts an object on the "host" for an instance, as a crash or someone else left it. */
  put(instanceId: string, state: BackendState, accountId = '000000000000'): string {
    const id = `fake-${randomBytes(6).toString('hex')}`;
    this.objects.set(id, { instanceId, accountId, state });
    return id;
  }

  of(instanceId: string): [string, FakeObject][] {
    return [...this.objects.entries()].filter(([, o]) => o.instanceId === instanceId);
  }

  async create(spec: InstanceSpec): Promise<{ backendId: string }> {
    this.op('create', spec.instanceId);
    if (this.of(spec.instanceId).length) throw new Error(`an object for ${spec.instanceId} exists already`);
    return { backendId: this.put(spec.instanceId, 'pending', spec.accountId) };
  }

  async start(backendId: string): Promise<void> {
    this.op('start', backendId);
    this.get(backendId).state = 'running';
  }

  async stop(backendId: string): Promise<void> {
    this.op('stop', backendId);
    this.get(backendId).state = 'stopped';
  }

  async reboot(backendId: string): Promise<void> {
    this.op('reboot', backendId);
    if (this.get(backendId).state !== 'running') throw new Error(`fake object ${backendId} is not running`);
  }

  async destroy(backendId: string): Promise<void> {
    this.op('destroy', backendId);
    this.objects.delete(backendId);
  }

  async state(backendId: string): Promise<BackendState> {
    return this.objects.get(backendId)?.state ?? 'missing';
  }

  async list(): Promise<BackendInstanceInfo[]> {
    return [...this.objects.entries()].map(([backendId, o]) => ({ backendId, instanceId: o.instanceId, accountId: o.accountId, state: o.state }));
  }

  async find(instanceId: string): Promise<BackendInstanceInfo | undefined> {
    return (await this.list()).find((o) => o.instanceId === instanceId);
  }

  async consoleOutput(): Promise<string> {
    return '';
  }

  async resize(): Promise<void> {}

  async attachVolume(backendId: string, attachment: VolumeAttachment): Promise<void> {
    this.op('attachVolume', `${backendId} ${attachment.volumeId}`);
  }

  async detachVolume(backendId: string, volumeId: string): Promise<void> {
    this.op('detachVolume', `${backendId} ${volumeId}`);
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
    return { ref: `fake:${imageId}`, architecture: 'x86_64', sizeGiB: 8 };
  }

  async deleteImage(): Promise<void> {}

  async probe(): Promise<ProbeResult> {
    return { ok: true, detail: 'fake' };
  }
}
