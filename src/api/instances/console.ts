import { defineHandler } from '../../server/registry.js';
import { Ec2Error, unsupportedOperation } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';

/** A real screenshot of the instance's graphical console (PNG, base64), where its backend has one. */
export const getConsoleScreenshot = defineHandler('GetConsoleScreenshot', {
  async validate(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
    if (!ctx.services.backends.compute.consoleScreenshot) {
      throw unsupportedOperation(`Console screenshots are not available for instances of the ${ctx.services.backends.compute.name} backend.`);
    }
    if (row!.state !== 'running') {
      throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not in the 'running' state.`);
    }
  },
  async handle(input, ctx) {
    const png = await ctx.services.instances.screenshot(input.InstanceId, ctx.accountId);
    return { InstanceId: input.InstanceId, ImageData: png.toString('base64') };
  },
});
