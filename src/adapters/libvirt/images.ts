import { createHash } from 'node:crypto';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { assertSafeName } from '../exec/index.js';
import type { BackendImageInfo, ImageSource } from '../../ports/compute.js';
import { assertSafePath, formatImageRef, parseImageRef, type ImageRef } from './imageref.js';
import { ROOT_VOLUME_SUFFIX, type StoragePool } from './pool.js';
import type { BootParams } from './templates.js';

/** The guest's serial port is also the kernel console; tty0 (VNC) gets the kernel messages too. */
export const BASE_CMDLINE = 'console=tty0 console=ttyS0,115200n8 panic=-1';

/**
 * The files of a kernel image directory that are read. Optional: cmdline (appended to the kernel command line),
 * root.qcow2 (the root disk's content, imported into the pool as the image's base volume) and datasource
 * ("ec2": the guest reads the metadata service, as a stock cloud image does, and gets no NoCloud seed).
 */
const KERNEL_FILES = ['vmlinuz', 'initrd.img', 'cmdline', 'root.qcow2', 'datasource'] as const;

/** The one datasource value a kernel image directory may name besides the default (NoCloud seed). */
const EC2_DATASOURCE = 'ec2';

/**
 * Formats a user's disk image may have. Others can name further files (a VMDK's extents); a qcow2 can too,
 * through a backing file or an external data file, and is refused when it does: the copy would read those
 * files, which the image policy never checked.
 */
const IMPORTABLE_FORMATS = ['raw', 'qcow2'];

async function userImageFormat(pool: StoragePool, path: string): Promise<string> {
  const info = await pool.info(path);
  if (!IMPORTABLE_FORMATS.includes(info.format)) throw new Error(`${path} is a ${info.format} image; import raw or qcow2 images`);
  if (info.backingFile) throw new Error(`${path} has a backing file; import a standalone image (qemu-img convert flattens one)`);
  if (info.dataFile) throw new Error(`${path} keeps its data in an external file; import a standalone image`);
  return info.format;
}

/** Base volumes made by captureImage. */
const capturedVolume = (imageId: string): string => `img-${assertSafeName('image', imageId)}.qcow2`;

/**
 * Images of the libvirt adapter (see imageref.ts for their references): kernel+initrd directories, which stay
 * where they are, and qcow2 base volumes in the storage pool, imported from a user's file or captured from an
 * instance's root disk.
 */
export class ImageStore {
  constructor(
    private readonly pool: StoragePool,
    /** Size of the blank root disk of a kernel image without a base volume */
    private readonly rootDiskGiB: number,
  ) {}

  /** How a domain boots this image; checks that a kernel image's files are there. */
  async bootParams(image: ImageRef): Promise<BootParams> {
    if (image.kind === 'disk') return { kind: 'disk' };
    const kernel = join(image.dir, 'vmlinuz');
    const initrd = join(image.dir, 'initrd.img');
    for (const f of [kernel, initrd]) {
      if (!(await stat(f).catch(() => undefined))?.isFile()) throw new Error(`kernel image ${image.dir} has no ${f}`);
    }
    const extra = (await readFile(join(image.dir, 'cmdline'), 'utf8').catch(() => '')).trim();
    const datasource = (await readFile(join(image.dir, 'datasource'), 'utf8').catch(() => '')).trim();
    if (datasource !== '' && datasource !== EC2_DATASOURCE) throw new Error(`kernel image ${image.dir}: unknown datasource ${JSON.stringify(datasource)} (only "${EC2_DATASOURCE}")`);
    return { kind: 'kernel', kernel, initrd, cmdline: extra ? `${BASE_CMDLINE} ${extra}` : BASE_CMDLINE, seed: datasource !== EC2_DATASOURCE };
  }

  async baseVolumePath(volume: string): Promise<string> {
    if (!(await this.pool.exists(volume))) throw new Error(`base image volume ${volume} is not in storage pool ${this.pool.name}`);
    return this.pool.volumePath(volume);
  }

  /**
   * Accepts an imageRef (kernel:..., disk:...), a directory holding vmlinuz + initrd.img (a kernel image), or the
   * path of a disk image file (qcow2, raw ...), which is copied into the pool as a qcow2 base volume. Importing
   * the same file again (same path, size and mtime) reuses the earlier copy.
   */
  async inspect(location: string): Promise<BackendImageInfo> {
    if (/^(kernel|disk):/.test(location)) return this.describe(parseImageRef(location));
    const path = assertSafePath('image', location.replace(/\/+$/, ''));
    const st = await stat(path);
    if (st.isDirectory()) return this.inspectKernelDir(path);
    if (!st.isFile()) throw new Error(`${path} is neither an image file nor a kernel image directory`);
    const digest = createHash('sha256').update(`${path}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 20);
    const volume = `import-${digest}.qcow2`;
    if (!(await this.pool.exists(volume))) await this.pool.importImage(path, volume, await userImageFormat(this.pool, path));
    return { ...(await this.describe({ kind: 'disk', baseVolume: volume })), copy: true };
  }

  /**
   * A kernel image directory; one with a root.qcow2 (a whole system, scripts/build-cloud-image.sh) has it
   * imported into the pool, as a disk image file would be, and its instances' root disks start from it.
   */
  private async inspectKernelDir(dir: string): Promise<BackendImageInfo> {
    const root = join(dir, 'root.qcow2');
    const st = await stat(root).catch(() => undefined);
    if (st === undefined) return this.describe({ kind: 'kernel', dir });
    if (!st.isFile()) throw new Error(`${root} is not a file`);
    const digest = createHash('sha256').update(`${root}\0${st.size}\0${st.mtimeMs}`).digest('hex').slice(0, 20);
    const volume = `import-${digest}.qcow2`;
    if (!(await this.pool.exists(volume))) await this.pool.importImage(root, volume, await userImageFormat(this.pool, root));
    return { ...(await this.describe({ kind: 'kernel', dir, baseVolume: volume })), copy: true };
  }

  /** What a RegisterImage location names (see ImageSource): a host path, or a reference to the pool's own volumes. */
  parseLocation(location: string): ImageSource {
    if (/^disk:/.test(location) || /^kernel:[^:]*:/.test(location)) return { kind: 'backend-image', location };
    const kernel = /^kernel:(.*)$/.exec(location);
    const path = kernel ? kernel[1]! : location;
    if (!path.startsWith('/') || path.includes('\0')) {
      throw new TypeError(`not a libvirt image location (an absolute path of a disk image file or kernel directory, or kernel:<dir>): ${JSON.stringify(location)}`);
    }
    return { kind: 'host-path', path, directoryFiles: [...KERNEL_FILES], directoryOnly: kernel !== null };
  }

  /**
   * Copies a (stopped) instance's root disk, its backing chain flattened, into a new base volume. The new image
   * boots the way the instance's image did: a kernel image's instance gives kernel:<dir>:<volume>.
   */
  async capture(rootVolume: string, instanceImageRef: string, imageId: string): Promise<BackendImageInfo> {
    const source = parseImageRef(instanceImageRef);
    const volume = capturedVolume(imageId);
    await this.pool.importImage(await this.pool.volumePath(rootVolume), volume);
    return this.describe(source.kind === 'kernel' ? { kind: 'kernel', dir: source.dir, baseVolume: volume } : { kind: 'disk', baseVolume: volume });
  }

  /**
   * Removes the image's base volume (a kernel image's directory is not ours: it stays). A base that an
   * instance's root disk still builds on cannot go, as that disk would break: this throws instead.
   */
  async delete(ref: string): Promise<void> {
    const image = parseImageRef(ref);
    if (image.baseVolume === undefined) return;
    const basePath = await this.pool.volumePath(image.baseVolume);
    for (const vol of await this.pool.volumes()) {
      if (!vol.endsWith(ROOT_VOLUME_SUFFIX)) continue;
      const info = await this.pool.info(await this.pool.volumePath(vol)).catch(() => undefined);
      if (info?.backingFile === basePath) {
        throw new Error(`image ${ref} is the base of ${vol.slice(0, -ROOT_VOLUME_SUFFIX.length)}'s root disk; destroy that instance first`);
      }
    }
    await this.pool.deleteVolume(image.baseVolume);
  }

  async describe(image: ImageRef): Promise<BackendImageInfo> {
    let sizeBytes = this.rootDiskGiB * 2 ** 30;
    if (image.kind === 'kernel') {
      await this.bootParams(image); // both files are there
      const header = Buffer.alloc(0x206);
      const fh = await open(join(image.dir, 'vmlinuz'), 'r');
      try {
        await fh.read(header, 0, header.length, 0);
      } finally {
        await fh.close();
      }
      // x86 boot protocol kernels carry "HdrS" at 0x202; the domain template only emulates x86_64.
      if (header.toString('latin1', 0x202, 0x206) !== 'HdrS') throw new Error(`${image.dir}/vmlinuz is not an x86 kernel`);
    }
    if (image.baseVolume !== undefined) {
      const info = await this.pool.info(await this.baseVolumePath(image.baseVolume));
      sizeBytes = Math.max(sizeBytes, info.virtualSizeBytes);
    }
    // Disk images are taken to be x86_64, for the same reason.
    return { ref: formatImageRef(image), architecture: 'x86_64', sizeGiB: Math.max(1, Math.ceil(sizeBytes / 2 ** 30)) };
  }
}
