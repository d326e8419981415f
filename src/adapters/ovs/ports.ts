/**
 * Plugging an ENI into a sandbox.
 * - A container (a network namespace, found from its pid): a veth pair made with its far end already inside
 *   the namespace (named eth<device index>, so no half-plugged name ever appears there), given the ENI's MAC and
 *   addresses, a default route via the subnet gateway for device 0; besides, each device N has its own routing
 *   table 10000+N (its subnet, a default route via its gateway), chosen by a rule per address it holds, so that
 *   what is sent from an interface's address leaves by that interface (with several interfaces the main table
 *   would send an answer to another subnet out of the interface on that subnet, with a source address the
 *   switch refuses there), as Amazon Linux's ec2-net-utils sets up; the near end `tcv…` joins the VPC's bridge
 *   with external_ids naming the ENI. A re-plug (the container started again: a new namespace) finds the old
 *   pair gone with the old namespace, or not facing this namespace, and makes it anew.
 * - A VM: libvirt adds the tap `tct…` to the bridge when the domain starts (see vmInterface); plug waits for it
 *   and marks it with external_ids, so its flows can be written.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PortSpec } from '../../ports/index.js';
import { EXT, type Host, type OvsInterface } from './host.js';
import { bridgeName, containerPeer, containerVeth, ifalias, insideName, interfaceUuid, prefixOf, vmTap } from './names.js';

function portIds(cloud: string, port: PortSpec, kind: 'container' | 'vm', zone: number): string[] {
  return [
    `external_ids:${EXT.cloud}=${cloud}`, `external_ids:${EXT.vpc}=${port.vpcId}`, `external_ids:${EXT.kind}=${kind}`,
    `external_ids:${EXT.eni}=${port.eniId}`, `external_ids:${EXT.subnet}=${port.subnetId}`, `external_ids:${EXT.zone}=${zone}`,
  ];
}

/**
 * A container port made before its container runs (while Docker creates and starts it): the veth pair with both
 * ends on the host (the far end `tcp…` with the ENI's MAC, checksum offload off on both), the near end on the
 * VPC's bridge with the ENI's external_ids. Everything that does not need the container's namespace, so that
 * once it runs, moveIntoSandbox only moves the far end in and gives it its addresses. A pair already prepared
 * for this ENI is kept; anything else of that name (a pair facing an old namespace) is made anew.
 * `onOvs`: OVS has a port of that name already.
 */
export async function prepareContainer(host: Host, cloud: string, port: PortSpec, zone: number, onOvs: boolean): Promise<void> {
  const outside = containerVeth(cloud, port.eniId);
  const peer = containerPeer(cloud, port.eniId);
  const make = () =>
    host.ipBatch([
      ['link', 'add', outside, 'type', 'veth', 'peer', 'name', peer],
      ['link', 'set', outside, 'alias', ifalias(cloud, port.eniId)],
      ['link', 'set', peer, 'address', port.mac],
      ['link', 'set', outside, 'up'],
    ]);
  // The common case, nothing of this port on the switch: made at once. `link add` fails when a link of either
  // name is there (a pair a kill left before its switch port): then it is made anew below.
  let made = !onOvs && (await make().then(() => true, () => false));
  if (!made) {
    // On the switch already (its last step): a whole prepared pair, kept if it still faces itself.
    const [out, far] = await Promise.all([host.link(outside), host.link(peer)]);
    const ready = onOvs && !!out && !!far && out.link === peer && far.link === outside && far.address === port.mac;
    if (!ready) {
      if (onOvs) await host.vsctl(['--if-exists', 'del-port', outside]);
      if (out) await host.ip(['link', 'del', outside], { allowFailure: true });
      if (far) await host.ip(['link', 'del', peer], { allowFailure: true });
      await make();
      made = true;
    }
  }
  // Offload off on the far end here: a device's features go with it into the namespace.
  if (made) await Promise.all([host.noTxOffload(outside), host.noTxOffload(peer)]);
  await host.vsctl(['--may-exist', 'add-port', bridgeName(cloud, port.vpcId), outside, '--', 'set', 'Interface', outside, ...portIds(cloud, port, 'container', zone)]);
}

/**
 * The far end of a prepared port (prepareContainer) moved into the container's namespace under its final name in
 * one netlink request (no half-named interface ever appears there), then addressed and brought up inside. Two
 * commands. False (nothing changed) when there is no prepared far end on the host to move (never prepared, or
 * removed meanwhile): plugContainer does the whole plug then.
 */
export async function moveIntoSandbox(host: Host, cloud: string, port: PortSpec, pid: number): Promise<boolean> {
  const peer = containerPeer(cloud, port.eniId);
  const inside = insideName(port.deviceIndex);
  const moved = await host.ip(['link', 'set', 'dev', peer, 'netns', String(pid), 'name', inside], { allowFailure: true });
  if (moved.exitCode !== 0) return false;
  await host.ipBatch(insideLines(port, inside, []), { pid });
  return true;
}

/**
 * The commands inside the namespace: loopback, MAC, addresses (those `held` that the ENI no longer has go), up,
 * the device's own routing table with a rule for each address it gains (none for one it lost), then the default
 * route.
 */
function insideLines(port: PortSpec, inside: string, held: string[]): string[][] {
  const len = prefixOf(port.subnetCidr);
  const wanted = new Set(port.ips.map((ip) => `${ip}/${len}`));
  const stale = held.filter((a) => !wanted.has(a));
  const table = String(10000 + port.deviceIndex);
  return [
    ['link', 'set', 'lo', 'up'],
    ['link', 'set', inside, 'address', port.mac],
    ...stale.map((a) => ['addr', 'del', a, 'dev', inside]),
    ...port.ips.map((ip) => ['addr', 'replace', `${ip}/${len}`, 'dev', inside]),
    ['link', 'set', inside, 'up'],
    ...stale.map((a) => ['rule', 'del', 'from', a.split('/')[0]!, 'lookup', table]),
    ...port.ips.filter((ip) => !held.includes(`${ip}/${len}`)).map((ip) => ['rule', 'add', 'from', ip, 'lookup', table, 'priority', table]),
    ['route', 'replace', port.subnetCidr, 'dev', inside, 'src', port.ips[0]!, 'table', table],
    ['route', 'replace', 'default', 'via', port.gateway, 'dev', inside, 'table', table],
    // Last: the instance's init waits for its default route as the sign that the network is there.
    ...(port.deviceIndex === 0 ? [['route', 'replace', 'default', 'via', port.gateway, 'dev', inside]] : []),
  ];
}

/** `onOvs`: OVS has a port of that name already (then a new veth first drops it). */
export async function plugContainer(host: Host, cloud: string, port: PortSpec, pid: number, zone: number, onOvs: boolean): Promise<void> {
  const outside = containerVeth(cloud, port.eniId);
  const inside = insideName(port.deviceIndex);
  const where = { pid };
  const out = await host.link(outside);
  const inn = out ? await host.link(inside, where) : undefined;
  const fresh = !out || !inn || out.linkIndex !== inn.ifindex || inn.linkIndex !== out.ifindex;
  if (fresh) {
    // The old port (its device went with the old namespace) goes first, in its own transaction: a port whose
    // device vanished and came back under its name is not reopened by the userspace datapath.
    if (onOvs) await host.vsctl(['--if-exists', 'del-port', outside]);
    if (out) await host.ip(['link', 'del', outside], { allowFailure: true });
    if (inn) throw new Error(`the sandbox of ${port.eniId} (pid ${pid}) already has an ${inside} that is not this port's`);
    // Made with its far end inside already: a failure here leaves at most our named veth, which sync removes.
    await host.ipBatch([
      ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside, 'netns', String(pid)],
      ['link', 'set', outside, 'alias', ifalias(cloud, port.eniId)],
      ['link', 'set', outside, 'up'],
    ]);
  }
  // Two independent chains run at once: inside the namespace (checksum offload off before the link comes up,
  // then MAC, addresses, up, route) and on the host (offload off, then the OVS port). Both are awaited before
  // anything is concluded, so a failure never leaves the other half running beside an undo.
  // Addresses the ENI no longer has (UnassignPrivateIpAddresses, a reassignment) leave the interface; the primary
  // one (first, so the kernel's primary too) never does, so no secondary is lost with it.
  const inNamespace = async () => {
    if (fresh) await host.noTxOffload(inside, where);
    await host.ipBatch(insideLines(port, inside, fresh ? [] : await host.addresses(inside, where)), where);
  };
  const onHost = async () => {
    if (fresh) await host.noTxOffload(outside);
    await host.vsctl(['--may-exist', 'add-port', bridgeName(cloud, port.vpcId), outside, '--', 'set', 'Interface', outside, ...portIds(cloud, port, 'container', zone)]);
  };
  const failed = (await Promise.allSettled([inNamespace(), onHost()])).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Waits (bounded) for libvirt's tap on the bridge, then marks it as this ENI's port. */
export async function plugVm(host: Host, cloud: string, port: PortSpec, name: string, zone: number, waitMs = 15_000): Promise<void> {
  const expected = vmTap(cloud, port.eniId);
  const interfaceId = interfaceUuid(cloud, port.eniId);
  if (name !== expected) throw new TypeError(`the tap of ${port.eniId} is ${expected}, not ${JSON.stringify(name)}`);
  const br = bridgeName(cloud, port.vpcId);
  const deadline = Date.now() + waitMs;
  let found: OvsInterface | undefined;
  for (;;) {
    const onBridge = await host.vsctl(['port-to-br', name], { allowFailure: true });
    if (onBridge.exitCode !== 0 && (await host.links()).some((l) => l.name === name)) {
      // The tap exists but is on no bridge: OVS lost it (restarted empty, bridge rebuilt) while the VM ran.
      // Add it back as libvirt does.
      await host.vsctl(['--may-exist', 'add-port', br, name, '--', 'set', 'Interface', name, `external_ids:iface-id=${interfaceId}`, `external_ids:attached-mac=${port.mac}`, 'external_ids:iface-status=active']);
      continue;
    }
    if (onBridge.exitCode === 0) {
      if (onBridge.stdout.trim() !== br) throw new Error(`the tap ${name} of ${port.eniId} is on bridge ${onBridge.stdout.trim()}, not ${br}`);
      found = (await host.interfaces()).find((i) => i.name === name && i.ofport !== undefined);
      if (found) break;
    }
    if (Date.now() > deadline) throw new Error(`the tap ${name} of ${port.eniId} did not appear on ${br} within ${waitMs} ms (is the VM running?)`);
    await sleep(200);
  }
  await host.vsctl(['set', 'Interface', name, ...portIds(cloud, port, 'vm', zone)]);
}

/** Removes a port: the OVS port and, for a container, the veth (its peer goes with it). */
export async function unplugPort(host: Host, name: string, kind: 'container' | 'vm'): Promise<void> {
  if (kind === 'vm') {
    // libvirt owns the tap and its port: only our marks go (its traffic is dropped without them).
    await host.vsctl(['--if-exists', 'remove', 'Interface', name, 'external_ids', EXT.cloud, EXT.vpc, EXT.kind, EXT.eni, EXT.subnet, EXT.zone], { allowFailure: true });
    return;
  }
  await host.vsctl(['--if-exists', 'del-port', name]);
  await host.ip(['link', 'del', name], { allowFailure: true });
}
