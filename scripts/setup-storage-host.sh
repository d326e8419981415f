#!/usr/bin/env bash
# The storage host: a small QEMU guest that gives this machine (whose kernel has no device-mapper) a real LVM
# host, reached as a remote storage host is: commands over SSH, volumes over NBD. Built from Debian packages only
# (the cloud kernel, busybox, lvm2, thin-provisioning-tools, qemu-nbd, dropbear), booted daemonized under TCG with
# QEMU's user-mode network, SSH and the NBD port range forwarded to 127.0.0.1. On first boot it makes the volume
# group (one PV: a sparse disk image that persists under the state directory) and its thin pool. Idempotent: when
# the guest already runs the current build, it only checks that the volume group answers.
#
#   THECLOUD_STORAGE_HOST_DIR   state: disk image, keys, kernel, initramfs, pidfile, console (/var/lib/thecloud/storage-host)
#   THECLOUD_VG                 volume group name (thecloud-vg)
#   THECLOUD_THIN_POOL          thin pool name inside it (thecloud-pool)
#   THECLOUD_STORAGE_DISK_GIB   size of the sparse disk image on first creation (64)
#   THECLOUD_STORAGE_SSH_PORT   127.0.0.1 port forwarded to the guest's SSH (10022)
#   THECLOUD_STORAGE_NBD_PORTS  127.0.0.1 port range forwarded to the guest's NBD exports, FIRST-LAST (10810-10841)
#   THECLOUD_CACHE_DIR          downloaded .deb files (/var/lib/thecloud/cache)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
source "$here/lib/apt.sh"
source "$here/lib/initramfs.sh"

state="${THECLOUD_STORAGE_HOST_DIR:-/var/lib/thecloud/storage-host}"
vg="${THECLOUD_VG:-thecloud-vg}"
pool="${THECLOUD_THIN_POOL:-thecloud-pool}"
disk_gib="${THECLOUD_STORAGE_DISK_GIB:-64}"
ssh_port="${THECLOUD_STORAGE_SSH_PORT:-10022}"
nbd_ports="${THECLOUD_STORAGE_NBD_PORTS:-10810-10841}"
cache="${THECLOUD_CACHE_DIR:-/var/lib/thecloud/cache}"
say() { echo "setup-storage-host: $*"; }
die() { echo "setup-storage-host: $*" >&2; exit 1; }

[[ "$vg" =~ ^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$ ]] || die "THECLOUD_VG=$vg is not a valid volume group name"
[[ "$pool" =~ ^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$ ]] || die "THECLOUD_THIN_POOL=$pool is not a valid LV name"
[[ "$nbd_ports" =~ ^([0-9]+)-([0-9]+)$ ]] || die "THECLOUD_STORAGE_NBD_PORTS=$nbd_ports is not FIRST-LAST"
nbd_first="${BASH_REMATCH[1]}" nbd_last="${BASH_REMATCH[2]}"

# Host tools: QEMU (the guest), qemu-utils (qemu-nbd for the guest), dropbear (the guest's SSH server, and
# dropbearkey), the OpenSSH client (the server's runner), qemu-system-common's qemu-storage-daemon and FUSE (the
# compute side's NBD client), cpio-free packing by busybox.
packages=(qemu-system-x86 qemu-utils dropbear-bin openssh-client fuse3)
mapfile -t missing < <(not_installed "${packages[@]}")
if ((${#missing[@]})); then apt_install setup-storage-host "${missing[@]}"; fi

mkdir -p "$state" "$cache"
ssh_opts=(-i "$state/id_ed25519" -p "$ssh_port" -o UserKnownHostsFile="$state/known_hosts" -o StrictHostKeyChecking=yes
  -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR -o ControlMaster=auto -o "ControlPath=/tmp/thecloud-ssh/%C" -o ControlPersist=600)
mkdir -p -m 0700 /tmp/thecloud-ssh
guest() { ssh "${ssh_opts[@]}" root@127.0.0.1 "$@"; }

# --- keys: the server's client key, the guest's host key (known_hosts pins it) ---------------------------------------
[[ -f "$state/id_ed25519" ]] || ssh-keygen -q -t ed25519 -N '' -C thecloud-storage -f "$state/id_ed25519"
[[ -f "$state/dropbear_ed25519_host_key" ]] || dropbearkey -t ed25519 -f "$state/dropbear_ed25519_host_key" >/dev/null
hostkey="$(dropbearkey -y -f "$state/dropbear_ed25519_host_key" | awk '/^ssh-ed25519 /{print $1" "$2}')"
echo "[127.0.0.1]:$ssh_port $hostkey" >"$state/known_hosts"

# --- the guest's kernel and initramfs, rebuilt only when an input changes -----------------------------------------------
guest_pkgs=(lvm2 dmsetup libdevmapper1.02.1 libdevmapper-event1.02.1 libaio1 thin-provisioning-tools busybox-static)
debs=("$(fetch_cloud_kernel "$cache")")
for p in "${guest_pkgs[@]}"; do debs+=("$(fetch_deb "$cache" "$p")"); done
inputs="$( (sha256sum "$repo/images/storage-host/"* "${BASH_SOURCE[0]}" "$here/lib/initramfs.sh" | cut -d' ' -f1
  printf '%s\n' "${debs[@]##*/}" "$(dpkg-query -W -f='${Version}' qemu-utils dropbear-bin)" "$(cat "$state/id_ed25519.pub")") | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$state/inputs.sha256" 2>/dev/null)" != "$inputs" || ! -f "$state/initrd.img" || ! -f "$state/vmlinuz" ]]; then
  say "building the guest (kernel + initramfs)"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  x="$work/x"
  for d in "${debs[@]}"; do dpkg-deb -x "$d" "$x"; done
  kver="$(basename "$(ls -d "$x"/lib/modules/*-cloud-amd64)")"
  root="$work/root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root/.ssh,etc/lvm,etc/dropbear,var/log}
  cp "$x/bin/busybox" "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"; done
  ln -sf bin/busybox "$root/init" # busybox init as PID 1 (reaps orphans), reading /etc/inittab
  copy_binary "$root" "$x/sbin/lvm" "$x" /usr/sbin/lvm
  copy_binary "$root" "$x/sbin/dmsetup" "$x" /usr/sbin/dmsetup
  copy_binary "$root" "$x/usr/sbin/pdata_tools" "$x" /usr/sbin/pdata_tools
  for t in thin_check thin_dump thin_repair thin_restore thin_ls; do ln -sf pdata_tools "$root/usr/sbin/$t"; done
  for t in lvs vgs pvs lvcreate lvremove lvrename lvextend lvchange lvconvert vgcreate vgchange pvcreate lvdisplay; do
    ln -sf lvm "$root/usr/sbin/$t"
  done
  copy_binary "$root" /usr/bin/qemu-nbd
  copy_binary "$root" /usr/sbin/dropbear
  install -m 0755 "$repo/images/storage-host/rc" "$root/etc/rc"
  install -m 0644 "$repo/images/storage-host/inittab" "$root/etc/inittab"
  install -m 0644 "$repo/images/storage-host/lvm.conf" "$root/etc/lvm/lvm.conf"
  install -m 0600 "$state/dropbear_ed25519_host_key" "$root/etc/dropbear/dropbear_ed25519_host_key"
  install -m 0600 "$state/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  chmod 0700 "$root/root" "$root/root/.ssh"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  printf '/bin/sh\n' >"$root/etc/shells"
  copy_modules "$x/lib/modules/$kver" "$root" virtio_pci virtio_blk virtio_net dm_mod dm_snapshot dm_thin_pool
  (cd "$root" && find . | LC_ALL=C sort | "$root/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -1n >"$work/initrd.img"
  cp "$x/boot/vmlinuz-$kver" "$work/vmlinuz"
  mv -f "$work/vmlinuz" "$state/vmlinuz"
  mv -f "$work/initrd.img" "$state/initrd.img"
  echo "$inputs" >"$state/inputs.sha256"
  rm -rf "$work"
  trap - EXIT
fi

# --- the guest: running the current build, or (re)started -----------------------------------------------------------
running() {
  local pid
  pid="$(cat "$state/qemu.pid" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && grep -qF "$state/initrd.img" "/proc/$pid/cmdline" 2>/dev/null
}
if running && [[ "$(cat "$state/booted.sha256" 2>/dev/null)" != "$inputs" ]]; then
  say "the guest runs an older build: powering it off"
  pid="$(cat "$state/qemu.pid")"
  guest sync >/dev/null 2>&1 || true
  guest poweroff >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
if ! running; then
  [[ -f "$state/disk.img" ]] || { say "creating the sparse ${disk_gib} GiB disk image"; truncate -s "${disk_gib}G" "$state/disk.img"; }
  fwd="hostfwd=tcp:127.0.0.1:$ssh_port-:22"
  for ((p = nbd_first; p <= nbd_last; p++)); do fwd+=",hostfwd=tcp:127.0.0.1:$p-:$p"; done
  say "booting the guest (SSH on 127.0.0.1:$ssh_port, NBD on 127.0.0.1:$nbd_ports)"
  : >"$state/console.log"
  # QEMU outlives this script: it must not inherit a caller's descriptors (a `flock LOCK setup-host.sh` would
  # otherwise hold the lock for as long as the guest runs). The subshell closes everything above stderr first.
  (
    for fd in /proc/$BASHPID/fd/*; do fd="${fd##*/}"; ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null; done
    exec qemu-system-x86_64 -name thecloud-storage-host -machine pc -accel tcg,thread=multi -smp 2 -m 768 -cpu max -nodefaults \
    -display none -no-user-config \
    -kernel "$state/vmlinuz" -initrd "$state/initrd.img" -append "console=ttyS0 quiet panic=-1" \
    -serial "file:$state/console.log" \
    -drive "file=$state/disk.img,format=raw,if=none,id=vg,cache=writeback,discard=unmap" -device virtio-blk-pci,drive=vg \
    -netdev "user,id=n0,net=10.0.2.0/24,$fwd" -device virtio-net-pci,netdev=n0 \
    -daemonize -pidfile "$state/qemu.pid"
  )
  echo "$inputs" >"$state/booted.sha256"
fi

# --- ready: SSH answers, then the volume group and its thin pool exist -------------------------------------------------
for _ in $(seq 1 240); do
  guest true >/dev/null 2>&1 && break
  running || { tail -n 30 "$state/console.log" >&2; die "the guest exited while booting (console above)"; }
  sleep 0.25
done
guest true || { tail -n 30 "$state/console.log" >&2; die "the guest's SSH does not answer on 127.0.0.1:$ssh_port"; }

if ! guest vgs "$vg" >/dev/null 2>&1; then
  say "creating volume group $vg with thin pool $pool on the guest's disk"
  guest pvcreate -q /dev/vda >/dev/null
  guest vgcreate -q "$vg" /dev/vda >/dev/null
fi
if ! guest lvs "$vg/$pool" >/dev/null 2>&1; then
  # All of the VG but what LVM keeps for the pool's metadata spare; writes fail (not queue) when the pool is full.
  guest lvcreate -q --type thin-pool -l 95%FREE --zero y -n "$pool" "$vg" >/dev/null
  guest lvchange -q --errorwhenfull y "$vg/$pool" >/dev/null
fi
say "volume group $vg (thin pool $pool) answers on the storage host ($(guest vgs --noheadings -o vg_size,vg_free "$vg" | xargs))"
