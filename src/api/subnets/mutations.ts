/** CreateSubnet, DeleteSubnet, ModifySubnetAttribute. */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { validateTags } from '../../services/tags/index.js';
import { tagsFromSpecs } from '../common.js';
import { subnetResource, toSubnet } from './index.js';

export const createSubnet = defineHandler('CreateSubnet', {
  async validate(input, ctx) {
    if (input.Ipv6CidrBlock || input.Ipv6Native) throw new Ec2Error('UnsupportedOperation', 'IPv6 subnets are not supported.');
    validateTags(tagsFromSpecs(input.TagSpecifications, 'subnet'));
    const zones = ctx.services.network.zones();
    return ctx.services.network.admin.checkCreateSubnet(ctx.accountId, parseId('vpc', input.VpcId), input.CidrBlock, input.AvailabilityZone, zones);
  },
  async handle(input, ctx, plan) {
    const s = await ctx.services.network.admin.createSubnet(ctx.accountId, plan);
    const tags = tagsFromSpecs(input.TagSpecifications, 'subnet');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: s.id, type: 'subnet' }], tags);
    const page = await ctx.services.describe.page(subnetResource, { ids: [s.id] }, ctx);
    for await (const batch of page.rows) if (batch[0]) return { Subnet: toSubnet(batch[0] as Parameters<typeof toSubnet>[0]) };
    throw new Error(`subnet ${s.id} vanished`);
  },
});

export const deleteSubnet = defineHandler('DeleteSubnet', {
  validate(input, ctx) {
    return ctx.services.network.admin.checkDeleteSubnet(ctx.accountId, parseId('subnet', input.SubnetId));
  },
  async handle(_input, ctx, s) {
    await ctx.services.network.admin.deleteSubnet(s);
    return {};
  },
});

export const modifySubnetAttribute = defineHandler('ModifySubnetAttribute', {
  async validate(input, ctx) {
    const s = await ctx.services.network.admin.subnet(ctx.accountId, parseId('subnet', input.SubnetId));
    const others = Object.entries(input).filter(([k, v]) => v !== undefined && !['SubnetId', 'MapPublicIpOnLaunch', 'DryRun'].includes(k));
    if (others.length) throw new Ec2Error('UnsupportedOperation', `Modifying ${others[0]![0]} is not supported.`);
    if (input.MapPublicIpOnLaunch?.Value === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter MapPublicIpOnLaunch');
    return { s, value: input.MapPublicIpOnLaunch.Value };
  },
  async handle(_input, ctx, { s, value }) {
    await ctx.services.network.admin.setMapPublicIp(s, value);
    return {};
  },
});
