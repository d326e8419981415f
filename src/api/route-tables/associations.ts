/** AssociateRouteTable, DisassociateRouteTable, ReplaceRouteTableAssociation. */
import { defineHandler } from '../../server/registry.js';
import { parseId } from '../../ids/index.js';

export const associateRouteTable = defineHandler('AssociateRouteTable', {
  validate(input, ctx) {
    const subnetId = input.SubnetId === undefined ? undefined : parseId('subnet', input.SubnetId);
    return ctx.services.network.edge.checkAssociate(ctx.accountId, parseId('routeTable', input.RouteTableId), subnetId, input.GatewayId);
  },
  async handle(_input, ctx, p) {
    return { AssociationId: await ctx.services.network.edge.associate(p), AssociationState: { State: 'associated' } };
  },
});

export const disassociateRouteTable = defineHandler('DisassociateRouteTable', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkDisassociate(ctx.accountId, parseId('routeTableAssociation', input.AssociationId));
  },
  async handle(_input, ctx, a) {
    await ctx.services.network.edge.disassociate(a);
    return {};
  },
});

export const replaceRouteTableAssociation = defineHandler('ReplaceRouteTableAssociation', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkReplaceAssociation(
      ctx.accountId,
      parseId('routeTableAssociation', input.AssociationId),
      parseId('routeTable', input.RouteTableId),
    );
  },
  async handle(_input, ctx, p) {
    return { NewAssociationId: await ctx.services.network.edge.replaceAssociation(p), AssociationState: { State: 'associated' } };
  },
});
