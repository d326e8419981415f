/**
 * AttachNetworkInterface / DetachNetworkInterface: a second (third...) interface of an instance. The record
 * first, then, when the instance runs, the port plugged: into a container's sandbox as eth<device index>, or into
 * a VM as a NIC hot-plugged into its domain (syncVmNics) whose tap the network backend then programs; a stopped
 * instance gets it at its next start (the power step gives a VM's domain its NICs, the plug step plugs every ENI).
 */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId, parseId } from '../../ids/index.js';
import { sandboxOf, syncVmNics } from '../../services/instances/network-steps.js';
import { instanceType } from '../../domain/instance-types.js';

export const attachNetworkInterface = defineHandler('AttachNetworkInterface', {
  async validate(input, ctx) {
    const [eni] = await ctx.services.network.enis.ofAccount(ctx.accountId, [parseId('networkInterface', input.NetworkInterfaceId)]);
    if (!eni) throw notFound('InvalidNetworkInterfaceID', 'network interface ID', [input.NetworkInterfaceId]);
    const [inst] = await ctx.services.instances.byIds(ctx.accountId, [parseId('instance', input.InstanceId)]);
    if (!inst || inst.state === 'terminated') throw notFound('InvalidInstanceID', 'instance ID', [input.InstanceId]);
    if (eni.instance_id) throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
    const index = input.DeviceIndex;
    if (index === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter deviceIndex');
    if (!Number.isInteger(index) || index < 0 || index > 31) throw new Ec2Error('InvalidParameterValue', `Value (${index}) for parameter deviceIndex is invalid.`);
    if (inst.state !== 'running' && inst.state !== 'stopped') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${inst.id}' is not in a valid state for this operation.`);
    }
    if (eni.availability_zone !== inst.availability_zone) {
      throw new Ec2Error('InvalidParameterCombination', `The network interface and the instance must be in the same availability zone (${eni.availability_zone} vs ${inst.availability_zone}).`);
    }
    const attached = await ctx.services.network.enis.ofInstance(inst.id);
    if (attached.some((e) => e.device_index === index)) {
      throw new Ec2Error('InvalidParameterValue', `Instance '${inst.id}' already has an interface attached at device index '${index}'.`);
    }
    const limit = instanceType(inst.instance_type)?.maxEnis;
    if (limit !== undefined && attached.length + 1 > limit) {
      throw new Ec2Error('AttachmentLimitExceeded', `Interface count ${attached.length + 1} exceeds the limit for ${inst.instance_type}`);
    }
    return { eni, inst, index };
  },
  async handle(_input, ctx, { eni, inst, index }) {
    const attachmentId = newId('networkInterfaceAttachment');
    if (!(await ctx.services.network.enis.attach(eni.id, inst.id, index, attachmentId))) {
      throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
    }
    if (inst.state === 'running' && inst.backend_id && ctx.services.network.plugsPorts) {
      const compute = ctx.services.backends.compute;
      const port = await ctx.services.network.port((await ctx.services.network.enis.get(eni.id))!);
      try {
        // A VM: the NIC hot-plugged first (its tap then joins the bridge), then programmed like a container's.
        await syncVmNics(compute, ctx.services.network, inst.id, inst.backend_id);
        const sandbox = await sandboxOf(compute, ctx.services.network, inst.backend_id, port);
        if (sandbox) await ctx.services.network.plug(port, sandbox);
      } catch (e) {
        await ctx.services.network.enis.detach(eni.id);
        await ctx.services.network.unplug(eni.id).catch(() => (ctx.services.network.needsSync = true));
        await syncVmNics(compute, ctx.services.network, inst.id, inst.backend_id).catch(() => undefined);
        throw e;
      }
    }
    await ctx.services.network.applySecurity();
    return { AttachmentId: attachmentId, NetworkCardIndex: 0 };
  },
});

export const detachNetworkInterface = defineHandler('DetachNetworkInterface', {
  async validate(input, ctx) {
    const id = parseId('networkInterfaceAttachment', input.AttachmentId);
    const eni = await ctx.services.network.enis.byAttachment(ctx.accountId, id);
    if (!eni) throw new Ec2Error('InvalidAttachmentID.NotFound', `The interface attachment ID '${id}' does not exist`);
    if (eni.device_index === 0) throw new Ec2Error('OperationNotPermitted', 'The network interface at device index 0 cannot be detached.');
    return eni;
  },
  async handle(_input, ctx, eni) {
    const [inst] = eni.instance_id ? await ctx.services.instances.byIds(ctx.accountId, [eni.instance_id]) : [];
    await ctx.services.network.enis.detach(eni.id);
    if (ctx.services.network.plugsPorts) {
      try {
        await ctx.services.network.unplug(eni.id);
      } catch (e) {
        ctx.services.network.needsSync = true;
      }
      // A VM's NIC leaves its domain (hot-unplug when it runs); if that fails, its next start removes it.
      if (inst?.backend_id && (inst.state === 'running' || inst.state === 'stopped')) {
        await syncVmNics(ctx.services.backends.compute, ctx.services.network, inst.id, inst.backend_id).catch((e: unknown) =>
          ctx.log('warn', 'a VM\'s interface could not be removed from its domain now; its next start does', { instanceId: inst.id, error: (e as Error).message }));
      }
    }
    await ctx.services.network.applySecurity();
    return {};
  },
});
