import { assertSafeName } from '../exec/index.js';

/**
 * The libvirt adapter's imageRef (what InstanceSpec.imageRef and BackendImageInfo.ref hold):
 *
 *   kernel:<dir>            direct kernel boot of <dir>/vmlinuz and <dir>/initrd.img (plus <dir>/cmdline, when
 *                           present, appended to the kernel command line); the root disk starts blank.
 *                           e.g. kernel:/var/lib/thecloud/images/thecloud-test (built by scripts/build-vm-image.sh)
 *   kernel:<dir>:<volume>   the same kernel, with the root disk a copy-on-write overlay of <volume>, a qcow2 base
 *                           volume in the adapter's storage pool (what captureImage makes of a kernel instance)
 *   disk:<volume>           boots from its disk: the root disk is an overlay of the pool volume <volume>
 *                           (a user's qcow2 imported by inspectImage, or captured by captureImage)
 *
 * <dir> is an absolute path of letters, digits and _ . + - (no "..", no ':'), <volume> a safe name
 * (see assertSafeName). Both reach libvirt XML and host commands, hence the strict grammar.
 */
export type ImageRef = { kind: 'kernel'; dir: string; baseVolume?: string } | { kind: 'disk'; baseVolume: string };

const SAFE_PATH = /^(\/[A-Za-z0-9_.+-]+)+$/;

export function assertSafePath(kind: string, path: string): string {
  if (!SAFE_PATH.test(path) || path.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw new TypeError(`unsafe ${kind} path: ${JSON.stringify(path)}`);
  }
  return path;
}

export function parseImageRef(ref: string): ImageRef {
  const disk = /^disk:([^:]+)$/.exec(ref);
  if (disk) return { kind: 'disk', baseVolume: assertSafeName('volume', disk[1]!) };
  const kernel = /^kernel:([^:]+)(?::([^:]+))?$/.exec(ref);
  if (kernel) {
    const dir = assertSafePath('image directory', kernel[1]!.replace(/\/+$/, ''));
    return kernel[2] === undefined ? { kind: 'kernel', dir } : { kind: 'kernel', dir, baseVolume: assertSafeName('volume', kernel[2]) };
  }
  throw new TypeError(`not a libvirt image reference (kernel:<dir>[:<volume>] or disk:<volume>): ${JSON.stringify(ref)}`);
}

export function formatImageRef(ref: ImageRef): string {
  if (ref.kind === 'disk') return `disk:${ref.baseVolume}`;
  return ref.baseVolume === undefined ? `kernel:${ref.dir}` : `kernel:${ref.dir}:${ref.baseVolume}`;
}
