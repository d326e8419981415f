import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSafeName, type Runner } from '../exec/index.js';
import { assertSafePath } from './imageref.js';
import type { Virsh } from './virsh.js';

/** Volumes an instance owns in the pool, named after its instance id (which is also its domain's name). */
export const ROOT_VOLUME_SUFFIX = '-root.qcow2';
export const rootVolume = (instanceId: string): string => `${instanceId}${ROOT_VOLUME_SUFFIX}`;
export const seedVolume = (instanceId: string): string => `${instanceId}-seed.iso`;

export interface ImageFileInfo {
  format: string;
  virtualSizeBytes: number;
  backingFile?: string;
  /** A qcow2 image's external data file (its contents live there, not in the image file) */
  dataFile?: string;
}

/**
 * The adapter's libvirt storage pool: a plain directory (type 'dir') holding instance root disks (qcow2
 * overlays), NoCloud seed ISOs and base images. Created on first use; libvirt learns of files we write with
 * qemu-img/genisoimage through pool-refresh.
 */
export class StoragePool {
  private ready?: Promise<string>;

  constructor(
    private readonly virsh: Virsh,
    private readonly runner: Runner,
    readonly name: string,
    private readonly wantedPath: string,
  ) {
    assertSafeName('storage pool', name);
    assertSafePath('storage pool', wantedPath);
  }

  /** Makes sure the pool exists and is active; resolves to its directory (an existing pool keeps its own). */
  path(): Promise<string> {
    this.ready ??= this.ensure().catch((e: unknown) => {
      this.ready = undefined; // let a later call try again
      throw e;
    });
    return this.ready;
  }

  private async ensure(): Promise<string> {
    const info = await this.virsh.run(['pool-info', this.name], { allowFailure: true });
    if (info.exitCode !== 0) {
      await this.virsh.run(['pool-define-as', this.name, 'dir', '--target', this.wantedPath]);
      await this.virsh.run(['pool-build', this.name]);
      await this.virsh.run(['pool-autostart', this.name]);
    }
    if (!/^State:\s+running/m.test(info.stdout)) {
      // pool-start fails on an already active pool (a concurrent starter): check again instead of failing.
      const start = await this.virsh.run(['pool-start', this.name], { allowFailure: true });
      const again = await this.virsh.run(['pool-info', this.name]);
      if (!/^State:\s+running/m.test(again.stdout)) throw new Error(`storage pool ${this.name} does not start: ${start.stderr}`);
    }
    const xml = (await this.virsh.run(['pool-dumpxml', this.name])).stdout;
    const path = /<target>\s*<path>([^<]+)<\/path>/.exec(xml)?.[1];
    if (!path) throw new Error(`storage pool ${this.name} has no target path`);
    return assertSafePath('storage pool', path);
  }

  /**
   * The directory the pool would be created in and, when the pool exists, the one it has: read only, never
   * creates the pool, never throws.
   */
  async directories(): Promise<string[]> {
    const xml = await this.virsh.run(['pool-dumpxml', this.name], { allowFailure: true }).catch(() => undefined);
    const path = xml?.exitCode === 0 ? /<target>\s*<path>([^<]+)<\/path>/.exec(xml.stdout)?.[1] : undefined;
    return path && path !== this.wantedPath ? [this.wantedPath, path] : [this.wantedPath];
  }

  async volumePath(volume: string): Promise<string> {
    return join(await this.path(), assertSafeName('volume', volume));
  }

  refresh(): Promise<unknown> {
    return this.virsh.run(['pool-refresh', this.name]);
  }

  async exists(volume: string): Promise<boolean> {
    const r = await this.virsh.run(['vol-info', '--pool', this.name, assertSafeName('volume', volume)], { allowFailure: true });
    return r.exitCode === 0;
  }

  async info(path: string): Promise<ImageFileInfo> {
    const out = await this.runner('qemu-img', ['info', '--output=json', '-U', assertSafePath('image', path)]);
    const j = JSON.parse(out.stdout) as {
      format: string;
      'virtual-size': number;
      'full-backing-filename'?: string;
      'backing-filename'?: string;
      'format-specific'?: { data?: { 'data-file'?: string } };
    };
    return {
      format: j.format,
      virtualSizeBytes: j['virtual-size'],
      backingFile: j['full-backing-filename'] ?? j['backing-filename'],
      dataFile: j['format-specific']?.data?.['data-file'],
    };
  }

  /** A qcow2 copy-on-write overlay on `basePath` (at least `sizeGiB` large), or a blank qcow2 without a base. */
  async createDisk(volume: string, sizeGiB: number, basePath?: string): Promise<string> {
    const path = await this.volumePath(volume);
    const args = ['create', '-q', '-f', 'qcow2'];
    let size = sizeGiB * 2 ** 30;
    if (basePath !== undefined) {
      const base = await this.info(basePath);
      args.push('-b', basePath, '-F', base.format);
      size = Math.max(size, base.virtualSizeBytes);
    }
    await this.runner('qemu-img', [...args, path, String(size)]);
    await this.refresh();
    return path;
  }

  /**
   * Copies an image (backing chain flattened) into a new qcow2 volume. `format`: read the source as this format
   * only (no probing), for a file that is not ours.
   */
  async importImage(sourcePath: string, volume: string, format?: string): Promise<string> {
    const path = await this.volumePath(volume);
    if (await this.exists(volume)) throw new Error(`volume ${volume} already exists in pool ${this.name}`);
    const from = format ? ['-f', format] : [];
    try {
      await this.runner('qemu-img', ['convert', '-U', ...from, '-O', 'qcow2', assertSafePath('image', sourcePath), path], {
        timeoutMs: 30 * 60_000,
      });
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    await this.refresh();
    return path;
  }

  /** Removes a volume; a missing one is fine. */
  async deleteVolume(volume: string): Promise<void> {
    const path = await this.volumePath(volume);
    await this.virsh.run(['vol-delete', '--pool', this.name, volume], { allowFailure: true });
    // A file libvirt has not seen yet (no pool-refresh since) is not a volume to vol-delete: remove it directly.
    await rm(path, { force: true });
  }

  /** The pool's volumes: the files in its directory (libvirt 9's vol-list has no --name). */
  async volumes(): Promise<string[]> {
    return (await readdir(await this.path(), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  }
}
