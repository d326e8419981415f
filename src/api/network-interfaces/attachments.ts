/**
 * AttachNetworkInterface / DetachNetworkInterface: a second (third...) interface of an instance. The record
 * first, then, when the instance runs in a container, the port plugged into its sandbox as eth<device index>
 * (the network backend's plug); a stopped instance gets it at its next start (the plug step plugs every ENI).
 */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error, notFound } from '../../errors/index.js';
import { newId, parseId } from '../../ids/index.js';
import { sandboxOf } from '../../services/instances/network-steps.js';
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
    if (inst.state === 'running' && ctx.services.network.plugsPorts && !ctx.services.backends.compute.sandbox) {
      throw new Ec2Error('UnsupportedOperation', 'Attaching an interface to a running virtual machine is not supported here; stop the instance first.');
    }
    return { eni, inst, index };
  },
  async handle(_input, ctx, { eni, inst, index }) {
    const attachmentId = newId('networkInterfaceAttachment');
    if (!(await ctx.services.network.enis.attach(eni.id, inst.id, index, attachmentId))) {
      throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
    }
    if (inst.state === 'running' && inst.backend_id && ctx.services.network.plugsPorts) {
      const port = await ctx.services.network.port((await ctx.services.network.enis.get(eni.id))!);
      const sandbox = await sandboxOf(ctx.services.backends.compute, ctx.services.network, inst.backend_id, port);
      try {
        if (sandbox) await ctx.services.network.plug(port, sandbox);
      } catch (e) {
        await ctx.services.network.enis.detach(eni.id);
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
    await ctx.services.network.enis.detach(eni.id);
    if (ctx.services.network.plugsPorts) {
      try {
        await ctx.services.network.unplug(eni.id);
      } catch (e) {
        ctx.services.network.needsSync = true;
      }
    }
    await ctx.services.network.applySecurity();
    return {};
  },
});
