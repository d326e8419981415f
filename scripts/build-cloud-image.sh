#!/usr/bin/env bash
# Builds a stock Debian 12 cloud image from Debian's packages (no image download): cloud-init, the cloud kernel,
# systemd, OpenSSH and ifupdown, with cloud-init reading the EC2 datasource only (datasource_list [ Ec2, None ]),
# as an image made for AWS has it. Nothing of The Cloud is inside: the guest finds the instance metadata service
# the way it would on EC2 (the domain's SMBIOS says "Amazon EC2"; see templates/domain.xml).
#
# Output, a kernel image directory the libvirt adapter boots (RegisterImage ImageLocation=<that directory>):
#   $THECLOUD_IMAGE_DIR/<name>/vmlinuz, initrd.img   the image's own kernel and initramfs (direct kernel boot)
#   $THECLOUD_IMAGE_DIR/<name>/root.qcow2            its root filesystem, ext4 on the whole disk (/dev/vda)
#   $THECLOUD_IMAGE_DIR/<name>/cmdline               root=/dev/vda ...
#   $THECLOUD_IMAGE_DIR/<name>/datasource            "ec2": the guest needs no NoCloud seed
# Nothing is rebuilt when this script is unchanged (delete inputs.sha256 to force a rebuild with newer packages).
#
#   THECLOUD_IMAGE_DIR         where images go (default /var/lib/thecloud/images)
#   THECLOUD_CLOUD_IMAGE_NAME  the image's directory name (default debian-12-cloud)
#   THECLOUD_CLOUD_IMAGE_SUITE Debian suite (default bookworm)
#   THECLOUD_CLOUD_IMAGE_GIB   size of the root filesystem (default 2; the instance's root disk is at least this)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib/apt.sh"
image_dir="${THECLOUD_IMAGE_DIR:-/var/lib/thecloud/images}"
name="${THECLOUD_CLOUD_IMAGE_NAME:-debian-12-cloud}"
suite="${THECLOUD_CLOUD_IMAGE_SUITE:-bookworm}"
gib="${THECLOUD_CLOUD_IMAGE_GIB:-2}"
out="$image_dir/$name"

inputs="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)-$suite-$gib"
if [[ -f "$out/inputs.sha256" && "$(cat "$out/inputs.sha256")" == "$inputs" ]]; then
  echo "build-cloud-image: $out is up to date"
  exit 0
fi

mapfile -t missing < <(not_installed mmdebstrap e2fsprogs qemu-utils)
if ((${#missing[@]})); then apt_install build-cloud-image "${missing[@]}"; fi

# What Debian's genericcloud image has that matters here: cloud-init (+ growpart from cloud-guest-utils), the
# cloud kernel and initramfs-tools, systemd as init with udev, ifupdown + the ISC DHCP client (cloud-init 22.4
# renders /etc/network/interfaces.d and uses dhclient), OpenSSH, sudo for the default user.
packages=(
  cloud-init cloud-guest-utils linux-image-cloud-amd64 initramfs-tools systemd-sysv udev dbus
  openssh-server ifupdown isc-dhcp-client iproute2 netbase sudo e2fsprogs procps less ca-certificates
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
start=$(date +%s)
# A stock image's configuration, as Debian's cloud images (debian-cloud-images) set it:
#   - cloud-init's datasources: only EC2 (the image is made for AWS), None as the fallback;
#   - no hostname and an empty machine-id: each instance gets its own at first boot;
#   - the root filesystem found by label; a serial console (the kernel command line says ttyS0).
mmdebstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  --customize-hook='echo "datasource_list: [ Ec2, None ]" > "$1/etc/cloud/cloud.cfg.d/01_datasource.cfg"' \
  --customize-hook='rm -f "$1/etc/hostname"; : > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"' \
  --customize-hook='echo "LABEL=debian-root / ext4 rw,discard,errors=remount-ro,x-systemd.growfs 0 1" > "$1/etc/fstab"' \
  --customize-hook='printf "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n" > "$1/etc/network/interfaces"' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='chroot "$1" apt-get clean; rm -rf "$1"/var/lib/apt/lists/*' \
  "$suite" "$root"

kernel="$(cd "$root/boot" && ls vmlinuz-* | sort -V | tail -n 1)"
initrd="initrd.img-${kernel#vmlinuz-}"
[[ -f "$root/boot/$initrd" ]] || { echo "build-cloud-image: no $initrd in the image" >&2; exit 1; }
cp "$root/boot/$kernel" "$work/vmlinuz"
cp "$root/boot/$initrd" "$work/initrd.img"

# The root filesystem made from the tree, without mounting anything (no loop device): mke2fs -d.
truncate -s "${gib}G" "$work/root.raw"
mke2fs -q -t ext4 -L debian-root -d "$root" "$work/root.raw"
qemu-img convert -O qcow2 "$work/root.raw" "$work/root.qcow2"
rm -f "$work/root.raw"

mkdir -p "$out"
echo "root=LABEL=debian-root ro" >"$work/cmdline"
echo "ec2" >"$work/datasource"
for f in vmlinuz initrd.img root.qcow2 cmdline datasource; do
  chmod 0644 "$work/$f"
  mv -f "$work/$f" "$out/$f"
done
printf '%s\n' "${kernel#vmlinuz-}" >"$out/kernel-version"
printf '%s\n' "$inputs" >"$out/inputs.sha256"
echo "build-cloud-image: built $out in $(( $(date +%s) - start )) s (kernel ${kernel#vmlinuz-}, root.qcow2 $(du -h "$out/root.qcow2" | cut -f1) on disk)"
