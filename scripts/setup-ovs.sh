#!/usr/bin/env bash
# Installs Open vSwitch and starts its daemons without systemd. The host kernel may lack the openvswitch
# module, so bridges use the userspace datapath (datapath_type=netdev, with its own conntrack); the adapter sets
# that per bridge. Besides OVS the adapter runs ip (iproute2: veths, the VPC routers' namespaces), nsenter
# (util-linux: into a container's namespace by its pid) and ethtool (checksum offload off on its veths: the
# userspace datapath reads them through AF_PACKET, which leaves offloaded checksums unfilled, and its conntrack
# drops such packets), and iptables (the routers' NAT for internet gateways and Elastic IPs, and the host's
# forwarding and masquerade for their uplinks). After a host reboot OVS starts here empty; the server's network sync rebuilds the rest.
# Idempotent: does nothing that is already done.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"

mapfile -t missing < <(not_installed openvswitch-switch iproute2 util-linux ethtool iptables)
if ((${#missing[@]})); then apt_install setup-ovs "${missing[@]}"; fi

RUN=/var/run/openvswitch
DB=/etc/openvswitch/conf.db
mkdir -p "$RUN" /etc/openvswitch /var/log/openvswitch
[ -f "$DB" ] || ovsdb-tool create "$DB" /usr/share/openvswitch/vswitch.ovsschema

if ! ovs-appctl -t ovsdb-server version >/dev/null 2>&1; then
  ovsdb-server "$DB" --remote=punix:$RUN/db.sock --pidfile --detach --log-file
fi
ovs-vsctl --no-wait init
if ! ovs-appctl -t ovs-vswitchd version >/dev/null 2>&1; then
  ovs-vswitchd --pidfile --detach --log-file
fi
for _ in $(seq 1 50); do
  ovs-vsctl --timeout=2 show >/dev/null 2>&1 && break
  sleep 0.2
done
ovs-vsctl --timeout=5 show >/dev/null
echo "open vswitch: $(ovs-vsctl --version | head -1)"
