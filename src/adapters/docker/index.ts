/**
 * Docker compute adapter: an EC2 instance is a container named by the instance id, labelled with the
 * instance and account ids. The container's entrypoint is an init wrapper (boot.ts) that does the first-boot
 * work and then runs the image's own command; its log is the instance's console output.
 */
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import type {
  BackendImageInfo,
  BackendInstanceInfo,
  BackendState,
  ComputeBackend,
  ImageSource,
  InstanceSpec,
  ProbeResult,
  Sandbox,
  VolumeAttachment,
} from '../../ports/index.js';
import { LocalBlockDevices } from '../blockdev/index.js';
import { run as defaultRunner, type Runner } from '../exec/index.js';
import { ContainerVolumes } from './volumes.js';
import * as check from './names.js';
import { LABEL_ACCOUNT, LABEL_CLOUD, LABEL_INSTANCE, LABEL_MANAGED } from './names.js';
import { INIT_PATH, bootRootOf, writeBootDir } from './boot.js';
import { DockerImages } from './images.js';
import { dockerImageSource } from './reference.js';
import { demuxLogs } from './logs.js';
import { cpusetFor, lxcfsBinds } from './guest-view.js';
import { dockerMessage, isStatus } from './errors.js';

export interface DockerComputeOptions {
  /** The daemon's socket; default: DOCKER_HOST or /var/run/docker.sock, as the docker CLI does. */
  socketPath?: string;
  /**
   * The installation's id: written on every container and required by list(), so that reconciliation by
   * one installation never touches the containers of another sharing the same Docker engine.
   */
  cloudId?: string;
  /** Where attached volumes' local block devices are kept track of (default /run/thecloud/volumes) */
  volumeDir?: string;
  /**
   * Where each container's /.thecloud (first-boot files, boot.ts) is kept on this host, in a directory per
   * installation and instance (default /var/lib/thecloud/docker-boot). Docker reads it as a bind mount's source,
   * so the path must mean the same to the daemon (docker-compose.yml mounts it at the same path).
   */
  bootDir?: string;
  runner?: Runner;
}

/** Seconds a graceful stop or reboot waits for the instance before killing it. */
const STOP_TIMEOUT_S = 10;
const MiB = 1024 * 1024;

export class DockerComputeBackend implements ComputeBackend {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  private readonly images: DockerImages;
  private readonly volumes: ContainerVolumes;
  private host?: { cpus: number; apiVersion: string };

  private readonly cloudId?: string;
  private readonly bootRoot: string;

  constructor(opts: DockerComputeOptions | Docker = {}) {
    this.docker = opts instanceof Docker ? opts : new Docker(opts.socketPath ? { socketPath: opts.socketPath } : undefined);
    this.cloudId = opts instanceof Docker ? undefined : opts.cloudId && check.cloudId(opts.cloudId);
    this.images = new DockerImages(this.docker);
    const o = opts instanceof Docker ? {} : opts;
    this.bootRoot = join(bootRootOf(o.bootDir), this.cloudId ?? 'local');
    const runner = o.runner ?? defaultRunner;
    this.volumes = new ContainerVolumes(new LocalBlockDevices(o.volumeDir, runner), runner);
  }

  async create(spec: InstanceSpec): Promise<{ backendId: string; sandbox?: Sandbox }> {
    check.spec(spec);
    const image = await this.images.config(spec.imageRef);
    const limits = await this.limits(spec.vcpus, spec.memoryMiB, spec.instanceId);
    // With NICs the network backend plugs the container's own namespace: no Docker network at all. (Without
    // any, as in adapter tests, Docker's default bridge.)
    const network = spec.nics ? 'none' : 'bridge';
    const bootDir = this.bootDirOf(spec.instanceId);
    let container: Docker.Container;
    try {
      await writeBootDir(bootDir, spec);
      container = await this.docker.createContainer(containerConfig(spec, image, network, limits, this.cloudId, bootDir));
    } catch (e) {
      // No half-made instance is left behind: the caller sees the failure and owns nothing.
      await rm(bootDir, { recursive: true, force: true }).catch(() => undefined);
      if (isStatus(e, 409)) throw new Error(`a container named ${spec.instanceId} already exists`, { cause: e });
      throw new Error(`cannot prepare instance ${spec.instanceId}: ${dockerMessage(e)}`, { cause: e });
    }
    // Not started: its sandbox (the netns of its pid) exists once `start` ran; `sandbox` tells it then.
    return { backendId: container.id };
  }

  /** A running container's network namespace, by its init's pid (a new one at every start). */
  async sandbox(backendId: string): Promise<Sandbox | undefined> {
    try {
      const state = (await this.container(backendId).inspect()).State;
      return state.Running && state.Pid > 0 ? { kind: 'netns', pid: state.Pid } : undefined;
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async start(backendId: string): Promise<void> {
    const container = this.container(backendId);
    try {
      await container.start();
    } catch (e) {
      // 304: running already. 409 for a paused one ("try unpause instead"): resumed, as it was.
      if (isStatus(e, 409) && (await container.inspect()).State.Paused) {
        await ignoring(409, container.unpause()); // 409: not paused any more
        return;
      }
      if (!isStatus(e, 304)) throw e;
    }
    await this.replugVolumes(backendId);
  }

  async stop(backendId: string, opts: { force: boolean }): Promise<void> {
    const container = this.container(backendId);
    if (!opts.force) {
      await ignoring(304, container.stop({ t: STOP_TIMEOUT_S })); // 304: stopped already
      return;
    }
    try {
      await container.kill();
    } catch (e) {
      if (isStatus(e, 409)) return; // not running
      throw e;
    }
    // kill only sends the signal; stop() promises a stopped instance.
    await container.wait({ condition: 'not-running' });
  }

  async reboot(backendId: string): Promise<void> {
    await this.container(backendId).restart({ t: STOP_TIMEOUT_S });
    await this.replugVolumes(backendId);
  }

  // --- volumes (volumes.ts) -----------------------------------------------------------------------------------------

  async attachVolume(backendId: string, attachment: VolumeAttachment): Promise<void> {
    const { id, pid } = await this.running(backendId);
    await this.volumes.attach(id, pid, attachment);
  }

  async detachVolume(backendId: string, volumeId: string): Promise<void> {
    const { id, pid } = await this.running(backendId);
    await this.volumes.detach(id, pid, volumeId);
  }

  /** A new container process has a fresh device cgroup and /dev: the attached volumes are plugged in again. */
  private async replugVolumes(backendId: string): Promise<void> {
    if (!(await this.volumes.recorded(backendId)).length) return; // none attached: not even an inspect
    const { id, pid } = await this.running(backendId);
    if (pid) await this.volumes.replug(id, pid);
  }

  /** The container's full id, and its init's pid when it runs. */
  private async running(backendId: string): Promise<{ id: string; pid?: number }> {
    const info = await this.container(backendId).inspect();
    return { id: info.Id, pid: info.State.Running && info.State.Pid > 0 ? info.State.Pid : undefined };
  }

  async destroy(backendId: string): Promise<void> {
    const container = this.container(backendId);
    try {
      const info = await container.inspect();
      await container.remove({ force: true, v: true });
      await this.volumes.releaseAll(info.Id);
      const instanceId = info.Config.Labels?.[LABEL_INSTANCE];
      if (instanceId) {
        await rm(this.bootDirOf(instanceId), { recursive: true, force: true });
        // The installation's directory too once it holds no instance (a launch at this moment makes it again).
        await rmdir(this.bootRoot).catch(() => undefined);
      }
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  /** The host directory the container of `instanceId` sees as /.thecloud. */
  private bootDirOf(instanceId: string): string {
    return join(this.bootRoot, check.instanceId(instanceId));
  }

  async state(backendId: string): Promise<BackendState> {
    try {
      return toState((await this.container(backendId).inspect()).State.Status);
    } catch (e) {
      if (isStatus(e, 404)) return 'missing';
      throw e;
    }
  }

  async list(): Promise<BackendInstanceInfo[]> {
    return this.listed([]);
  }

  async find(instanceId: string): Promise<BackendInstanceInfo | undefined> {
    return (await this.listed([`${LABEL_INSTANCE}=${check.instanceId(instanceId)}`]))[0];
  }

  private async listed(extra: string[]): Promise<BackendInstanceInfo[]> {
    const label = [`${LABEL_MANAGED}=true`, ...(this.cloudId ? [`${LABEL_CLOUD}=${this.cloudId}`] : []), ...extra];
    const containers = await this.docker.listContainers({ all: true, filters: { label } });
    return containers.map((c) => ({
      backendId: c.Id,
      instanceId: c.Labels[LABEL_INSTANCE] ?? '',
      accountId: c.Labels[LABEL_ACCOUNT] ?? '',
      state: toState(c.State),
    }));
  }

  async consoleOutput(backendId: string): Promise<string> {
    const raw = await this.container(backendId).logs({ stdout: true, stderr: true, follow: false });
    return demuxLogs(raw);
  }

  async resize(backendId: string, vcpus: number, memoryMiB: number): Promise<void> {
    check.size(vcpus, memoryMiB);
    const container = this.container(backendId);
    const name = (await container.inspect()).Name.replace(/^\//, '');
    await container.update(await this.limits(vcpus, memoryMiB, name));
  }

  parseImageLocation(location: string): ImageSource {
    return dockerImageSource(location);
  }

  /** The daemon's data root (images, containers, volumes) and the usual homes of Docker and containerd. */
  async ownDirectories(): Promise<string[]> {
    const info = (await this.docker.info().catch(() => undefined)) as { DockerRootDir?: string } | undefined;
    const dirs = ['/var/lib/docker', '/var/lib/containerd', '/etc/docker', '/run/docker', '/run/containerd'];
    return info?.DockerRootDir ? [info.DockerRootDir, ...dirs] : dirs;
  }

  inspectImage(location: string): Promise<BackendImageInfo> {
    return this.images.inspect(location);
  }

  captureImage(backendId: string, imageId: string): Promise<BackendImageInfo> {
    return this.images.capture(backendId, imageId);
  }

  deleteImage(ref: string): Promise<void> {
    return this.images.delete(ref);
  }

  async probe(): Promise<ProbeResult> {
    // docker-modem keeps the socket as a string, or as a function when it picks the default one itself.
    const { socketPath, host } = this.docker.modem as { socketPath?: unknown; host?: unknown };
    const where = typeof socketPath === 'string' ? socketPath : typeof host === 'string' ? host : 'the default Docker socket';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    });
    try {
      const v = await Promise.race([this.docker.version(), timeout]);
      return { ok: true, detail: `Docker ${v.Version} (API ${v.ApiVersion}) at ${where}` };
    } catch (e) {
      return { ok: false, detail: `Docker does not answer at ${where}: ${dockerMessage(e)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  private container(backendId: string): Docker.Container {
    // Checked in its own statement: `docker.getContainer(check(...))` would touch Docker before checking.
    const id = check.containerId(backendId);
    return this.docker.getContainer(id);
  }

  private async hostInfo(): Promise<{ cpus: number; apiVersion: string }> {
    if (!this.host) {
      const [info, version] = await Promise.all([this.docker.info(), this.docker.version()]);
      this.host = { cpus: Number(info.NCPU), apiVersion: version.ApiVersion };
    }
    return this.host;
  }

  /** Docker refuses more CPUs than the host has, so the vCPU count is capped there. */
  private async limits(vcpus: number, memoryMiB: number, instanceId: string): Promise<Limits> {
    const { cpus } = await this.hostInfo();
    const memory = memoryMiB * MiB;
    // MemorySwap equal to Memory: no swap, as on EC2 (ignored by Docker where swap accounting is off). The cpuset
    // makes nproc say the vCPUs (guest-view.ts).
    return { NanoCpus: Math.min(vcpus, cpus) * 1e9, CpusetCpus: cpusetFor(instanceId, vcpus, cpus), Memory: memory, MemorySwap: memory };
  }
}

interface Limits {
  NanoCpus: number;
  CpusetCpus: string;
  Memory: number;
  MemorySwap: number;
}

function containerConfig(
  spec: InstanceSpec,
  image: Docker.ImageInspectInfo,
  network: string,
  limits: Limits,
  cloudId: string | undefined,
  bootDir: string,
): Docker.ContainerCreateOptions {
  const labels: Record<string, string> = {
    [LABEL_MANAGED]: 'true',
    ...(cloudId ? { [LABEL_CLOUD]: cloudId } : {}),
    [LABEL_INSTANCE]: spec.instanceId,
    [LABEL_ACCOUNT]: spec.accountId,
  };
  return {
    name: spec.instanceId,
    Image: check.imageRef(spec.imageRef),
    Hostname: spec.hostname,
    // The wrapper runs as root (first boot needs it), then execs the image's entrypoint + command, which
    // therefore run as root too: an image's USER is not applied to instances (a captured image keeps it).
    User: '0',
    Entrypoint: ['/bin/sh', INIT_PATH],
    Cmd: [...(image.Config.Entrypoint ?? []), ...(image.Config.Cmd ?? [])],
    Labels: labels,
    HostConfig: {
      ...limits,
      // docker-init as PID 1: signals reach the wrapper / image command, and orphans (SSH sessions) are reaped.
      Init: true,
      NetworkMode: network,
      // The VPC's resolver in /etc/resolv.conf (Docker writes the file also with no network).
      ...(spec.dns ? { Dns: spec.dns.nameservers, DnsSearch: spec.dns.search } : {}),
      // The type's memory, CPUs and the container's own uptime in /proc, where lxcfs runs (guest-view.ts); the
      // first-boot files (boot.ts).
      Binds: [...lxcfsBinds(), `${bootDir}:/.thecloud:rw`],
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
  };
}

function toState(status: string): BackendState {
  switch (status) {
    case 'created': // made and never started: it runs only once started
    case 'paused': // frozen: it runs again only once unpaused (start does that)
    case 'restarting':
      return 'pending';
    case 'running':
      return 'running';
    case 'removing':
      return 'stopping';
    default: // exited, dead
      return 'stopped';
  }
}

async function ignoring(status: number, p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isStatus(e, status)) throw e;
  }
}
