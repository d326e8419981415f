/**
 * A container that sees its instance type, not the host: a cpuset of exactly its vCPUs (so `nproc` and the
 * scheduler's affinity say them), and, when lxcfs runs on the host (scripts/setup-lxcfs.sh), its /proc/meminfo,
 * cpuinfo, uptime, stat, loadavg, diskstats, swaps and /sys/devices/system/cpu/online bind-mounted from lxcfs, which
 * answers each read for the cgroup of the reader: the type's memory and vCPUs, the container's own uptime. A type
 * change (resize) changes the cgroup limits and the cpuset; lxcfs follows by itself.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';

export const LXCFS_DIR = '/var/lib/lxcfs';
const LXCFS_FILES = [
  'proc/meminfo', 'proc/cpuinfo', 'proc/uptime', 'proc/stat', 'proc/loadavg', 'proc/diskstats', 'proc/swaps',
  'sys/devices/system/cpu/online',
];

/**
 * `vcpus` consecutive host CPUs (wrapping), starting at a place derived from `seed` (the instance id), so that
 * instances spread over the host's CPUs and an instance keeps its CPUs across a restart. All of them when it asks
 * for as many as the host has or more.
 */
export function cpusetFor(seed: string, vcpus: number, hostCpus: number): string {
  const n = Math.max(1, Math.min(vcpus, hostCpus));
  const start = createHash('sha256').update(seed).digest().readUInt32BE(0) % hostCpus;
  const cpus = Array.from({ length: n }, (_, i) => (start + i) % hostCpus).sort((a, b) => a - b);
  return cpus.join(',');
}

/** The bind mounts of lxcfs's files over the container's, when lxcfs is mounted here; none otherwise. */
export function lxcfsBinds(dir = LXCFS_DIR): string[] {
  if (!existsSync(`${dir}/proc/meminfo`)) return [];
  return LXCFS_FILES.filter((f) => existsSync(`${dir}/${f}`)).map((f) => `${dir}/${f}:/${f}:ro`);
}
