/**
 * First boot, the way cloud-init does it on EC2, for any image that has /bin/sh: before a container's first
 * start the adapter writes an init wrapper and the instance's files into a directory of the host, which the
 * container sees as /.thecloud (a bind mount), and makes the wrapper the container's entrypoint (with the image's
 * own entrypoint + command as its arguments).
 *
 * A bind mount rather than a copy into the container's filesystem (Docker's putArchive, ~65 ms of every launch
 * here, on the launch's critical path): the files are written by the server in well under a millisecond, and an
 * image captured from the instance (docker commit leaves bind mounts out) no longer carries the instance's user
 * data and keys. The per-instance files and the "first boot done" marker live in /.thecloud/<instance id>/, as
 * before; an image captured by an older version that still has a /.thecloud of its own gets it covered.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { InstanceSpec } from '../../ports/index.js';

export const INIT_PATH = '/.thecloud/init';

/** Where the installations' directories of first-boot files are (THECLOUD_DOCKER_BOOT_DIR): one per installation id. */
export function bootRootOf(bootDir: string | undefined): string {
  return resolve(bootDir ?? '/var/lib/thecloud/docker-boot');
}

/** Runs as root on every start. Output goes to the container log, which is the console output. */
const INIT_SCRIPT = `# The Cloud init wrapper (src/adapters/docker/boot.ts), run by Docker on every start of this container.
set -u
dir=/.thecloud/__INSTANCE_ID__
say() { echo "thecloud-init: $*"; }

# Per-instance SSH host keys, as cloud-init makes them: keys baked into a captured image must not be shared.
host_keys() {
  if command -v dropbearkey >/dev/null 2>&1; then
    mkdir -p /etc/dropbear
    rm -f /etc/dropbear/dropbear_*_host_key
    for t in ed25519 ecdsa; do
      f=/etc/dropbear/dropbear_"$t"_host_key
      dropbearkey -t "$t" -f "$f" >/dev/null 2>&1 &&
        say "SSH host key $t $(dropbearkey -y -f "$f" | sed -n 's/^Fingerprint: //p')"
    done
  fi
  if command -v ssh-keygen >/dev/null 2>&1 && [ -d /etc/ssh ]; then
    rm -f /etc/ssh/ssh_host_*
    ssh-keygen -A >/dev/null 2>&1 && say "OpenSSH host keys generated"
  fi
}

add_keys() { # home uid:gid
  [ -d "$1" ] || return 0
  mkdir -p "$1/.ssh" && cat "$dir/authorized_keys" >>"$1/.ssh/authorized_keys" &&
    chmod 700 "$1/.ssh" && chmod 600 "$1/.ssh/authorized_keys" && chown "$2" "$1/.ssh" "$1/.ssh/authorized_keys" &&
    say "public keys installed in $1/.ssh/authorized_keys"
}

# The key pair's public keys, for root and for the image's login user (the usual cloud image user names).
install_keys() {
  [ -s "$dir/authorized_keys" ] || return 0
  add_keys /root 0:0
  for u in ec2-user ubuntu admin debian fedora centos alpine cloud-user; do
    line=$(grep "^$u:" /etc/passwd 2>/dev/null) || continue
    IFS=: read -r _ _ uid gid _ home _ <<EOF
$line
EOF
    [ "$home" != / ] && add_keys "$home" "$uid:$gid"
  done
}

start_sshd() {
  if command -v dropbear >/dev/null 2>&1; then
    mkdir -p /etc/dropbear
    # -R creates a missing host key on first use (an image with dropbear but without dropbearkey).
    if dropbear -R -p 22; then say "dropbear SSH server started"; else say "dropbear failed to start"; fi
  elif [ -x /usr/sbin/sshd ]; then
    mkdir -p /run/sshd
    if /usr/sbin/sshd; then say "OpenSSH server started"; else say "sshd failed to start"; fi
  fi
}

# A container started with no network is plugged from the host (its netns is new at every start): wait, bounded,
# for the default route that the plug adds last, so that the first-boot script and the image's command have it.
has_default_route() {
  while read -r _ dest _; do [ "$dest" = 00000000 ] && return 0; done </proc/net/route 2>/dev/null
  return 1
}
wait_network() {
  [ -e "$dir/network-by-host" ] || return 0
  i=0
  while [ "$i" -lt 300 ]; do
    if has_default_route; then say "network is up"; return 0; fi
    sleep 0.1 2>/dev/null || sleep 1
    i=$((i + 1))
  done
  say "network not plugged after 30 s; going on without it"
}

# A script with a #! line runs under its interpreter, anything else under /bin/sh.
run_script() {
  [ -f "$dir/user-script" ] || return 0
  say "running the first-boot script"
  first=
  read -r first <"$dir/user-script" || true
  case "$first" in
    '#!'*) (cd / && "$dir/user-script" </dev/null) ;;
    *) (cd / && /bin/sh "$dir/user-script" </dev/null) ;;
  esac
  say "first-boot script exited with status $?"
}

say "instance starting"

if [ ! -e "$dir/boot-done" ]; then
  # Marked before anything runs: the script runs once even if this first boot is cut short.
  : >"$dir/boot-done"
  wait_network
  host_keys
  install_keys
  start_sshd
  run_script
else
  wait_network
  start_sshd
fi

if [ "$#" -gt 0 ]; then exec "$@"; fi
say "the image has no command; idling"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
`;

/** The files the container sees under /.thecloud, by path relative to it (directories end with `/`). */
export function bootFiles(spec: InstanceSpec): { name: string; mode: number; content?: string }[] {
  const dir = `${spec.instanceId}/`;
  const entries: { name: string; mode: number; content?: string }[] = [
    { name: 'init', mode: 0o700, content: INIT_SCRIPT.replace('__INSTANCE_ID__', spec.instanceId) },
    { name: dir, mode: 0o700 },
    { name: dir + 'instance-id', mode: 0o644, content: spec.instanceId + '\n' },
  ];
  if (spec.firstBootScript !== undefined) {
    entries.push({ name: dir + 'user-script', mode: 0o700, content: spec.firstBootScript });
  }
  if (spec.nics?.length) entries.push({ name: dir + 'network-by-host', mode: 0o644, content: '' });
  if (spec.publicKeys.length) {
    entries.push({ name: dir + 'authorized_keys', mode: 0o600, content: spec.publicKeys.map((k) => k.trim() + '\n').join('') });
  }
  return entries;
}

/**
 * Writes the boot files into `dir` (the host side of /.thecloud), made afresh: whatever a crash left there
 * (a half-made launch) is replaced. Owner-only modes: the user data and keys are the instance's.
 */
export async function writeBootDir(dir: string, spec: InstanceSpec): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  // Once more if the installation's directory went between the two levels (its last instance's destroy).
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch(() => mkdir(dir, { recursive: true, mode: 0o700 }));
  for (const f of bootFiles(spec)) {
    const path = join(dir, f.name);
    if (f.name.endsWith('/')) await mkdir(path, { mode: f.mode });
    else await writeFile(path, f.content ?? '', { mode: f.mode });
  }
}
