/**
 * AssignPrivateIpAddresses / UnassignPrivateIpAddresses: secondary private addresses of an ENI. The records
 * first (src/services/network/private-ips.ts has AWS's rules), then the data plane: the port of an ENI attached
 * to a running instance is plugged again with its new addresses, so that the switch admits them (anti-spoofing,
 * ARP) and, in a container, the interface carries them at once. AWS leaves configuring a secondary address to the
 * guest; a container's network namespace is ours, so we do it (a VM's guest still configures it itself, as on
 * AWS: its port admits the address). Security groups see the new members' addresses before the call answers.
 */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { addressLimit, checkSecondaryRequest, checkUnassign } from '../../services/network/private-ips.js';
import { sandboxOf } from '../../services/instances/network-steps.js';
import type { EniRow } from '../../db/repositories/enis.js';

/** The account's interface with this id (InvalidNetworkInterfaceID.NotFound otherwise). */
export async function eniOf(ctx: RequestContext, id: string): Promise<EniRow> {
  const [e] = await ctx.services.network.enis.ofAccount(ctx.accountId, [parseId('networkInterface', id)]);
  if (!e) throw notFound('InvalidNetworkInterfaceID', 'network interface ID', [id]);
  return e;
}

/**
 * The ports of these ENIs, plugged again where their instance runs (a plug is idempotent: it sets the port's
 * addresses and flows), then their VPCs' security model. A backend failure is left to the next sync, as elsewhere.
 */
export async function replugEnis(ctx: RequestContext, eniIds: string[]): Promise<void> {
  const network = ctx.services.network;
  if (!network.plugsPorts) return;
  const vpcs = new Set<string>();
  for (const id of eniIds) {
    const eni = await network.enis.get(id);
    if (eni) vpcs.add(eni.vpc_id);
    if (!eni?.instance_id) continue;
    const [inst] = await ctx.services.instances.byIds(eni.account_id.trim(), [eni.instance_id]);
    if (!inst || inst.state !== 'running' || !inst.backend_id) continue; // plugged with its addresses at its next start
    try {
      const port = await network.port(eni);
      const sandbox = await sandboxOf(ctx.services.backends.compute, network, inst.backend_id, port);
      if (sandbox) await network.plug(port, sandbox);
    } catch (e) {
      network.needsSync = true;
      ctx.log('warn', 'network backend could not re-plug an interface with its addresses; will retry', { eniId: id, error: (e as Error).message });
    }
  }
  await network.applySecurity([...vpcs]);
}

/**
 * The interface's source/destination check (ModifyNetworkInterfaceAttribute, ModifyInstanceAttribute,
 * ResetNetworkInterfaceAttribute): the record, then its port where it is plugged, so that its flows admit or stop
 * forwarded traffic at once; otherwise at its next plug.
 */
export async function setSourceDestCheck(ctx: RequestContext, eniId: string, value: boolean): Promise<void> {
  await ctx.services.network.enis.update(eniId, { source_dest_check: value });
  await replugEnis(ctx, [eniId]);
}

export const assignPrivateIpAddresses = defineHandler('AssignPrivateIpAddresses', {
  async validate(input, ctx) {
    const eni = await eniOf(ctx, input.NetworkInterfaceId);
    if (input.Ipv4Prefixes?.length || input.Ipv4PrefixCount) {
      throw new Ec2Error('UnsupportedOperation', 'IPv4 prefixes are not supported.');
    }
    const inst = eni.instance_id ? (await ctx.services.instances.byIds(ctx.accountId, [eni.instance_id]))[0] : undefined;
    const req = { ips: input.PrivateIpAddresses, count: input.SecondaryPrivateIpAddressCount, allowReassignment: input.AllowReassignment ?? false };
    checkSecondaryRequest(req, eni.ips.length, addressLimit(inst?.instance_type));
    return { eni, req };
  },
  async handle(_input, ctx, { eni, req }) {
    const { assigned, movedFrom } = await ctx.services.network.assignIps(eni, req);
    await replugEnis(ctx, [...movedFrom, eni.id]);
    return { NetworkInterfaceId: eni.id, AssignedPrivateIpAddresses: assigned.map((ip) => ({ PrivateIpAddress: ip })) };
  },
});

export const unassignPrivateIpAddresses = defineHandler('UnassignPrivateIpAddresses', {
  async validate(input, ctx) {
    const eni = await eniOf(ctx, input.NetworkInterfaceId);
    if (input.Ipv4Prefixes?.length) {
      throw new Ec2Error('UnsupportedOperation', 'IPv4 prefixes are not supported.');
    }
    return { eni, ips: checkUnassign(eni, input.PrivateIpAddresses) };
  },
  async handle(_input, ctx, { eni, ips }) {
    await ctx.services.network.unassignIps(eni, ips);
    await replugEnis(ctx, [eni.id]);
    return {};
  },
});
