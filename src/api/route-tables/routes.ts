/** CreateRoute, ReplaceRoute, DeleteRoute. */
import { defineHandler, type RequestContext } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import type { RouteTargetInput } from '../../services/network/routes.js';
import type * as Ec2 from '../../protocol/generated/types.js';

type RouteInput = Pick<Ec2.CreateRouteRequest, 'GatewayId' | 'NatGatewayId' | 'NetworkInterfaceId' | 'InstanceId' | 'DestinationIpv6CidrBlock' | 'DestinationPrefixListId' | 'EgressOnlyInternetGatewayId' | 'VpcPeeringConnectionId' | 'TransitGatewayId' | 'LocalGatewayId' | 'CarrierGatewayId' | 'VpcEndpointId' | 'CoreNetworkArn' | 'OdbNetworkArn'>;

/** The target the request names; targets this cloud has no such thing for are refused plainly. */
function target(input: RouteInput): RouteTargetInput {
  if (input.DestinationIpv6CidrBlock || input.DestinationPrefixListId) throw new Ec2Error('UnsupportedOperation', 'IPv6 and prefix list destinations are not supported.');
  const other = input.EgressOnlyInternetGatewayId ?? input.VpcPeeringConnectionId ?? input.TransitGatewayId ?? input.LocalGatewayId ?? input.CarrierGatewayId ?? input.VpcEndpointId ?? input.CoreNetworkArn ?? input.OdbNetworkArn;
  if (other !== undefined) throw new Ec2Error('UnsupportedOperation', `Routes to ${other} are not supported.`);
  return {
    gatewayId: input.GatewayId,
    natGatewayId: input.NatGatewayId === undefined ? undefined : parseId('natGateway', input.NatGatewayId),
    networkInterfaceId: input.NetworkInterfaceId === undefined ? undefined : parseId('networkInterface', input.NetworkInterfaceId),
    instanceId: input.InstanceId === undefined ? undefined : parseId('instance', input.InstanceId),
  };
}

async function vpcOf(ctx: RequestContext, routeTableId: string): Promise<string> {
  return (await ctx.services.network.edge.table(ctx.accountId, routeTableId)).vpc_id;
}

export const createRoute = defineHandler('CreateRoute', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkCreateRoute(ctx.accountId, parseId('routeTable', input.RouteTableId), input.DestinationCidrBlock, target(input));
  },
  async handle(input, ctx, route) {
    await ctx.services.network.edge.putRoute(route, await vpcOf(ctx, route.route_table_id));
    return { Return: true };
  },
});

export const replaceRoute = defineHandler('ReplaceRoute', {
  validate(input, ctx) {
    return ctx.services.network.edge.checkReplaceRoute(ctx.accountId, parseId('routeTable', input.RouteTableId), input.DestinationCidrBlock, target(input));
  },
  async handle(_input, ctx, route) {
    await ctx.services.network.edge.putRoute(route, await vpcOf(ctx, route.route_table_id));
    return {};
  },
});

export const deleteRoute = defineHandler('DeleteRoute', {
  validate(input, ctx) {
    if (input.DestinationIpv6CidrBlock || input.DestinationPrefixListId) throw new Ec2Error('UnsupportedOperation', 'IPv6 and prefix list destinations are not supported.');
    return ctx.services.network.edge.checkDeleteRoute(ctx.accountId, parseId('routeTable', input.RouteTableId), input.DestinationCidrBlock);
  },
  async handle(_input, ctx, route) {
    await ctx.services.network.edge.deleteRoute(route, await vpcOf(ctx, route.route_table_id));
    return {};
  },
});
