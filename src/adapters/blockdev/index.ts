/**
 * A local block device made of a disk export, on a compute host whose kernel has no NBD client: QEMU's storage
 * daemon connects to the NBD export and serves it as a FUSE file, and a loop device is made of that file.
 *
 *   NBD export --(qemu-storage-daemon: --blockdev driver=nbd, --export type=fuse)--> file --(losetup)--> /dev/loopN
 *
 * Each volume has a directory `<dir>/<volume id>/` holding the FUSE mount point `disk`, the daemon's pid file and
 * log, and whatever the compute adapter records there (the Docker adapter's attachment). An export of kind
 * 'block' (the volume is on this host) is used as it is. The daemon is started through start-stop-daemon, which
 * closes every inherited descriptor (a caller's `flock` would otherwise live on in the daemon).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DiskExport } from '../../ports/storage.js';
import { run as defaultRunner, type Runner } from '../exec/index.js';
import { diskId as checkDiskId } from '../lvm/names.js';

export const DEFAULT_VOLUME_DIR = '/run/thecloud/volumes';

export class LocalBlockDevices {
  constructor(
    readonly dir: string = DEFAULT_VOLUME_DIR,
    private readonly run: Runner = defaultRunner,
  ) {
    if (!dir.startsWith('/') || /[^A-Za-z0-9/_.-]/.test(dir)) throw new TypeError(`unsafe volume state directory: ${dir}`);
  }

  volumeDir(volumeId: string): string {
    return join(this.dir, checkDiskId(volumeId));
  }

  /** The local device for the export, connecting it first when it is an NBD export not connected yet. */
  async connect(volumeId: string, exp: DiskExport): Promise<string> {
    if (exp.kind === 'block') return checkDevicePath(exp.devicePath);
    checkNbd(exp);
    const dir = this.volumeDir(volumeId);
    const file = join(dir, 'disk');
    const existing = await this.loopOf(file);
    if (existing) return existing;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await this.mounted(file))) {
      await this.stopDaemon(dir); // a daemon whose mount is gone
      await writeFile(file, '', { flag: 'a' });
      const server = `server.type=inet,server.host=${exp.host},server.port=${exp.port}`;
      await this.run('start-stop-daemon', [
        '--start', '--background', '--make-pidfile',
        '--pidfile', join(dir, 'qsd.pid'),
        '--output', join(dir, 'qsd.log'),
        '--exec', '/usr/bin/qemu-storage-daemon', '--',
        '--blockdev', `driver=nbd,node-name=disk,${server},export=${exp.exportName},reconnect-delay=5`,
        '--export', `type=fuse,id=fuse,node-name=disk,mountpoint=${file},writable=on`,
      ]);
      for (let i = 0; i < 100 && !(await this.mounted(file)); i++) await sleep(100);
      if (!(await this.mounted(file))) {
        const log = await readFile(join(dir, 'qsd.log'), 'utf8').catch(() => '');
        await this.stopDaemon(dir);
        throw new Error(`cannot connect ${volumeId} from nbd://${exp.host}:${exp.port}/${exp.exportName}: ${log.trim().slice(0, 500) || 'no FUSE mount'}`);
      }
    }
    const r = await this.run('losetup', ['--find', '--show', '--direct-io=on', file], { allowFailure: true });
    const loop = r.exitCode === 0 ? r.stdout.trim() : (await this.run('losetup', ['--find', '--show', file])).stdout.trim();
    return checkDevicePath(loop);
  }

  /** Whether the volume's chain is up: its loop device, or undefined. */
  async device(volumeId: string): Promise<string | undefined> {
    return this.loopOf(join(this.volumeDir(volumeId), 'disk'));
  }

  /** Tears the chain down (loop device, daemon, mount, directory). Idempotent. */
  async disconnect(volumeId: string): Promise<void> {
    const dir = this.volumeDir(volumeId);
    const file = join(dir, 'disk');
    for (let loop = await this.loopOf(file); loop; loop = await this.loopOf(file)) {
      await this.run('losetup', ['-d', loop]);
    }
    await this.stopDaemon(dir);
    if (await this.mounted(file)) await this.run('umount', ['-l', file], { allowFailure: true });
    await rm(dir, { recursive: true, force: true });
  }

  /** Volume ids that have a directory here (connected, or recorded by an adapter). */
  async volumes(): Promise<string[]> {
    return (await readdir(this.dir).catch(() => [] as string[])).filter((n) => /^(vol|ami)-[0-9a-f]+$/.test(n));
  }

  private async loopOf(file: string): Promise<string | undefined> {
    if (!existsSync(file)) return undefined;
    const r = await this.run('losetup', ['-n', '-O', 'NAME', '-j', file], { allowFailure: true });
    return r.stdout.split('\n').map((l) => l.trim()).find((l) => l.startsWith('/dev/loop'));
  }

  private async mounted(file: string): Promise<boolean> {
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    return mounts.split('\n').some((l) => l.split(' ')[4] === file);
  }

  private async stopDaemon(dir: string): Promise<void> {
    const pidFile = join(dir, 'qsd.pid');
    if (!existsSync(pidFile)) return;
    await this.run('start-stop-daemon', ['--stop', '--quiet', '--oknodo', '--pidfile', pidFile, '--retry', 'TERM/5/KILL/2', '--remove-pidfile']);
  }
}

function checkDevicePath(p: string): string {
  if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.+-]*$/.test(p) || p.includes('..')) throw new TypeError(`not a device path: ${JSON.stringify(p)}`);
  return p;
}

function checkNbd(e: { host: string; port: number; exportName: string }): void {
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(e.host) || e.host.startsWith('-')) throw new TypeError(`bad NBD host: ${JSON.stringify(e.host)}`);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new TypeError(`bad NBD port: ${e.port}`);
  checkDiskId(e.exportName);
}
