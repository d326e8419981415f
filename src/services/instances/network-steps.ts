/**
 * The instance's network steps (see steps.ts): its primary ENI (a record owning the private address, made with
 * the instance record by RunInstances) and the plug of that ENI into the sandbox the compute backend made, at
 * every boot. The network backend owns the port (src/ports/network.ts); the compute backend only says where
 * to plug: a container's netns (compute.sandbox, new at every start), or a VM's tap named by vmInterface.
 */
import type { ComputeBackend, NicSpec, PortSpec, Sandbox } from '../../ports/index.js';
import type { NetworkService } from '../network/index.js';
import type { InstanceStep } from './steps.js';

/** The ENI record with the instance's address; a resumed launch (or one recorded before ENIs) makes it here. */
export const eniStep: InstanceStep = {
  name: 'eni',
  phase: 'launch',
  async do({ row, network }) {
    const eni = await network.enis.get(row.eni_id);
    if (eni?.ips.includes(row.private_ip)) return;
    const subnet = await network.subnet(row.account_id.trim(), row.subnet_id);
    if (!subnet) throw new Error(`subnet ${row.subnet_id} of ${row.id} is gone`);
    const owned = await network.ipsOf(row.eni_id);
    if (!eni || !owned.includes(row.private_ip)) {
      await network.enis.insert({
        id: row.eni_id, account_id: row.account_id.trim(), vpc_id: row.vpc_id, subnet_id: row.subnet_id, availability_zone: row.availability_zone,
        mac_address: row.mac_address, security_group_ids: row.security_group_ids, instance_id: row.id, device_index: 0,
        attachment_id: `eni-attach-${row.eni_id.slice(4)}`,
      });
      if (!owned.includes(row.private_ip)) await network.allocateIp(subnet, row.eni_id, row.private_ip);
    }
    await network.applySecurity([row.vpc_id]);
  },
  async undo({ row, network }) {
    // Every interface as its attachment says: deleted, or detached and available again (as on AWS).
    const vpcs = await network.releaseInterfaces(row.id);
    // Addresses of a record made before ENIs owned them.
    await network.releaseIps(row.id);
    await network.applySecurity([row.vpc_id, ...vpcs]);
  },
};

/** Where the ENI is plugged for this instance's current run (undefined: the container does not run). */
export async function sandboxOf(compute: ComputeBackend, network: Pick<NetworkService, 'vmInterface'>, backendId: string, port: PortSpec): Promise<Sandbox | undefined> {
  if (compute.sandbox) return compute.sandbox(backendId);
  return { kind: 'ovs-port', name: network.vmInterface(port).portName };
}

/** A port as the compute backend's NIC (a VM's `<interface>` as vmInterface says). */
export function nicOf(network: Pick<NetworkService, 'vmInterface'>, port: PortSpec): NicSpec {
  return { eniId: port.eniId, deviceIndex: port.deviceIndex, mac: port.mac, ips: port.ips, subnetCidr: port.subnetCidr, gateway: port.gateway, vm: network.vmInterface(port) };
}

/** Every ENI attached to the instance as a NIC, in device index order. */
export async function nicsOf(network: NetworkService, instanceId: string): Promise<NicSpec[]> {
  const enis = (await network.enis.ofInstance(instanceId)).filter((e) => e.device_index !== null);
  const nics = await Promise.all(enis.map(async (e) => nicOf(network, await network.port(e))));
  return nics.sort((a, b) => a.deviceIndex - b.deviceIndex);
}

/**
 * A VM's domain given exactly the NICs of its attached ENIs (compute.setNics), before it starts: an interface
 * attached or detached while it was stopped, or a crash between an attachment's record and the domain's change.
 * Not beside the start (the `power` step calls it first): a definition changed while the domain starts may
 * not reach the running guest.
 */
export async function syncVmNics(compute: ComputeBackend, network: NetworkService, instanceId: string, backendId: string): Promise<void> {
  if (compute.sandbox || !compute.setNics || !network.plugsPorts) return;
  await compute.setNics(backendId, await nicsOf(network, instanceId));
}

/**
 * The instance's interfaces' group membership given to the data plane, and a container's ports made ahead,
 * alongside `power` (see InstanceStep.alongsideNext): the pairs, the switch ports and their flows, while Docker
 * starts the container, so that `plug` only moves them in. A VM's tap is libvirt's:
 * nothing to do (its NICs are made to match the ENIs by `power`, before the start: syncVmNics). Undone as `plug`
 * is (unplug is idempotent): a stop or failure between the two leaves nothing.
 */
export const PORT_STEP = 'port';
export const portStep: InstanceStep = {
  name: PORT_STEP,
  phase: 'boot',
  alongsideNext: true,
  async do({ row, compute, network }) {
    const enis = await network.enis.ofInstance(row.id);
    // Its interfaces' membership in their groups (a launch's new ENIs; at a start, unchanged): source-group rules
    // of the other ports admit its addresses before it runs. Beside the start, off the launch's critical path.
    await network.applySecurity([row.vpc_id, ...enis.map((e) => e.vpc_id)]);
    if (!compute.sandbox) return;
    for (const eni of enis) await network.prepare(await network.port(eni));
  },
  async undo(ctx) {
    await plugStep.undo(ctx);
  },
};

/**
 * Every attached ENI plugged into the running instance (after `power`): the primary one first, then the others,
 * each as eth<device index> in a container, or as its own tap (one NIC per ENI) of a VM. Unplugged before it stops.
 */
export const PLUG_STEP = 'plug';
export const plugStep: InstanceStep = {
  name: PLUG_STEP,
  phase: 'boot',
  async do({ row, compute, network }) {
    if (!row.backend_id) throw new Error(`instance ${row.id} has no backend object to plug`);
    const backendId = row.backend_id;
    // Right after the start, on the launch's critical path: the attached ENIs in one read, their ports at once.
    const enis = await network.enis.ofInstance(row.id);
    const primaryEni = enis.find((e) => e.id === row.eni_id) ?? (await network.enis.get(row.eni_id));
    if (!primaryEni) throw new Error(`ENI ${row.eni_id} of ${row.id} is gone`);
    const others = enis.filter((e) => e.id !== row.eni_id);
    const [port, ...otherPorts] = await Promise.all([primaryEni, ...others].map((e) => network.port(e)));
    const sandbox = await sandboxOf(compute, network, backendId, port!);
    if (!sandbox) throw new Error(`instance ${row.id} has no network namespace to plug into (not running)`);
    await network.plug(port!, sandbox);
    // The other interfaces (RunInstances' NetworkInterfaces, AttachNetworkInterface).
    for (const p of otherPorts) await network.plug(p, (await sandboxOf(compute, network, backendId, p))!);
  },
  async undo({ row, network }) {
    for (const other of await network.enis.ofInstance(row.id)) if (other.id !== row.eni_id) await network.unplug(other.id);
    await network.unplug(row.eni_id);
  },
};

/** A public IPv4 address of the pool while the instance runs, when its primary ENI asks for one (released at stop). */
export const publicIpStep: InstanceStep = {
  name: 'public-ip',
  phase: 'boot',
  // Needs neither the port nor the running object: given while the object starts (AWS shows it while pending).
  alongsideNext: true,
  async do({ row, network }) {
    await network.addresses.assignPublicIp(row.eni_id);
  },
  async undo({ row, network }) {
    await network.addresses.releasePublicIp(row.eni_id);
  },
};
