/** AssociateVpcCidrBlock and DisassociateVpcCidrBlock: a VPC's secondary IPv4 blocks (IPv6 is not supported). */
import { defineHandler } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import type { VpcCidrRow } from '../../db/repositories/vpc-cidrs.js';
import type * as Ec2 from '../../protocol/generated/types.js';

function toAssociation(a: VpcCidrRow): Ec2.VpcCidrBlockAssociation {
  return { AssociationId: a.association_id, CidrBlock: a.cidr_block, CidrBlockState: { State: a.state } };
}

export const associateVpcCidrBlock = defineHandler('AssociateVpcCidrBlock', {
  validate(input, ctx) {
    if (input.AmazonProvidedIpv6CidrBlock || input.Ipv6CidrBlock || input.Ipv6Pool || input.Ipv6IpamPoolId || input.Ipv6NetmaskLength !== undefined) {
      throw new Ec2Error('UnsupportedOperation', 'IPv6 CIDR blocks are not supported.');
    }
    if (input.Ipv4IpamPoolId || input.Ipv4NetmaskLength !== undefined) throw new Ec2Error('UnsupportedOperation', 'IPAM pools are not supported.');
    return ctx.services.network.cidrs.checkAssociate(ctx.accountId, parseId('vpc', input.VpcId), input.CidrBlock);
  },
  async handle(_input, ctx, checked) {
    const a = await ctx.services.network.cidrs.associate(checked);
    return { VpcId: a.vpc_id, CidrBlockAssociation: toAssociation(a) };
  },
});

export const disassociateVpcCidrBlock = defineHandler('DisassociateVpcCidrBlock', {
  validate(input, ctx) {
    return ctx.services.network.cidrs.checkDisassociate(ctx.accountId, input.AssociationId);
  },
  async handle(_input, ctx, a) {
    const done = await ctx.services.network.cidrs.disassociate(a, ctx.accountId);
    return { VpcId: done.vpc_id, CidrBlockAssociation: toAssociation(done) };
  },
});
