#!/usr/bin/env bash
# Installs and starts the Docker engine on a machine without systemd (the developers' and CI machines), then
# builds the base image thecloud/busybox:latest. Idempotent and fast when everything is already in place.
#
# Debian's docker.io works as it comes on the machines this was written on (overlay2 on ext4, iptables-nft).
# Where it does not, the daemon's own log says why and this script retries with the usual fixes:
#   - iptables errors (a kernel without nf_tables): switch to iptables-legacy, else run with --iptables=false
#     (the host still reaches instances; they lose NAT to the outside);
#   - storage driver errors (no overlayfs, e.g. on overlay-on-overlay): --storage-driver=vfs.
#
#   DOCKERD_LOG   daemon log (default /var/log/thecloud-dockerd.log)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

DOCKERD_LOG="${DOCKERD_LOG:-/var/log/thecloud-dockerd.log}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export DEBIAN_FRONTEND=noninteractive

command -v dockerd >/dev/null || apt_install setup-docker docker.io

answers() { docker info >/dev/null 2>&1; }

# Waits up to 60 s for the daemon; fails early if the process ($1, when given) has died.
wait_for_daemon() {
  for _ in $(seq 1 120); do
    answers && return 0
    if [[ -n "${1:-}" ]] && ! kill -0 "$1" 2>/dev/null; then return 1; fi
    sleep 0.5
  done
  return 1
}

if answers; then
  echo "setup-docker: Docker is up"
elif pgrep -x dockerd >/dev/null; then
  echo "setup-docker: dockerd is running; waiting for it to answer"
  wait_for_daemon || { echo "setup-docker: dockerd runs but does not answer; see $DOCKERD_LOG" >&2; exit 1; }
else
  flags=()
  for attempt in 1 2 3; do
    echo "setup-docker: starting dockerd ${flags[*]:-}"
    from=$(($(wc -l <"$DOCKERD_LOG" 2>/dev/null || echo 0) + 1))
    # No systemd: a background daemon that outlives this script.
    nohup dockerd "${flags[@]}" >>"$DOCKERD_LOG" 2>&1 &
    pid=$!
    disown
    if wait_for_daemon "$pid"; then break; fi
    kill "$pid" 2>/dev/null || true
    wait_gone=0
    while kill -0 "$pid" 2>/dev/null && ((wait_gone++ < 20)); do sleep 0.5; done
    failure="$(tail -n "+$from" "$DOCKERD_LOG" | grep -iE 'level=(error|fatal)|failed to start daemon' || true)"
    if ((attempt == 3)); then
      echo "setup-docker: dockerd does not start:" >&2
      tail -n "+$from" "$DOCKERD_LOG" | tail -n 20 >&2
      exit 1
    elif grep -qi 'iptables' <<<"$failure"; then
      if [[ "$(readlink -f "$(command -v iptables)")" != *legacy* ]] && iptables-legacy -L -n >/dev/null 2>&1; then
        echo "setup-docker: iptables (nf_tables) fails here; switching to iptables-legacy"
        update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null
        update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null
      else
        echo "setup-docker: iptables does not work here; running dockerd with --iptables=false"
        flags+=(--iptables=false)
      fi
    elif grep -qiE 'overlay|storage.driver|graphdriver' <<<"$failure"; then
      echo "setup-docker: overlay2 does not work here; using the vfs storage driver"
      flags+=(--storage-driver=vfs)
    else
      echo "setup-docker: dockerd does not start:" >&2
      tail -n "+$from" "$DOCKERD_LOG" | tail -n 20 >&2
      exit 1
    fi
  done
fi
echo "setup-docker: $(docker version --format 'Docker {{.Server.Version}} (API {{.Server.APIVersion}})'), storage driver $(docker info --format '{{.Driver}}')"

# Subnet networks whose instances are gone (a server that was killed): free their address ranges. A network
# still in use refuses removal, which is what we want; dockerd must be restarted to clear stale endpoints.
for net in $(docker network ls -q --filter label=thecloud.managed=true); do
  docker network rm "$net" >/dev/null 2>&1 || true
done

exec bash "$here/build-base-image.sh"
