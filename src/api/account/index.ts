import { defineHandler } from '../../server/registry.js';

export const describeAccountAttributes = defineHandler('DescribeAccountAttributes', {
  async handle(input, ctx) {
    const vpcs = await ctx.services.network.vpcs(ctx.accountId);
    const defaultVpc = vpcs.find((v) => v.is_default)?.id ?? 'none';
    const attributes: [string, string[]][] = [
      ['supported-platforms', ['VPC']],
      ['default-vpc', [defaultVpc]],
      ['max-instances', [String(ctx.services.instances.maxInstances)]],
      ['vpc-max-security-groups-per-interface', ['5']],
      ['max-elastic-ips', ['5']],
      ['vpc-max-elastic-ips', ['5']],
    ];
    const wanted = input.AttributeNames;
    return {
      AccountAttributes: attributes
        .filter(([name]) => !wanted?.length || wanted.includes(name))
        .map(([name, values]) => ({ AttributeName: name, AttributeValues: values.map((v) => ({ AttributeValue: v })) })),
    };
  },
});
