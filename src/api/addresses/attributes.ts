/**
 * An Elastic IP's reverse DNS record: DescribeAddressesAttribute, ModifyAddressAttribute, ResetAddressAttribute
 * (attribute `domain-name`). The default is AWS's `ec2-a-b-c-d.<region's domain>.` name; a change is answered as
 * AWS does, with the update `PENDING` and the old record, and describes show the new record after.
 */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { validateRequest } from '../../describe/index.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { publicDnsName } from '../instances/mappers.js';
import { addressResource } from './index.js';
import { describeRequest, parseIds } from '../common.js';
import type * as Ec2 from '../../protocol/generated/types.js';

const DOMAIN = /^(?=.{1,253}\.?$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$/i;

function checkAttribute(a: string | undefined): void {
  if (a !== 'domain-name') throw new Ec2Error('InvalidParameterValue', `Value (${a ?? ''}) for parameter attribute is invalid. Valid value: domain-name.`);
}

const defaultPtr = (ip: string, region: string) => `${publicDnsName(ip, region)}.`;
const withDot = (d: string) => (d.endsWith('.') ? d : `${d}.`);

function toAttribute(a: { id: string; ip: string; ptr_record: string | null }, region: string): Ec2.AddressAttribute {
  return { PublicIp: a.ip, AllocationId: a.id, PtrRecord: a.ptr_record ?? defaultPtr(a.ip, region) };
}

async function addressOf(ctx: RequestContext, id: string) {
  const page = await ctx.services.describe.page(addressResource, { ids: [parseId('address', id)] }, ctx);
  for await (const batch of page.rows) if (batch[0]) return batch[0];
  throw new Ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${id}' does not exist`);
}

export const describeAddressesAttribute = defineHandler('DescribeAddressesAttribute', {
  validate(input) {
    checkAttribute(input.Attribute);
    validateRequest(addressResource, describeRequest(input, parseIds('address', input.AllocationIds)));
  },
  async handle(input, ctx) {
    const page = await ctx.services.describe.page(addressResource, describeRequest(input, input.AllocationIds), ctx);
    const out: Ec2.AddressAttribute[] = [];
    for await (const batch of page.rows) out.push(...batch.map((a) => toAttribute(a, ctx.region)));
    return { Addresses: out, NextToken: page.nextToken };
  },
});

export const modifyAddressAttribute = defineHandler('ModifyAddressAttribute', {
  async validate(input, ctx) {
    if (input.DomainName === undefined || !DOMAIN.test(input.DomainName)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${input.DomainName ?? ''}) for parameter domainName is invalid.`);
    }
    return addressOf(ctx, input.AllocationId);
  },
  async handle(input, ctx, a) {
    const value = withDot(input.DomainName!.toLowerCase());
    await ctx.services.network.addresses.setPtrRecord(a.id, value);
    return { Address: { ...toAttribute(a, ctx.region), PtrRecordUpdate: { Value: value, Status: 'PENDING' } } };
  },
});

export const resetAddressAttribute = defineHandler('ResetAddressAttribute', {
  async validate(input, ctx) {
    checkAttribute(input.Attribute);
    return addressOf(ctx, input.AllocationId);
  },
  async handle(_input, ctx, a) {
    await ctx.services.network.addresses.setPtrRecord(a.id, null);
    return { Address: { ...toAttribute(a, ctx.region), PtrRecordUpdate: { Value: defaultPtr(a.ip, ctx.region), Status: 'PENDING' } } };
  },
});
