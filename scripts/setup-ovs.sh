#!/usr/bin/env bash
# Installs Open vSwitch and starts its daemons without systemd. The host kernel may lack the openvswitch
# module, so bridges use the userspace datapath (datapath_type=netdev); the adapter sets that per bridge.
# Idempotent: does nothing that is already done.
set -euo pipefail

if ! command -v ovs-vsctl >/dev/null || ! command -v ovs-vswitchd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q openvswitch-switch >/dev/null
fi

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
