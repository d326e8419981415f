#!/usr/bin/env bash
# Installs and starts libvirt + QEMU on a machine without systemd (the developers' and CI machines),
# then builds the small test VM image. Idempotent and fast when everything is already in place.
#
#   LIBVIRT_URI   libvirt connection to wait for (default qemu:///system)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

LIBVIRT_URI="${LIBVIRT_URI:-qemu:///system}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive

# Packages: the daemon and virsh, the emulator, qemu-img, and the NoCloud seed ISO tool. (The test image's
# initramfs is packed by the busybox it contains, so no cpio here.)
packages=(libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils genisoimage)
mapfile -t missing < <(not_installed "${packages[@]}")
if ((${#missing[@]})); then apt_install setup-libvirt "${missing[@]}"; fi

# Without udev nobody gives /dev/kvm its usual group (kvm, 0660, which libvirt-qemu belongs to). libvirt then
# sees KVM as usable by root but not by QEMU, takes its cached QEMU capabilities for stale, and probes QEMU
# again on every domain start (~3 s each). Doing what udev would do keeps starts at ~1 s. Whether domains use
# kvm at all is decided by the adapter's probe (CPU flags), not by this.
if [[ -c /dev/kvm ]] && getent group kvm >/dev/null && [[ "$(stat -c %G /dev/kvm)" != kvm ]]; then
  chgrp kvm /dev/kvm
  chmod 0660 /dev/kvm
fi

# No systemd here: start the daemons ourselves. pgrep -x matches the exact process name only.
if ! pgrep -x virtlogd >/dev/null; then
  echo "setup-libvirt: starting virtlogd"
  virtlogd -d
fi
if ! pgrep -x libvirtd >/dev/null; then
  echo "setup-libvirt: starting libvirtd"
  libvirtd -d
fi

for _ in $(seq 1 60); do
  if virsh -c "$LIBVIRT_URI" version >/dev/null 2>&1; then break; fi
  sleep 0.5
done
virsh -c "$LIBVIRT_URI" version >/dev/null || { echo "setup-libvirt: libvirtd does not answer on $LIBVIRT_URI" >&2; exit 1; }
echo "setup-libvirt: libvirt is up on $LIBVIRT_URI"

exec bash "$here/build-vm-image.sh"
