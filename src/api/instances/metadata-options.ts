import { defineHandler } from '../../server/registry.js';
import { Ec2Error } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { metadataOptionsResponse, parseMetadataOptions } from '../../services/metadata/index.js';

/**
 * ModifyInstanceMetadataOptions: changes take effect on the instance's next metadata request (running or not);
 * the answer says `pending`, as AWS's does, and DescribeInstances then shows them `applied`.
 */
export const modifyInstanceMetadataOptions = defineHandler('ModifyInstanceMetadataOptions', {
  async validate(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
    if (row!.state === 'terminated' || row!.state === 'shutting-down') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not in a state from which it can be modified.`);
    }
    return { row: row!, changes: parseMetadataOptions(input) };
  },
  async handle(_input, ctx, { row, changes }) {
    const options = await ctx.services.metadata.modifyOptions(row, changes);
    return { InstanceId: row.id, InstanceMetadataOptions: metadataOptionsResponse(options, 'pending') };
  },
});
