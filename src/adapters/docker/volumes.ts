/**
 * EBS volumes inside running containers, as block devices at the name the user asked for (/dev/sdf) and its xvd
 * alias (/dev/xvdf), attached and detached without a restart.
 *
 * The volume's export becomes a local block device (../blockdev: the device itself, or a loop device over an NBD
 * connection). Plugging it into a running container takes two things from the host, both undone on detach:
 * - the container's device cgroup (v1) allows that one device (`b MAJOR:MINOR rw` in devices.allow): nothing
 *   broader, so the container cannot open another volume's device even with CAP_MKNOD;
 * - device nodes in the container's /dev (made through /proc/<pid>/root, so the image needs no mknod).
 * Both live only as long as the container's processes: a restarted container gets them again from the
 * attachment recorded beside the volume's block device (replug). The loop device and its NBD connection stay
 * across a stop, so the data path survives stop/start.
 */
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { VolumeAttachment } from '../../ports/compute.js';
import type { DiskExport } from '../../ports/storage.js';
import { LocalBlockDevices } from '../blockdev/index.js';
import type { Runner } from '../exec/index.js';
import { volumeId as checkVolumeId } from '../lvm/names.js';

interface Recorded {
  containerId: string;
  deviceName: string;
  export: DiskExport;
}

/** /dev/sdf, /dev/xvdf ... (the service applies AWS's rules; this is the shape a device node may have). */
const DEVICE_NAME = /^\/dev\/(sd|xvd)([b-z][a-z]?)$/;

/** The node names of a device name: itself and its sd/xvd twin. */
export function deviceNodes(deviceName: string): string[] {
  const m = DEVICE_NAME.exec(deviceName);
  if (!m) throw new TypeError(`invalid device name: ${JSON.stringify(deviceName)} (/dev/sdf ... /dev/sdp, /dev/xvdf ...)`);
  return [`/dev/sd${m[2]}`, `/dev/xvd${m[2]}`];
}

export class ContainerVolumes {
  constructor(
    private readonly devices: LocalBlockDevices,
    private readonly run: Runner,
  ) {}

  /** Attaches to a container (running: plugged now; stopped: plugged at its next start). */
  async attach(containerId: string, pid: number | undefined, a: VolumeAttachment): Promise<void> {
    checkVolumeId(a.volumeId);
    const nodes = deviceNodes(a.deviceName);
    for (const other of await this.recorded(containerId)) {
      if (other.volumeId === a.volumeId) {
        if (other.deviceName === a.deviceName) return this.plugIfRunning(pid, a.volumeId, nodes);
        throw new Error(`${a.volumeId} is already attached to this instance at ${other.deviceName}`);
      }
      if (deviceNodes(other.deviceName).some((n) => nodes.includes(n))) throw new Error(`${a.deviceName} is in use by ${other.volumeId}`);
    }
    const current = await this.record(a.volumeId);
    if (current && current.containerId !== containerId) throw new Error(`${a.volumeId} is attached to another container`);
    await this.devices.connect(a.volumeId, a.export);
    try {
      await writeFile(join(this.devices.volumeDir(a.volumeId), 'attachment.json'), JSON.stringify({ containerId, deviceName: a.deviceName, export: a.export }));
      await this.plugIfRunning(pid, a.volumeId, nodes);
    } catch (e) {
      await this.devices.disconnect(a.volumeId).catch(() => undefined);
      throw e;
    }
  }

  /** Unplugs (when running) and tears the local device down. Idempotent. */
  async detach(containerId: string, pid: number | undefined, volumeId: string): Promise<void> {
    checkVolumeId(volumeId);
    const rec = await this.record(volumeId);
    if (rec && rec.containerId !== containerId) throw new Error(`${volumeId} is not attached to this container`);
    if (rec && pid) {
      const dev = await this.devices.device(volumeId);
      await this.unplug(pid, deviceNodes(rec.deviceName), dev ? await majorMinor(dev) : undefined);
    }
    await this.devices.disconnect(volumeId);
  }

  /** After a (re)start: every volume recorded for the container is plugged again, reconnected if need be. */
  async replug(containerId: string, pid: number): Promise<void> {
    for (const r of await this.recorded(containerId)) {
      await this.devices.connect(r.volumeId, r.export);
      await this.plugIfRunning(pid, r.volumeId, deviceNodes(r.deviceName));
    }
  }

  /** When the container goes: every volume recorded for it is disconnected. */
  async releaseAll(containerId: string): Promise<void> {
    for (const r of await this.recorded(containerId)) await this.devices.disconnect(r.volumeId);
  }

  async recorded(containerId: string): Promise<Array<Recorded & { volumeId: string }>> {
    const out: Array<Recorded & { volumeId: string }> = [];
    for (const volumeId of await this.devices.volumes()) {
      const r = await this.record(volumeId);
      if (r && (containerId.startsWith(r.containerId) || r.containerId.startsWith(containerId))) out.push({ ...r, volumeId });
    }
    return out;
  }

  private async record(volumeId: string): Promise<Recorded | undefined> {
    const text = await readFile(join(this.devices.volumeDir(volumeId), 'attachment.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as Recorded);
  }

  private async plugIfRunning(pid: number | undefined, volumeId: string, nodes: string[]): Promise<void> {
    if (!pid) return;
    const dev = await this.devices.device(volumeId);
    const local = dev ?? (await this.record(volumeId))?.export;
    const path = typeof local === 'string' ? local : local?.kind === 'block' ? local.devicePath : undefined;
    if (!path) throw new Error(`${volumeId} has no local block device`);
    const [major, minor] = await majorMinor(path);
    await writeFile(join(await deviceCgroup(pid), 'devices.allow'), `b ${major}:${minor} rw`);
    for (const node of nodes) {
      const inside = `/proc/${pid}/root${node}`;
      await this.run('rm', ['-f', inside]);
      await this.run('mknod', ['-m', '0660', inside, 'b', String(major), String(minor)]);
    }
  }

  private async unplug(pid: number, nodes: string[], dev: [number, number] | undefined): Promise<void> {
    for (const node of nodes) await this.run('rm', ['-f', `/proc/${pid}/root${node}`], { allowFailure: true });
    if (dev) await writeFile(join(await deviceCgroup(pid), 'devices.deny'), `b ${dev[0]}:${dev[1]} rwm`).catch(() => undefined);
  }
}

async function majorMinor(devicePath: string): Promise<[number, number]> {
  const st = await stat(devicePath);
  if (!st.isBlockDevice()) throw new Error(`${devicePath} is not a block device`);
  const rdev = st.rdev;
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & ~0xff);
  return [major, minor];
}

/** The container's device cgroup directory (cgroup v1), from its init process's /proc/<pid>/cgroup. */
async function deviceCgroup(pid: number): Promise<string> {
  if (!Number.isInteger(pid) || pid < 1) throw new TypeError(`bad pid ${pid}`);
  const line = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n').find((l) => /^\d+:([^:]*,)?devices(,[^:]*)?:/.test(l));
  if (!line) throw new Error('this host has no cgroup v1 devices controller: volumes cannot be hot-plugged into containers');
  const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
  if (path.includes('..')) throw new Error(`unexpected cgroup path ${path}`);
  return join('/sys/fs/cgroup/devices', path);
}
