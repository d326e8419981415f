#!/usr/bin/env bash
# Builds the local base image thecloud/busybox:latest offline (no registry needed): a rootfs made of Debian's
# statically linked busybox plus the dropbear SSH server, fed to `docker import`.
#
# The image has /bin/sh and the busybox applets, root and the login user ec2-user (/home/ec2-user), /tmp, and
# /usr/sbin/dropbear with the shared libraries it needs. Host keys are not baked in: the Docker adapter's init
# wrapper creates them at an instance's first boot and starts dropbear (src/adapters/docker/boot.ts).
#
# Skips the build when the image exists and carries the hash of this script and of the package versions.
#
#   THECLOUD_BASE_IMAGE   image to build (default thecloud/busybox:latest)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

IMAGE="${THECLOUD_BASE_IMAGE:-thecloud/busybox:latest}"
export DEBIAN_FRONTEND=noninteractive

# busybox-static replaces (conflicts with) Debian's dynamic busybox; nothing on these hosts needs the latter.
packages=(busybox-static dropbear-bin)
mapfile -t missing < <(not_installed "${packages[@]}")
if ((${#missing[@]})); then apt_install build-base-image "${missing[@]}"; fi

# Inputs: this script and the exact package versions. Anything else that changes the image must live here.
inputs="$( { cat "${BASH_SOURCE[0]}"; dpkg-query -W "${packages[@]}"; } | sha256sum | cut -c1-32)"
current="$(docker image inspect -f '{{ index .Config.Labels "thecloud.build-inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [[ "$current" == "$inputs" ]]; then
  echo "build-base-image: $IMAGE is up to date"
  exit 0
fi

root="$(mktemp -d /tmp/thecloud-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "build-base-image: building $IMAGE in $root"

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/dropbear,root/.ssh,home/ec2-user/.ssh,tmp,var/tmp,var/log,run,proc,sys,dev}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root" "$root/root/.ssh" "$root/home/ec2-user/.ssh"

# busybox and one symlink per applet, at the paths busybox itself reports (bin/sh, usr/bin/wget, ...).
install -m 755 /bin/busybox "$root/bin/busybox"
while read -r applet; do
  [[ -e "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done < <(/bin/busybox --list-full)

# dropbear and dropbearkey, with every shared library (and the loader) that ldd lists, at the same paths.
install -m 755 /usr/sbin/dropbear "$root/usr/sbin/dropbear"
install -m 755 /usr/bin/dropbearkey "$root/usr/bin/dropbearkey"
# (One ldd call per binary: with several, ldd prints "path:" headers.)
for lib in $( { ldd /usr/sbin/dropbear; ldd /usr/bin/dropbearkey; } | grep -o '/[^ ]*' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

# Accounts. The '*' password locks password login but keeps public-key login (dropbear accepts it).
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
ec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/sh
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
tty:x:5:
wheel:x:10:root,ec2-user
nogroup:x:65534:
ec2-user:x:1000:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
ec2-user:*:19000:0:99999:7:::
EOF
chmod 600 "$root/etc/shadow"
printf '/bin/sh\n/bin/ash\n' >"$root/etc/shells"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
printf 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n' >"$root/etc/profile"
cat >"$root/etc/os-release" <<'EOF'
NAME="The Cloud busybox"
ID=thecloud-busybox
PRETTY_NAME="The Cloud busybox (Debian busybox-static + dropbear)"
EOF
chown -R 1000:1000 "$root/home/ec2-user"
chmod 755 "$root/home/ec2-user"

# The default command only keeps the container alive; it exits on SIGTERM so that `docker stop` is quick
# even when it runs as PID 1 (which ignores signals it has no handler for).
idle='trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done'
tar --numeric-owner -C "$root" -c . | docker import \
  --change "CMD [\"/bin/sh\", \"-c\", \"${idle//\"/\\\"}\"]" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "LABEL thecloud.build-inputs=$inputs" \
  - "$IMAGE" >/dev/null
echo "build-base-image: built $IMAGE ($(docker image inspect -f '{{ .Size }}' "$IMAGE") bytes)"
