/**
 * HostFiles on this machine: realpath for symbolic links and `..`, /proc/self/mountinfo for bind mounts (each
 * mount says which filesystem it shows and from which directory of it, so a path can be named by its device
 * and its path inside that filesystem, whichever mount it was reached through).
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { HostFiles, HostPath } from '../../ports/host-files.js';

export interface Mount {
  device: string;
  /** The directory of the filesystem that is mounted (`/` unless a bind mount of a subdirectory) */
  root: string;
  mountPoint: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountInfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super-options
    const f = line.split(' ');
    if (f.length < 5 || !/^\d+:\d+$/.test(f[2]!)) continue;
    mounts.push({ device: f[2]!, root: unescape(f[3]!), mountPoint: unescape(f[4]!) });
  }
  return mounts;
}

const within = (path: string, dir: string): boolean => dir === '/' || path === dir || path.startsWith(dir + '/');

/**
 * The device and filesystem path of a resolved path: the mount whose mount point is the longest prefix of
 * it (the last one mounted there, when several are stacked) carries it.
 */
export function locate(real: string, mounts: Mount[]): { device: string; fsPath: string } {
  let best: Mount | undefined;
  for (const m of mounts) {
    if (!within(real, m.mountPoint)) continue;
    if (!best || m.mountPoint.length >= best.mountPoint.length) best = m;
  }
  if (!best) return { device: '?', fsPath: real };
  const rest = best.mountPoint === '/' ? real : real.slice(best.mountPoint.length);
  const fsPath = posix.join(best.root, rest || '/');
  return { device: best.device, fsPath: fsPath.length > 1 ? fsPath.replace(/\/+$/, '') : fsPath };
}

export class LocalHostFiles implements HostFiles {
  constructor(private readonly mountInfoPath = '/proc/self/mountinfo') {}

  async resolve(path: string): Promise<HostPath | undefined> {
    let real: string;
    try {
      real = await realpath(path);
    } catch {
      return undefined;
    }
    const st = await stat(real).catch(() => undefined);
    if (!st) return undefined;
    const mounts = parseMountInfo(await readFile(this.mountInfoPath, 'utf8').catch(() => ''));
    const kind = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
    return { real, kind, ...locate(real, mounts) };
  }
}
