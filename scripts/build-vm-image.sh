#!/usr/bin/env bash
# Builds The Cloud's small test VM image, offline but for one apt download: Debian's cloud kernel and a busybox
# initramfs whose /init (images/vm/init) plays cloud-init's part (NoCloud seed, ssh keys, #! user data once,
# ACPI power button). Output: $THECLOUD_IMAGE_DIR/<name>/{vmlinuz,initrd.img}, which the libvirt adapter boots
# as imageRef "kernel:<that directory>". Nothing is rebuilt when the inputs (package versions, init script,
# this script) are unchanged.
#
#   THECLOUD_IMAGE_DIR   where images go (default /var/lib/thecloud/images)
#   THECLOUD_IMAGE_NAME  the image's directory name (default thecloud-test)
#   THECLOUD_CACHE_DIR   downloaded .deb files (default /var/lib/thecloud/cache)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
image_dir="${THECLOUD_IMAGE_DIR:-/var/lib/thecloud/images}"
name="${THECLOUD_IMAGE_NAME:-thecloud-test}"
cache="${THECLOUD_CACHE_DIR:-/var/lib/thecloud/cache}"
out="$image_dir/$name"
init_src="$repo/images/vm/init"

# Modules /init loads; their dependencies are added below, in load order. The seed is an ISO on an IDE CD-ROM
# (ata_piix + sr_mod + isofs), as cloud images expect; vfat is there for seeds made as FAT disks.
modules=(virtio_pci virtio_blk virtio_net virtio_rng ata_piix sr_mod isofs vfat nls_cp437 nls_ascii nls_utf8 button evdev)

# Rebuild only when what we put in changes: the init script, this script (module list included). The .deb files
# are downloaded once and kept in the cache, so a rebuild (and this check) needs no network.
inputs="$(sha256sum "$init_src" "${BASH_SOURCE[0]}" | cut -d' ' -f1 | sha256sum | cut -d' ' -f1)"
if [[ -f "$out/inputs.sha256" && "$(cat "$out/inputs.sha256")" == "$inputs" && -f "$out/vmlinuz" && -f "$out/initrd.img" ]]; then
  echo "build-vm-image: $out is up to date"
  exit 0
fi

cached_deb() { compgen -G "$cache/$1_*_amd64.deb" | sort -V | tail -n 1 || true; }
download() { # apt-get download writes into the current directory; as root it warns that _apt cannot, harmlessly.
  echo "build-vm-image: downloading $1"
  (cd "$cache" && apt-get download -q "$1" 2>&1 | grep -v 'unsandboxed' || true)
}
mkdir -p "$cache"
kernel_deb="$(cached_deb 'linux-image-*-cloud-amd64')"
if [[ -z "$kernel_deb" ]]; then
  # The kernel package the "cloud" metapackage points at today, e.g. linux-image-6.1.0-56-cloud-amd64.
  kernel_pkg="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}')"
  [[ -n "$kernel_pkg" ]] || { echo "build-vm-image: apt knows no linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
  download "$kernel_pkg"
  kernel_deb="$(cached_deb "$kernel_pkg")"
fi
busybox_deb="$(cached_deb busybox-static)"
if [[ -z "$busybox_deb" ]]; then
  download busybox-static
  busybox_deb="$(cached_deb busybox-static)"
fi
[[ -f "$kernel_deb" && -f "$busybox_deb" ]] || { echo "build-vm-image: could not download the kernel or busybox-static" >&2; exit 1; }
kernel_pkg="$(dpkg-deb -f "$kernel_deb" Package)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
kver="${kernel_pkg#linux-image-}"
moddir="$work/kernel/lib/modules/$kver"
[[ -d "$moddir" ]] || { echo "build-vm-image: no modules for $kver in $kernel_deb" >&2; exit 1; }

# --- the initramfs tree --------------------------------------------------------------------------------------
root="$work/root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,root,seed,data,lib/modules,etc}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"
done
install -m 0755 "$init_src" "$root/init"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"

# Module dependencies come from each module's own .modinfo "depends=" field (no modules.dep in the package,
# no kmod needed). Names use '_' where file names may use '-'; a depth-first walk gives a valid load order.
declare -A ko_path=() loaded=()
while IFS= read -r f; do
  base="$(basename "$f")"
  base="${base%.ko}"
  ko_path["${base//-/_}"]="$f"
done < <(find "$moddir" -name '*.ko')
order=()
add_module() {
  local m="${1//-/_}" dep deps
  [[ -n "${loaded[$m]:-}" ]] && return 0
  loaded[$m]=1
  if [[ -z "${ko_path[$m]:-}" ]]; then
    # Built into the kernel (modules.builtin lists it) is fine; otherwise the kernel lacks it.
    if grep -q "/${m//_/[-_]}\.ko$" "$moddir/modules.builtin"; then return 0; fi
    echo "build-vm-image: kernel $kver has no module $m" >&2
    exit 1
  fi
  deps="$(tr '\0' '\n' <"${ko_path[$m]}" | sed -n 's/^depends=//p' | head -n 1)"
  for dep in ${deps//,/ }; do add_module "$dep"; done
  cp "${ko_path[$m]}" "$root/lib/modules/$m.ko"
  order+=("$m")
}
for m in "${modules[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" >"$root/lib/modules/load.order"

# --- output ---------------------------------------------------------------------------------------------------
mkdir -p "$out"
(cd "$root" && find . | LC_ALL=C sort | "$root/bin/busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$work/initrd.img"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/vmlinuz"
# Replace atomically-ish: the adapter may be booting the previous build.
mv -f "$work/vmlinuz" "$out/vmlinuz"
mv -f "$work/initrd.img" "$out/initrd.img"
chmod 0644 "$out/vmlinuz" "$out/initrd.img"
printf '%s\n' "$kver" >"$out/kernel-version"
printf '%s\n' "$inputs" >"$out/inputs.sha256"
echo "build-vm-image: built $out (kernel $kver, modules: ${order[*]})"
