/**
 * HostFiles: how the image policy learns what a host path really is before anything is read from it.
 */
export interface HostPath {
  /** The path with every symbolic link and `..` resolved (realpath) */
  real: string;
  kind: 'file' | 'directory' | 'other';
  /**
   * Where the data really lives, seen through bind mounts: the mounted filesystem (its major:minor device)
   * and the path inside that filesystem. Two paths that show the same files (a bind mount and its source)
   * have the same device and filesystem path.
   */
  device: string;
  fsPath: string;
}

export interface HostFiles {
  /** The resolved path, or undefined when there is nothing at that path (or it cannot be reached). */
  resolve(path: string): Promise<HostPath | undefined>;
}
