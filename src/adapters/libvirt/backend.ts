import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertSafeName, run as defaultRunner, watchLines, type LineWatcher, type Runner } from '../exec/index.js';
import { errorText } from '../../errors/text.js';
import type {
  BackendImageInfo,
  BackendInstanceInfo,
  BackendState,
  ComputeBackend,
  ConsoleInfo,
  ImageSource,
  InstanceSpec,
  NicSpec,
  ProbeResult,
  VolumeAttachment,
} from '../../ports/compute.js';
import type { DiskExport } from '../../ports/storage.js';
import { targetFor, targetOfVolume, volumeDiskParams, volumeDiskXml } from './volumes.js';
import { readLogTail, vncUrlFromDomainXml } from './console.js';
import { detectDomainType } from './hostcaps.js';
import { assertSafePath, parseImageRef } from './imageref.js';
import { ImageStore } from './images.js';
import { readMetadata } from './metadata.js';
import { screenshotToPng } from './png.js';
import { rootVolume, seedVolume, StoragePool } from './pool.js';
import { buildSeedIso, kernelNetworkArgs, seedFiles } from './seed.js';
import { ec2SystemUuid, renderDiskXml, renderDomainXml, type DiskParams, type DomainParams, type InterfaceParams } from './templates.js';
import { domainName, Virsh } from './virsh.js';
import { setDomainNics } from './nics.js';

export interface LibvirtOptions {
  /** libvirt connection URI (default: LIBVIRT_URI, else qemu:///system) */
  uri?: string;
  /** Storage pool for root disks, seeds and base images (default thecloud, created on first use) */
  poolName?: string;
  /** Directory of that pool when the adapter creates it (default /var/lib/thecloud/pool) */
  poolPath?: string;
  runner?: Runner;
  /** Runs `virsh event` listeners, line by line (default: the project's watchLines) */
  watcher?: LineWatcher;
  /** Where serial console logs go, one <instance id>.log per domain (default /var/lib/thecloud/console) */
  consoleDir?: string;
  /** How long a graceful stop waits for the guest to power off before pulling the plug (default 30 s) */
  stopTimeoutMs?: number;
  /** Address VNC listens on (default: VNC_LISTEN, else 127.0.0.1) */
  vncListen?: string;
  /** Size of the blank root disk a kernel+initrd instance gets (default 1 GiB; qcow2, so thin) */
  rootDiskGiB?: number;
  /** Forces the domain type instead of probing the host (default: LIBVIRT_DOMAIN_TYPE, else probed) */
  domainType?: 'kvm' | 'qemu';
  /** Host bridge an instance with a network attachment is plugged into (default: LIBVIRT_BRIDGE, else br-thecloud) */
  bridge?: string;
  /** That bridge is Open vSwitch (default true; LIBVIRT_BRIDGE_OVS=0 for a Linux bridge) */
  openvswitch?: boolean;
  /**
   * The installation's id, written into every domain's metadata; list() then reports only this installation's
   * domains, so servers on different databases sharing one libvirt host never reconcile each other's away.
   */
  cloudId?: string;
}

export class DomainNotFoundError extends Error {
  constructor(readonly backendId: string) {
    super(`libvirt domain ${backendId} does not exist`);
    this.name = 'DomainNotFoundError';
  }
}

/** consoleOutput returns at most this much of the end of the log. */
const CONSOLE_TAIL_BYTES = 1 << 20;
/** A guest still booting does not hear the ACPI button: stop and reboot press it again this often. */
const ACPI_REPEAT_MS = 5_000;
/**
 * A reboot's event listener proves it is registered by seeing a change of ours (live metadata under this
 * namespace) before the guest is asked; it is given this long to do so.
 */
const LISTENER_PROBE_URI = 'https://thecloud.dev/xmlns/reboot-probe';
const LISTENER_READY_MS = 15_000;

/** Resolves when `done()` holds or `ms` have passed, checking every 50 ms. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await sleep(Math.min(50, Math.max(0, end - Date.now())));
}

export function mapDomainState(virshState: string | undefined): BackendState {
  switch (virshState) {
    case undefined:
      return 'missing';
    case 'running':
    case 'idle':
    case 'blocked':
      return 'running';
    case 'in shutdown':
    case 'dying':
      return 'stopping';
    case 'shut off':
    case 'crashed':
      return 'stopped';
    default:
      // paused (by libvirt, e.g. on a disk I/O error), pmsuspended: the domain exists but does not run.
      return 'pending';
  }
}

/**
 * ComputeBackend on libvirt/QEMU: an instance is a domain named by its instance id, with a qcow2 root disk and
 * a NoCloud seed ISO in a libvirt storage pool, its serial console logged to a file, and VNC on localhost.
 * All host commands go through the project's runner (virsh, qemu-img, genisoimage); see imageref.ts for the
 * image reference format.
 */
export class LibvirtComputeBackend implements ComputeBackend {
  readonly name = 'libvirt' as const;
  readonly uri: string;
  private readonly runner: Runner;
  private readonly watcher: LineWatcher;
  private readonly virsh: Virsh;
  private readonly pool: StoragePool;
  private readonly images: ImageStore;
  private readonly consoleDir: string;
  private readonly stopTimeoutMs: number;
  private readonly vncListen: string;
  private readonly rootDiskGiB: number;
  private readonly bridge: string;
  private readonly openvswitch: boolean;
  private domainType?: Promise<'kvm' | 'qemu'>;
  private readonly cloudId?: string;
  private bridgeReady?: Promise<void>;
  private isoTool?: Promise<'genisoimage' | 'xorriso'>;

  constructor(opts: LibvirtOptions = {}) {
    this.uri = opts.uri ?? process.env.LIBVIRT_URI ?? 'qemu:///system';
    this.runner = opts.runner ?? defaultRunner;
    this.watcher = opts.watcher ?? watchLines;
    this.virsh = new Virsh(this.uri, this.runner);
    this.pool = new StoragePool(this.virsh, this.runner, opts.poolName ?? 'thecloud', opts.poolPath ?? '/var/lib/thecloud/pool');
    this.consoleDir = assertSafePath('console log directory', opts.consoleDir ?? '/var/lib/thecloud/console');
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 30_000;
    this.vncListen = opts.vncListen ?? process.env.VNC_LISTEN ?? '127.0.0.1';
    this.rootDiskGiB = opts.rootDiskGiB ?? 1;
    this.images = new ImageStore(this.pool, this.rootDiskGiB);
    this.bridge = assertSafeName('bridge', opts.bridge ?? process.env.LIBVIRT_BRIDGE ?? 'br-thecloud');
    this.openvswitch = opts.openvswitch ?? process.env.LIBVIRT_BRIDGE_OVS !== '0';
    if (opts.domainType) this.domainType = Promise.resolve(opts.domainType);
    if (opts.cloudId !== undefined && !/^[0-9a-f]{8,64}$/.test(opts.cloudId)) throw new TypeError('unsafe cloud id');
    this.cloudId = opts.cloudId;
  }

  /**
   * The Open vSwitch bridge instances plug into must exist before a domain with an interface starts
   * (userspace datapath: the host kernel may have no openvswitch module). Made once, on first use.
   */
  private ensureBridge(): Promise<void> {
    if (!this.openvswitch) return Promise.resolve();
    this.bridgeReady ??= this.runner('ovs-vsctl', ['--may-exist', 'add-br', this.bridge, '--', 'set', 'bridge', this.bridge, 'datapath_type=netdev'])
      .then(() => undefined)
      .catch((e) => {
        this.bridgeReady = undefined;
        throw e;
      });
    return this.bridgeReady;
  }

  // --- lifecycle ------------------------------------------------------------------------------------------------

  async create(spec: InstanceSpec): Promise<{ backendId: string }> {
    const name = domainName(spec.instanceId);
    if ((await this.virsh.domstate(name)) !== undefined) throw new Error(`libvirt domain ${name} already exists`);
    const image = parseImageRef(spec.imageRef);
    const boot = await this.images.bootParams(image);
    const basePath = image.baseVolume === undefined ? undefined : await this.images.baseVolumePath(image.baseVolume);
    const seed = seedFiles(spec); // validates keys and network before anything is made
    try {
      // The root disk: the instance's EBS root volume when the service made one (LVM storage), else a qcow2
      // overlay of the image in the pool.
      const bootOrder = boot.kind === 'disk' ? 1 : undefined;
      const root: DiskParams = spec.rootDisk
        ? volumeDiskParams(spec.rootDisk, 'vda', bootOrder)
        : { type: 'file', device: 'disk', format: 'qcow2', source: await this.pool.createDisk(rootVolume(name), this.rootDiskGiB, basePath), target: 'vda', bus: 'virtio', serial: 'root', bootOrder };
      const disks: DiskParams[] = [root];
      if (boot.seed !== false) {
        const seedPath = await this.pool.volumePath(seedVolume(name));
        await buildSeedIso(this.runner, seed, seedPath, await this.seedTool());
        await this.pool.refresh();
        disks.push({ type: 'file', device: 'cdrom', format: 'raw', source: seedPath, target: 'hdc', bus: 'ide', readonly: true });
      } else if (boot.kind === 'kernel') {
        // A stock cloud image reads everything from the metadata service and gets its address by DHCP from the
        // VPC router; only without a VPC port (no DHCP server) does it come on the kernel command line.
        for (const arg of kernelNetworkArgs(spec)) boot.cmdline += ` ${arg}`;
      }
      await mkdir(this.consoleDir, { recursive: true });
      await rm(this.consoleLog(name), { force: true }); // a log left by an earlier domain of that name

      // NICs plugged by the network backend sit on their VPC's bridge (which it made), with its tap name and
      // interface id; the old mode puts the one attachment on the shared bridge.
      const interfaces: InterfaceParams[] = spec.nics
        ? spec.nics.map((nic) => vmNic(nic))
        : spec.network
          ? [{ mac: spec.network.macAddress, bridge: this.bridge, openvswitch: this.openvswitch, targetDev: tapName(name) }]
          : [];
      if (interfaces.length && !spec.nics) await this.ensureBridge();
      await this.define({
        name,
        instanceId: spec.instanceId,
        accountId: spec.accountId,
        cloudId: this.cloudId,
        imageRef: spec.imageRef,
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        boot,
        disks,
        interfaces,
        consoleLog: this.consoleLog(name),
        vncListen: this.vncListen,
        ec2Identity: { uuid: ec2SystemUuid(spec.instanceId, this.cloudId), product: spec.instanceType ?? 'EC2' },
      });
    } catch (e) {
      await this.destroy(name).catch(() => undefined); // leave nothing half-made behind
      throw e;
    }
    return { backendId: name };
  }

  /**
   * Writes the image's root disk into an exported image disk (raw): a kernel image without a base volume starts
   * blank (nothing to write); otherwise its base volume is converted into it (qemu-img, which opens NBD itself).
   */
  async fillRootDisk(imageRef: string, target: DiskExport): Promise<void> {
    const image = parseImageRef(imageRef);
    if (image.baseVolume === undefined) return;
    const source = await this.images.baseVolumePath(image.baseVolume);
    let dest: string;
    if (target.kind === 'nbd') {
      if (!/^[A-Za-z0-9.:-]{1,253}$/.test(target.host) || !Number.isInteger(target.port)) throw new TypeError('bad NBD address');
      dest = `nbd://${target.host}:${target.port}/${assertSafeName('export', target.exportName)}`;
    } else {
      if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.+-]*$/.test(target.devicePath) || target.devicePath.includes('..')) throw new TypeError('not a device path');
      dest = target.devicePath;
    }
    await this.runner('qemu-img', ['convert', '-n', '-O', 'raw', source, dest], { timeoutMs: 30 * 60_000 });
  }

  async start(backendId: string): Promise<void> {
    const name = domainName(backendId);
    let state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) === 'stopping') {
      // On its way down (a guest powering off): let it finish, then start it again.
      const deadline = Date.now() + this.stopTimeoutMs;
      while (state !== undefined && mapDomainState(state) === 'stopping' && Date.now() < deadline) {
        await sleep(250);
        state = await this.virsh.domstate(name);
      }
      if (state === undefined) throw new DomainNotFoundError(name);
    }
    switch (state) {
      case 'paused':
        await this.virsh.run(['resume', name]);
        return;
      case 'pmsuspended':
        await this.virsh.run(['dompmwakeup', name]);
        return;
    }
    if (mapDomainState(state) === 'running') return;
    await this.startDefined(name);
  }

  async stop(backendId: string, opts: { force: boolean }): Promise<void> {
    const name = domainName(backendId);
    let state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) === 'stopped') return;
    if (!opts.force) {
      // ACPI power button. A guest still booting may not listen yet (the event is lost), so press it again every
      // few seconds until the guest is off or the time is up.
      const deadline = Date.now() + this.stopTimeoutMs;
      let nextPress = 0;
      while (Date.now() < deadline) {
        if (Date.now() >= nextPress) {
          await this.virsh.run(['shutdown', name], { allowFailure: true });
          nextPress = Date.now() + ACPI_REPEAT_MS;
        }
        await sleep(250);
        state = await this.virsh.domstate(name);
        if (state === undefined || mapDomainState(state) === 'stopped') return;
      }
    }
    await this.virsh.run(['destroy', name], { allowFailure: true });
    state = await this.virsh.domstate(name);
    if (state !== undefined && mapDomainState(state) !== 'stopped') throw new Error(`libvirt domain ${name} does not stop (${state})`);
  }

  /**
   * A reboot in place, as EC2 does it: the guest is asked (ACPI; libvirt powers it back on instead of letting
   * QEMU exit), and if it has not rebooted when the stop timeout is up, it is reset (a hard reboot). The QEMU
   * process stays, so the domain id, the VNC port and the console log carry on. Whether the guest listened is
   * learnt from libvirt's reboot event. The listener must be registered before the guest is asked, or the event
   * is missed and the guest, already rebooting, is asked again and again (each time a reboot): it proves it is
   * by reporting a live metadata change made for the purpose, not by a pause that load can make too short.
   */
  async reboot(backendId: string): Promise<void> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) !== 'running') throw new Error(`libvirt domain ${name} is not running (${state})`);
    let listening = false;
    let rebooted = false;
    let ended = false;
    const seconds = Math.ceil((LISTENER_READY_MS + this.stopTimeoutMs) / 1000) + 5;
    const listener = this.watcher(
      'virsh',
      ['-c', this.uri, 'event', '--domain', name, '--all', '--loop', '--timeout', String(seconds)],
      (line) => {
        if (line.startsWith("event 'metadata-change'") && line.includes(LISTENER_PROBE_URI)) listening = true;
        else if (line.startsWith("event 'reboot'")) rebooted = true;
      },
      { timeoutMs: (seconds + 10) * 1000 },
    );
    void listener.exited.then(() => (ended = true));
    const probe = ['metadata', name, '--live', '--uri', LISTENER_PROBE_URI];
    let probed = false;
    try {
      const readyBy = Date.now() + LISTENER_READY_MS;
      while (!listening) {
        if (ended || Date.now() > readyBy) throw new Error(`virsh event did not start listening to ${name}`);
        probed = true;
        await this.virsh.run([...probe, '--key', 'probe', '--set', '<probe/>']);
        await until(() => listening || ended, 500);
      }
      // Gone before the guest is asked (also when the listener never answered: see finally).
      await this.virsh.run([...probe, '--remove'], { allowFailure: true });
      probed = false;
      // As for a stop, a guest still booting does not hear the button yet: ask again every few seconds.
      const deadline = Date.now() + this.stopTimeoutMs;
      while (!rebooted && Date.now() < deadline) {
        await this.virsh.run(['reboot', name, '--mode', 'acpi'], { allowFailure: true });
        await until(() => rebooted || ended, Math.min(ACPI_REPEAT_MS, Math.max(0, deadline - Date.now())));
        // Deaf now, it could not tell a guest that rebooted from one that did not: neither ask again nor reset.
        if (ended && !rebooted) throw new Error(`virsh event stopped listening to ${name} during its reboot`);
      }
    } finally {
      listener.stop();
      if (probed) await this.virsh.run([...probe, '--remove'], { allowFailure: true });
    }
    if (rebooted) return;
    await this.virsh.run(['reset', name]);
  }

  async destroy(backendId: string): Promise<void> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state !== undefined) {
      // Only ever remove what this adapter made: a same-named domain without our metadata is someone else's.
      if ((await readMetadata(this.virsh, name)) === undefined) {
        throw new Error(`libvirt domain ${name} does not carry The Cloud's metadata; not destroying it`);
      }
      if (mapDomainState(state) !== 'stopped') await this.virsh.run(['destroy', name], { allowFailure: true });
      const undefine = await this.virsh.run(['undefine', name, '--managed-save', '--snapshots-metadata', '--nvram'], {
        allowFailure: true,
      });
      if (undefine.exitCode !== 0 && (await this.virsh.domstate(name)) !== undefined) {
        throw new Error(`cannot undefine libvirt domain ${name}: ${undefine.stderr.trim()}`);
      }
    }
    await this.pool.deleteVolume(rootVolume(name));
    await this.pool.deleteVolume(seedVolume(name));
    await rm(this.consoleLog(name), { force: true });
  }

  async state(backendId: string): Promise<BackendState> {
    return mapDomainState(await this.virsh.domstate(domainName(backendId)));
  }

  async find(instanceId: string): Promise<BackendInstanceInfo | undefined> {
    const name = domainName(instanceId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) return undefined;
    const meta = await readMetadata(this.virsh, name);
    if (meta === undefined || meta.instanceId !== instanceId) return undefined;
    if (this.cloudId !== undefined && meta.cloudId !== this.cloudId) return undefined;
    return { backendId: name, instanceId, accountId: meta.accountId, state: mapDomainState(state) };
  }

  async list(): Promise<BackendInstanceInfo[]> {
    const names = (await this.virsh.run(['list', '--all', '--name'])).stdout
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const found = await Promise.all(
      names.map(async (name): Promise<BackendInstanceInfo | undefined> => {
        const meta = await readMetadata(this.virsh, name);
        if (meta === undefined) return undefined;
        if (this.cloudId !== undefined && meta.cloudId !== this.cloudId) return undefined;
        const state = mapDomainState(await this.virsh.domstate(name));
        return state === 'missing' ? undefined : { backendId: name, instanceId: meta.instanceId, accountId: meta.accountId, state };
      }),
    );
    return found.filter((x): x is BackendInstanceInfo => x !== undefined);
  }

  // --- consoles -----------------------------------------------------------------------------------------------------

  /** The serial console log (virtlogd appends to it across stop/start), its last MiB at most. */
  async consoleOutput(backendId: string): Promise<string> {
    const name = domainName(backendId);
    const text = await readLogTail(this.consoleLog(name), CONSOLE_TAIL_BYTES);
    if (text !== undefined) return text;
    if ((await this.virsh.domstate(name)) === undefined) throw new DomainNotFoundError(name);
    return ''; // defined but never started
  }

  /** The VNC address of a running domain (autoport: known only once QEMU runs); {} when it is not running. */
  async consoleInfo(backendId: string): Promise<ConsoleInfo> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) !== 'running') return {};
    const vncUrl = vncUrlFromDomainXml((await this.virsh.run(['dumpxml', name])).stdout, this.vncListen);
    return vncUrl === undefined ? {} : { vncUrl };
  }

  /** The graphical console as PNG (`virsh screenshot` gives PPM from QEMU; png.ts converts it). */
  async consoleScreenshot(backendId: string): Promise<Buffer> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) !== 'running') throw new Error(`libvirt domain ${name} is not running (${state}): no screen`);
    const dir = await mkdtemp(join(tmpdir(), 'thecloud-screenshot-'));
    try {
      const file = join(dir, 'screen');
      await this.virsh.run(['screenshot', name, '--file', file]);
      return screenshotToPng(await readFile(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // --- changes to a stopped instance ---------------------------------------------------------------------------------

  async resize(backendId: string, vcpus: number, memoryMiB: number): Promise<void> {
    const name = await this.requireStopped(backendId);
    if (!Number.isInteger(vcpus) || vcpus < 1 || !Number.isInteger(memoryMiB) || memoryMiB < 1) {
      throw new RangeError(`bad size: ${vcpus} vCPUs, ${memoryMiB} MiB`);
    }
    // Maximum first: raising it allows the new current value, lowering it lowers the current value with it.
    await this.virsh.run(['setvcpus', name, String(vcpus), '--config', '--maximum']);
    await this.virsh.run(['setvcpus', name, String(vcpus), '--config']);
    await this.virsh.run(['setmaxmem', name, `${memoryMiB}MiB`, '--config']);
    await this.virsh.run(['setmem', name, `${memoryMiB}MiB`, '--config']);
  }

  /**
   * Plugs a raw block device (an EBS volume: an LVM logical volume) into the domain as a virtio disk, live when
   * the domain runs and in its persistent definition in any case. Beyond the port: the volume service calls it.
   */
  async attachBlockDevice(backendId: string, devicePath: string, targetDev: string, opts: { serial?: string } = {}): Promise<void> {
    const name = domainName(backendId);
    const xml = renderDiskXml({
      type: 'block',
      device: 'disk',
      format: 'raw',
      source: assertSafeDevicePath(devicePath),
      target: assertTargetDev(targetDev),
      bus: 'virtio',
      serial: opts.serial === undefined ? undefined : assertSafeName('disk serial', opts.serial),
    });
    const flags = await this.liveFlags(name);
    await this.virsh.withXmlFile(xml, (path) => this.virsh.run(['attach-device', name, path, ...flags]));
  }

  async detachBlockDevice(backendId: string, targetDev: string): Promise<void> {
    const name = domainName(backendId);
    const flags = await this.liveFlags(name);
    await this.virsh.run(['detach-disk', name, assertTargetDev(targetDev), ...flags]);
  }

  /** One `<interface>` per NIC on its VPC's bridge (nics.ts), live too when the domain runs. */
  async setNics(backendId: string, nics: NicSpec[]): Promise<void> {
    const name = domainName(backendId);
    const flags = await this.liveFlags(name);
    await setDomainNics(this.virsh, name, [...nics].sort((a, b) => a.deviceIndex - b.deviceIndex).map(vmNic), flags.includes('--live'));
  }

  // --- EBS volumes (volumes.ts) -------------------------------------------------------------------------------------

  async attachVolume(backendId: string, attachment: VolumeAttachment): Promise<void> {
    const name = domainName(backendId);
    const xml = volumeDiskXml(attachment);
    const current = (await this.virsh.run(['dumpxml', '--inactive', name])).stdout;
    const target = targetOfVolume(current, attachment.volumeId);
    if (target === targetFor(attachment.deviceName)) return; // attached already
    if (target) throw new Error(`${attachment.volumeId} is already attached to ${name} as ${target}`);
    if (current.includes(`<target dev='${targetFor(attachment.deviceName)}'`)) throw new Error(`${attachment.deviceName} is in use on ${name}`);
    const flags = await this.liveFlags(name);
    await this.virsh.withXmlFile(xml, (path) => this.virsh.run(['attach-device', name, path, ...flags]));
  }

  async detachVolume(backendId: string, volumeId: string): Promise<void> {
    const name = domainName(backendId);
    const flags = await this.liveFlags(name);
    const live = flags.includes('--live') ? targetOfVolume((await this.virsh.run(['dumpxml', name])).stdout, volumeId) : undefined;
    const persistent = targetOfVolume((await this.virsh.run(['dumpxml', '--inactive', name])).stdout, volumeId);
    if (live) await this.virsh.run(['detach-disk', name, live, '--live']);
    if (persistent) await this.virsh.run(['detach-disk', name, persistent, '--config']);
    // A live unplug completes when the guest lets go of the disk: wait until the running domain no longer has it.
    for (let i = 0; live && i < 100; i++) {
      if (!targetOfVolume((await this.virsh.run(['dumpxml', name])).stdout, volumeId)) return;
      await sleep(200);
    }
    if (live) throw new Error(`${volumeId} is still plugged into ${name}: the guest did not release it`);
  }

  /**
   * The stopped domain's root disk (target vda) becomes `disk`, with the boot order the old one had: the disk
   * element is replaced in the persistent definition, which is defined again (nothing else of it changes).
   */
  async replaceRootDisk(backendId: string, disk: VolumeAttachment): Promise<void> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) !== 'stopped') throw new Error(`libvirt domain ${name} must be stopped to replace its root disk (${state})`);
    const xml = (await this.virsh.run(['dumpxml', '--inactive', name])).stdout;
    const disks = xml.match(/<disk\b[\s\S]*?<\/disk>/g) ?? [];
    const old = disks.find((d) => /<target dev='vda'/.test(d));
    if (!old) throw new Error(`libvirt domain ${name} has no root disk (vda)`);
    const order = /<boot order='(\d+)'/.exec(old)?.[1];
    const fresh = renderDiskXml(volumeDiskParams(disk, 'vda', order === undefined ? undefined : Number(order)));
    await this.virsh.define(xml.replace(old, fresh.trim()));
  }

  // --- images (images.ts) ------------------------------------------------------------------------------------------

  parseImageLocation(location: string): ImageSource {
    return this.images.parseLocation(location);
  }

  /** The storage pool, the console logs, and libvirt's own directories (its images, configuration, logs). */
  async ownDirectories(): Promise<string[]> {
    const libvirt = ['/var/lib/libvirt', '/etc/libvirt', '/run/libvirt', '/var/log/libvirt', '/var/cache/libvirt'];
    return [...(await this.pool.directories()), this.consoleDir, ...libvirt];
  }

  inspectImage(location: string): Promise<BackendImageInfo> {
    return this.images.inspect(location);
  }

  /** Copies a stopped instance's root disk into a new base volume (see ImageStore.capture). */
  async captureImage(backendId: string, imageId: string): Promise<BackendImageInfo> {
    const name = await this.requireStopped(backendId);
    const meta = await readMetadata(this.virsh, name);
    if (meta === undefined) throw new Error(`libvirt domain ${name} has no metadata of ours`);
    return this.images.capture(rootVolume(name), meta.imageRef, imageId);
  }

  deleteImage(ref: string): Promise<void> {
    return this.images.delete(ref);
  }

  // --- health ---------------------------------------------------------------------------------------------------------

  async probe(): Promise<ProbeResult> {
    try {
      const version = await this.virsh.run(['version'], { timeoutMs: 10_000 });
      const lib = /Using library: libvirt ([\d.]+)/.exec(version.stdout)?.[1] ?? '?';
      const hv = /Running hypervisor: (.+)/.exec(version.stdout)?.[1]?.trim() ?? '?';
      const qemuImg = await this.runner('qemu-img', ['--version'], { allowFailure: true }).catch(() => undefined);
      if (qemuImg?.exitCode !== 0) return { ok: false, detail: 'qemu-img is not installed (qemu-utils)' };
      const iso = await this.seedTool().catch(() => undefined);
      if (iso === undefined) return { ok: false, detail: 'neither genisoimage nor xorriso is installed (NoCloud seeds)' };
      const type = await this.getDomainType();
      return { ok: true, detail: `${this.uri}: libvirt ${lib}, ${hv}, domain type ${type}, seeds by ${iso}` };
    } catch (e) {
      return { ok: false, detail: `${this.uri}: ${errorText(e).split('\n')[0]}` };
    }
  }

  // --- internals ------------------------------------------------------------------------------------------------------

  private consoleLog(name: string): string {
    return join(this.consoleDir, `${name}.log`);
  }

  private getDomainType(): Promise<'kvm' | 'qemu'> {
    this.domainType ??= detectDomainType(this.virsh);
    return this.domainType;
  }

  private seedTool(): Promise<'genisoimage' | 'xorriso'> {
    this.isoTool ??= (async () => {
      const has = async (cmd: string, arg: string): Promise<boolean> =>
        (await this.runner(cmd, [arg], { allowFailure: true }).catch(() => undefined))?.exitCode === 0;
      if (await has('genisoimage', '--version')) return 'genisoimage' as const;
      if (await has('xorriso', '-version')) return 'xorriso' as const;
      this.isoTool = undefined;
      throw new Error('neither genisoimage nor xorriso is installed: cannot make NoCloud seeds');
    })();
    return this.isoTool;
  }

  private async define(params: Omit<DomainParams, 'domainType'>): Promise<void> {
    await this.virsh.define(renderDomainXml({ ...params, domainType: await this.getDomainType() }));
  }

  /** `virsh start` of a defined domain that is off. */
  private async startDefined(name: string): Promise<void> {
    try {
      await this.virsh.run(['start', name]);
    } catch (e) {
      if (!/kvm/i.test(errorText(e))) throw e;
      const xml = (await this.virsh.run(['dumpxml', '--inactive', name])).stdout;
      if (!/^<domain type='kvm'/.test(xml)) throw e;
      // The probe said kvm but QEMU could not use it (permissions, a broken nested setup): emulate from now on.
      this.domainType = Promise.resolve('qemu');
      await this.virsh.define(xml.replace(/^<domain type='kvm'/, "<domain type='qemu'"));
      await this.virsh.run(['start', name]);
    }
  }

  private async requireStopped(backendId: string): Promise<string> {
    const name = domainName(backendId);
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    if (mapDomainState(state) !== 'stopped') throw new Error(`libvirt domain ${name} must be stopped (it is ${state})`);
    return name;
  }

  /** attach/detach flags: the persistent definition always, the running guest too when it runs. */
  private async liveFlags(name: string): Promise<string[]> {
    const state = await this.virsh.domstate(name);
    if (state === undefined) throw new DomainNotFoundError(name);
    return mapDomainState(state) === 'running' ? ['--config', '--live'] : ['--config'];
  }
}

/**
 * Host-side tap device of an instance's interface: "tc" + the last 13 hex digits of the instance id, within
 * Linux's 15 characters and stable across stop/start, so the network adapter can find the port by name.
 */
export function tapName(instanceId: string): string {
  return `tc${instanceId.replace(/^i-/, '').slice(-13)}`;
}

function vmNic(nic: NicSpec): InterfaceParams {
  if (!nic.vm) throw new TypeError(`NIC ${nic.eniId} has no VM interface (NetworkBackend.vmInterface)`);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(nic.vm.interfaceId)) throw new TypeError(`bad OVS interface id ${nic.vm.interfaceId}`);
  return {
    mac: nic.mac,
    bridge: assertSafeName('bridge', nic.vm.bridge),
    openvswitch: true,
    targetDev: assertSafeName('tap', nic.vm.portName),
    interfaceId: nic.vm.interfaceId,
  };
}

function assertSafeDevicePath(path: string): string {
  if (!path.startsWith('/dev/')) throw new TypeError(`not a device path: ${JSON.stringify(path)}`);
  return assertSafePath('block device', path);
}

function assertTargetDev(dev: string): string {
  if (!/^vd[a-z]{1,2}$/.test(dev)) throw new TypeError(`bad virtio target device ${JSON.stringify(dev)} (vdb, vdc ...)`);
  if (dev === 'vda') throw new TypeError('vda is the root disk');
  return dev;
}
