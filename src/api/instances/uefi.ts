import { defineHandler } from '../../server/registry.js';
import { parseId } from '../../ids/index.js';

/** Instances here boot in legacy BIOS mode, so there is no UEFI variable store: AWS answers with empty data. */
export const getInstanceUefiData = defineHandler('GetInstanceUefiData', {
  async validate(input, ctx) {
    await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
  },
  async handle(input) {
    return { InstanceId: input.InstanceId, UefiData: '' };
  },
});
