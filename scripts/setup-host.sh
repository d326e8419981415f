#!/usr/bin/env bash
# Prepares this host for every real backend: Docker (with the base image, and a loopback image registry that
# holds it), Open vSwitch, libvirt/QEMU (with the test VM image and a stock Debian cloud image built from Debian's packages), and the storage host for EBS on LVM. Idempotent and non-interactive; run as root. Each step can also run alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# apt needs its package lists once on a fresh machine.
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  apt-get update -qq
fi

bash scripts/setup-docker.sh
bash scripts/setup-lxcfs.sh
bash scripts/setup-registry.sh
bash scripts/setup-ovs.sh
bash scripts/setup-libvirt.sh
bash scripts/build-cloud-image.sh
bash scripts/setup-storage-host.sh
