/**
 * AttachNetworkInterface / DetachNetworkInterface: a second (third...) interface of an instance. The record
 * first, then, when the instance runs, the port plugged: into a container's sandbox as eth<device index>, or into
 * a VM as a NIC hot-plugged into its domain (syncVmNics) whose tap the network backend then programs; a stopped
 * instance gets it at its next start (the power step gives a VM's domain its NICs, the plug step plugs every ENI).
 * The records change under the instance's row lock (services/network/attachments.ts); the port changes run in the
 * instance's queue, in turn with its start, stop and termination work.
 */
import { defineHandler } from '../../server/registry.js';
import { parseId } from '../../ids/index.js';
import { sandboxOf, syncVmNics } from '../../services/instances/network-steps.js';

export const attachNetworkInterface = defineHandler('AttachNetworkInterface', {
  // The rules are services/network/attachments.ts's, run here on the records as they are and again, under the
  // instance's lock, where the attachment is written.
  async validate(input, ctx) {
    const req = { networkInterfaceId: parseId('networkInterface', input.NetworkInterfaceId), instanceId: parseId('instance', input.InstanceId), deviceIndex: input.DeviceIndex };
    await ctx.services.network.attachments.checkAttach(ctx.accountId, req);
    return req;
  },
  async handle(_input, ctx, req) {
    const { attachmentId, eni, instanceId } = await ctx.services.network.attachments.attach(ctx.accountId, req);
    const network = ctx.services.network;
    // The port in the instance's queue: a stop or termination recorded meanwhile is done first (and the port is
    // then plugged at the next start, or never), or after (and its unplug takes this port too).
    if (network.plugsPorts) {
      await ctx.services.instances.exclusive(instanceId, async () => {
        const [inst] = await ctx.services.instances.byIds(ctx.accountId, [instanceId]);
        if (inst?.state !== 'running' || !inst.backend_id) return;
        const compute = ctx.services.backends.compute;
        const port = await network.port((await network.enis.get(eni.id))!);
        try {
          // A VM: the NIC hot-plugged first (its tap then joins the bridge), then programmed like a container's.
          await syncVmNics(compute, network, inst.id, inst.backend_id);
          const sandbox = await sandboxOf(compute, network, inst.backend_id, port);
          if (sandbox) await network.plug(port, sandbox);
        } catch (e) {
          await network.enis.detach(eni.id, { attachmentId });
          await network.unplug(eni.id).catch(() => (network.needsSync = true));
          await syncVmNics(compute, network, inst.id, inst.backend_id).catch(() => undefined);
          throw e;
        }
      });
    }
    await network.applySecurity([eni.vpc_id]);
    return { AttachmentId: attachmentId, NetworkCardIndex: 0 };
  },
});

export const detachNetworkInterface = defineHandler('DetachNetworkInterface', {
  async validate(input, ctx) {
    const id = parseId('networkInterfaceAttachment', input.AttachmentId);
    await ctx.services.network.attachments.checkDetach(ctx.accountId, id);
    return id;
  },
  async handle(_input, ctx, attachmentId) {
    const eni = await ctx.services.network.attachments.detach(ctx.accountId, attachmentId);
    const network = ctx.services.network;
    if (network.plugsPorts) {
      // In the instance's queue, as the attachment's plug is: never beside a start's plug of every attached ENI.
      await ctx.services.instances.exclusive(eni.instance_id, async () => {
        await network.unplug(eni.id).catch(() => (network.needsSync = true));
        // A VM's NIC leaves its domain (hot-unplug when it runs); if that fails, its next start removes it.
        const [inst] = await ctx.services.instances.byIds(ctx.accountId, [eni.instance_id]);
        if (inst?.backend_id && (inst.state === 'running' || inst.state === 'stopped')) {
          await syncVmNics(ctx.services.backends.compute, network, inst.id, inst.backend_id).catch((e: unknown) =>
            ctx.log('warn', 'a VM\'s interface could not be removed from its domain now; its next start does', { instanceId: inst.id, error: (e as Error).message }));
        }
      });
    }
    await network.applySecurity([eni.vpc_id]);
    return {};
  },
});
