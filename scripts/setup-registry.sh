#!/usr/bin/env bash
# Runs a local image registry (Debian's docker-registry, the CNCF distribution server) on loopback and puts the
# base image in it, so that pulling an AMI's image on first use can be exercised on a machine that reaches no
# public registry. Docker trusts plain-HTTP registries on 127.0.0.0/8 by default, so nothing else is needed.
# Idempotent: an answering registry is left alone. Needs Docker up (scripts/setup-docker.sh).
#
#   THECLOUD_REGISTRY       host:port to listen on (default 127.0.0.1:5000; loopback only)
#   THECLOUD_REGISTRY_DIR   storage and config (default /var/lib/thecloud/registry)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

ADDR="${THECLOUD_REGISTRY:-127.0.0.1:5000}"
DIR="${THECLOUD_REGISTRY_DIR:-/var/lib/thecloud/registry}"
LOG="$DIR/registry.log"
BASE="${THECLOUD_BASE_IMAGE:-thecloud/busybox:latest}"
export DEBIAN_FRONTEND=noninteractive

if [[ ! "$ADDR" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]]; then
  echo "setup-registry: THECLOUD_REGISTRY must be a loopback host:port, got '$ADDR'" >&2
  exit 1
fi

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then apt_install setup-registry "${missing[@]}"; fi

answers() { curl -fsS -o /dev/null "http://$ADDR/v2/" 2>/dev/null; }

if answers; then
  echo "setup-registry: registry is up on $ADDR"
else
  mkdir -p "$DIR/data"
  # Debian's default config wants htpasswd auth and listens on every address; ours: no auth, loopback only.
  cat >"$DIR/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
EOF
  echo "setup-registry: starting docker-registry on $ADDR"
  nohup docker-registry serve "$DIR/config.yml" >>"$LOG" 2>&1 &
  pid=$!
  disown
  for _ in $(seq 1 60); do
    answers && break
    kill -0 "$pid" 2>/dev/null || { echo "setup-registry: docker-registry exited:" >&2; tail -n 20 "$LOG" >&2; exit 1; }
    sleep 0.5
  done
  answers || { echo "setup-registry: docker-registry does not answer on $ADDR; see $LOG" >&2; exit 1; }
fi

# The base image, under the registry's name: what the tests pull (after removing their local copy).
remote="$ADDR/${BASE}"
docker tag "$BASE" "$remote"
docker push -q "$remote" >/dev/null
echo "setup-registry: $remote pushed"
