/**
 * The image policy: what an account may name in RegisterImage. The operator decides (src/config: host
 * directories, Docker image patterns, an admin account); the cloud's own files are never importable whatever
 * the configuration says. Every decision is taken before the backend reads a file or pulls an image: the
 * location is parsed by the backend (text only), host paths are resolved (symbolic links, `..`, bind mounts),
 * and only then checked.
 */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { Ec2Error, invalidParameterValue } from '../../errors/index.js';
import type { ImagePolicyConfig } from '../../config/index.js';
import type { ComputeBackend, HostFiles, HostPath, ImageSource } from '../../ports/index.js';

/**
 * Never importable, on any host and whatever the backend: the kernel's and the system's own trees, host
 * configuration and secrets, and where this project's backends keep their state (Docker, containerd, libvirt,
 * Open vSwitch, PostgreSQL, the storage pool, console logs and the loopback registry scripts/ set up).
 */
export const PROTECTED_DIRS = [
  '/proc', '/sys', '/dev', '/run', '/etc', '/root', '/var/log',
  '/var/lib/docker', '/var/lib/containerd', '/var/lib/libvirt', '/var/lib/openvswitch', '/var/lib/postgresql',
  '/var/lib/thecloud/pool', '/var/lib/thecloud/console', '/var/lib/thecloud/registry',
];

/** The project's own directory (its code, dependencies and the default data directory). */
const APP_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const within = (path: string, dir: string): boolean => dir === '/' || path === dir || path.startsWith(dir.replace(/\/+$/, '') + '/');

/** A Docker image pattern as a regular expression: `*` within a path component, `**` across; a bare registry is all of it. */
export function dockerPattern(pattern: string): RegExp {
  const full = pattern.includes('/') ? pattern : `${pattern}/**`;
  const escape = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  const body = full.toLowerCase().split('**').map((part) => part.split('*').map(escape).join('[^/]*')).join('.*');
  return new RegExp(`^${body}$`);
}

export interface ImagePolicyDeps {
  config: ImagePolicyConfig;
  /** The server's data directory (embedded PostgreSQL and anything else it keeps) */
  dataDir: string;
  compute: ComputeBackend;
  files: HostFiles;
}

type Protected = { dir: string; resolved?: HostPath };

export class ImagePolicy {
  private readonly patterns: RegExp[];

  constructor(private readonly deps: ImagePolicyDeps) {
    this.patterns = deps.config.dockerImages.map(dockerPattern);
  }

  /** The location to hand to the backend's inspectImage once the account may register it; else AWS's error. */
  async admit(accountId: string, location: string): Promise<string> {
    let source: ImageSource;
    try {
      source = this.deps.compute.parseImageLocation(location);
    } catch (e) {
      throw invalidParameterValue('ImageLocation', location, (e as Error).message);
    }
    const admin = accountId === this.deps.config.adminAccountId;
    switch (source.kind) {
      case 'virtual':
        return source.location;
      case 'backend-image':
        throw new Ec2Error(
          'AuthFailure',
          `Not authorized for image location ${location}: it names an image or volume this cloud keeps for an account; images are shared with ModifyImageAttribute launch permissions.`,
          400,
        );
      case 'host-image':
        if (admin) return source.location;
        throw invalidParameterValue('ImageLocation', location, 'Name a Docker image by repository and tag or digest, not by image id.');
      case 'registry':
        if (admin || this.patterns.some((p) => p.test(source.name.toLowerCase()))) return source.location;
        throw invalidParameterValue('ImageLocation', location, this.deps.config.dockerImages.length
          ? `Docker images may be registered only from: ${this.deps.config.dockerImages.join(', ')}.`
          : 'This cloud does not allow registering Docker images.');
      case 'host-path':
        return this.admitPath(source, admin, location);
    }
  }

  private async admitPath(source: Extract<ImageSource, { kind: 'host-path' }>, admin: boolean, location: string): Promise<string> {
    const allowed = this.deps.config.directories.map((d) => resolve(d));
    const outside = () => invalidParameterValue('ImageLocation', location, allowed.length
      ? `Images may be registered only from the operator's image directories: ${allowed.join(', ')}.`
      : 'This cloud does not allow registering host files.');
    const ours = () => invalidParameterValue('ImageLocation', location,
      "Its files are never importable: the host's system files and secrets, this cloud's data, storage pool and console logs, and the backends' state.");

    // First the path as written, `..` resolved: nothing outside the allowed directories is even looked at.
    const lexical = resolve(source.path);
    if (!admin && !allowed.some((d) => within(lexical, d))) throw outside();
    const protectedDirs = await this.protectedDirs();
    if (protectedDirs.some((p) => within(lexical, p.dir))) throw ours();

    // Then what it really is: symbolic links followed, bind mounts seen through.
    const allowedReal = await Promise.all(allowed.map(async (d) => (await this.deps.files.resolve(d))?.real ?? d));
    const check = (t: HostPath) => {
      for (const p of protectedDirs) {
        if (within(t.real, p.dir)) throw ours();
        const r = p.resolved;
        if (r && (within(t.real, r.real) || (r.device !== '?' && r.device === t.device && within(t.fsPath, r.fsPath)))) throw ours();
      }
      if (!admin && !allowedReal.some((d) => within(t.real, d))) throw outside();
    };
    const target = await this.deps.files.resolve(lexical);
    if (!target) throw invalidParameterValue('ImageLocation', location, 'There is no such file or directory.');
    check(target);
    if (target.kind === 'other') throw invalidParameterValue('ImageLocation', location, 'It is neither a disk image file nor a kernel image directory.');
    if (source.directoryOnly && target.kind !== 'directory') {
      throw invalidParameterValue('ImageLocation', location, 'kernel:<dir> names a directory holding vmlinuz and initrd.img.');
    }
    if (target.kind === 'directory') {
      for (const name of source.directoryFiles) {
        const file = await this.deps.files.resolve(join(target.real, name));
        if (file) check(file);
      }
    }
    return target.real;
  }

  /** The protected directories, with what each resolves to on this host (when it exists). */
  private async protectedDirs(): Promise<Protected[]> {
    const dirs = [...PROTECTED_DIRS, resolve(this.deps.dataDir), APP_ROOT.replace(/\/+$/, ''), ...(await this.deps.compute.ownDirectories())];
    return Promise.all([...new Set(dirs)].map(async (dir) => ({ dir, resolved: await this.deps.files.resolve(dir) })));
  }
}
