#!/usr/bin/env bash
# Installs lxcfs and starts it without systemd: a FUSE filesystem at /var/lib/lxcfs whose proc/meminfo,
# proc/cpuinfo, proc/uptime, proc/stat, proc/loadavg ... answer for the cgroup of the process that reads them.
# The Docker adapter bind-mounts those files over a container's own /proc entries when they are there, so a
# container sees its instance type's memory and vCPUs and its own uptime (nproc follows the cpuset it is given).
# Idempotent: does nothing that is already done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

mapfile -t missing < <(not_installed lxcfs)
if ((${#missing[@]})); then apt_install setup-lxcfs "${missing[@]}"; fi

DIR=/var/lib/lxcfs
# A dead mount (lxcfs killed) answers ENOTCONN to everything, mkdir included: unmount it first.
if ! [ -r "$DIR/proc/meminfo" ] && grep -q " $DIR fuse" /proc/mounts; then
  fusermount -u "$DIR" 2>/dev/null || umount -l "$DIR"
fi
mkdir -p "$DIR"
if ! mountpoint -q "$DIR" || ! [ -r "$DIR/proc/meminfo" ]; then
  # It stays in the foreground: started in its own session, detached from this script. -l: loadavg per
  # container too; --enable-cfs: cpuinfo follows the CPU quota (NanoCpus).
  setsid lxcfs -l --enable-cfs -p /run/lxcfs.pid "$DIR" </dev/null >>/var/log/lxcfs.log 2>&1 &
  for _ in $(seq 1 50); do
    [ -r "$DIR/proc/meminfo" ] && break
    sleep 0.1
  done
fi
[ -r "$DIR/proc/meminfo" ] || { echo "lxcfs did not come up at $DIR" >&2; exit 1; }
echo "lxcfs: $(lxcfs --version 2>&1 | head -1) at $DIR"
