/** CreateVpc, DeleteVpc, Describe/ModifyVpcAttribute, CreateDefaultVpc. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { checkBlock } from '../../services/network/vpcs.js';
import { validateTags } from '../../services/tags/index.js';
import { tagsFromSpecs } from '../common.js';
import { toVpc, vpcResource } from './index.js';
import type * as Ec2 from '../../protocol/generated/types.js';

/** One VPC as DescribeVpcs shows it (with its tags). */
export async function oneVpc(id: string, ctx: RequestContext): Promise<Ec2.Vpc> {
  const page = await ctx.services.describe.page(vpcResource, { ids: [id] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return toVpc(batch[0]);
  throw new Error(`VPC ${id} vanished`);
}

export const createVpc = defineHandler('CreateVpc', {
  validate(input) {
    if (input.Ipv6CidrBlock || input.AmazonProvidedIpv6CidrBlock || input.Ipv4IpamPoolId) throw new Ec2Error('UnsupportedOperation', 'IPv6 blocks and IPAM pools are not supported.');
    const tenancy = input.InstanceTenancy ?? 'default';
    if (tenancy !== 'default' && tenancy !== 'dedicated') throw new Ec2Error('InvalidParameterValue', `Value (${tenancy}) for parameter instanceTenancy is invalid.`);
    validateTags(tagsFromSpecs(input.TagSpecifications, 'vpc'));
    return { cidr: checkBlock(input.CidrBlock, 'vpc'), tenancy };
  },
  async handle(input, ctx, { cidr, tenancy }) {
    const vpc = await ctx.services.network.admin.createVpc(ctx.accountId, cidr, tenancy);
    const tags = tagsFromSpecs(input.TagSpecifications, 'vpc');
    if (tags.length) await ctx.services.tags.create(ctx.accountId, [{ id: vpc.id, type: 'vpc' }], tags);
    return { Vpc: { ...(await oneVpc(vpc.id, ctx)), State: 'pending' } };
  },
});

export const deleteVpc = defineHandler('DeleteVpc', {
  validate(input, ctx) {
    return ctx.services.network.admin.checkDeleteVpc(ctx.accountId, parseId('vpc', input.VpcId));
  },
  async handle(_input, ctx, vpc) {
    await ctx.services.network.admin.deleteVpc(vpc);
    return {};
  },
});

export const createDefaultVpc = defineHandler('CreateDefaultVpc', {
  async validate(_input, ctx) {
    const existing = (await ctx.services.network.vpcs(ctx.accountId)).find((v) => v.is_default);
    if (existing) throw new Ec2Error('DefaultVpcAlreadyExists', `A Default VPC already exists for this account in this region.`);
  },
  async handle(_input, ctx) {
    await ctx.services.network.ensureDefaults(ctx.accountId);
    const vpc = (await ctx.services.network.vpcs(ctx.accountId)).find((v) => v.is_default)!;
    return { Vpc: await oneVpc(vpc.id, ctx) };
  },
});

const VPC_ATTRIBUTES = { enableDnsSupport: 'enable_dns_support', enableDnsHostnames: 'enable_dns_hostnames' } as const;

/**
 * Network Address Usage metrics are a CloudWatch feature that this cloud does not have: the attribute reads false
 * (Terraform's aws_vpc reads it) and only false can be set.
 */
const NAU_METRICS = 'enableNetworkAddressUsageMetrics';

export const describeVpcAttribute = defineHandler('DescribeVpcAttribute', {
  async validate(input, ctx) {
    if (input.Attribute === NAU_METRICS) return { vpc: await ctx.services.network.admin.vpc(ctx.accountId, parseId('vpc', input.VpcId)), attr: undefined };
    const attr = VPC_ATTRIBUTES[input.Attribute as keyof typeof VPC_ATTRIBUTES];
    if (!attr) throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Unknown attribute.`);
    return { vpc: await ctx.services.network.admin.vpc(ctx.accountId, parseId('vpc', input.VpcId)), attr };
  },
  async handle(input, _ctx, { vpc, attr }) {
    if (!attr) return { VpcId: vpc.id, EnableNetworkAddressUsageMetrics: { Value: false } };
    const value = { Value: vpc[attr] };
    return { VpcId: vpc.id, ...(input.Attribute === 'enableDnsSupport' ? { EnableDnsSupport: value } : { EnableDnsHostnames: value }) };
  },
});

export const modifyVpcAttribute = defineHandler('ModifyVpcAttribute', {
  async validate(input, ctx) {
    if (input.EnableNetworkAddressUsageMetrics && !input.EnableDnsSupport && !input.EnableDnsHostnames) {
      const vpc = await ctx.services.network.admin.vpc(ctx.accountId, parseId('vpc', input.VpcId));
      if (input.EnableNetworkAddressUsageMetrics.Value !== false) {
        throw new Ec2Error('UnsupportedOperation', 'Network Address Usage metrics are not available in this cloud; enableNetworkAddressUsageMetrics stays false.');
      }
      return { vpc, attr: undefined, value: false };
    }
    const set = [
      input.EnableDnsSupport && (['enable_dns_support', input.EnableDnsSupport.Value] as const),
      input.EnableDnsHostnames && (['enable_dns_hostnames', input.EnableDnsHostnames.Value] as const),
    ].filter((x): x is readonly ['enable_dns_support' | 'enable_dns_hostnames', boolean | undefined] => !!x);
    if (set.length !== 1) throw new Ec2Error('InvalidParameterCombination', 'Exactly one attribute can be modified at a time.');
    const vpc = await ctx.services.network.admin.vpc(ctx.accountId, parseId('vpc', input.VpcId));
    const [attr, value] = set[0]!;
    if (value === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter Value');
    const dnsSupport = attr === 'enable_dns_support' ? value : vpc.enable_dns_support;
    const dnsHostnames = attr === 'enable_dns_hostnames' ? value : vpc.enable_dns_hostnames;
    if (dnsHostnames && !dnsSupport) {
      throw new Ec2Error('InvalidParameterValue', 'enableDnsHostnames cannot be true while enableDnsSupport is false.');
    }
    return { vpc, attr, value };
  },
  async handle(_input, ctx, { vpc, attr, value }) {
    if (attr) await ctx.services.network.admin.setVpcAttribute(vpc, attr, value);
    return {};
  },
});
