import { defineHandler, type RequestContext } from '../../server/registry.js';
import { parseIds, tagsFromSpecs } from '../common.js';
import { stateOf } from '../../domain/instance-state.js';
import { validateTags } from '../../services/tags/index.js';
import { instanceViews } from './describe.js';
import { toInstance } from './mappers.js';
import type { StateChange } from '../../services/instances/index.js';
import type * as Ec2 from '../../protocol/generated/types.js';

const changes = (list: StateChange[]): Ec2.InstanceStateChange[] =>
  list.map((c) => ({ InstanceId: c.id, CurrentState: stateOf(c.current), PreviousState: stateOf(c.previous) }));

function launchTags(input: Ec2.RunInstancesRequest) {
  const tags = tagsFromSpecs(input.TagSpecifications, 'instance');
  validateTags(tags);
  return tags;
}

export const runInstances = defineHandler('RunInstances', {
  async validate(input, ctx) {
    launchTags(input);
    await ctx.services.instances.plan(ctx.accountId, input);
  },
  async handle(input, ctx) {
    const s = ctx.services;
    const tags = launchTags(input);
    const plan = await s.instances.plan(ctx.accountId, input);
    const rows = await s.instances.run(ctx.accountId, plan, tags, (ids) =>
      s.tags.create(ctx.accountId, ids.map((id) => ({ id, type: 'instance' })), tags),
    );
    const views = await instanceViews(ctx, rows);
    return {
      ReservationId: rows[0]!.reservation_id,
      OwnerId: ctx.accountId,
      Groups: [],
      Instances: views.map((v) => toInstance(v, ctx.region)),
    };
  },
});

async function rowsOf(ctx: RequestContext, ids: string[]) {
  return ctx.services.instances.get(ctx.accountId, parseIds('instance', ids)!);
}

export const startInstances = defineHandler('StartInstances', {
  async validate(input, ctx) {
    await rowsOf(ctx, input.InstanceIds);
  },
  async handle(input, ctx) {
    return { StartingInstances: changes(await ctx.services.instances.start(ctx.accountId, input.InstanceIds)) };
  },
});

export const stopInstances = defineHandler('StopInstances', {
  async validate(input, ctx) {
    ctx.services.instances.checkStop(await rowsOf(ctx, input.InstanceIds));
  },
  async handle(input, ctx) {
    return { StoppingInstances: changes(await ctx.services.instances.stop(ctx.accountId, input.InstanceIds, input.Force ?? false)) };
  },
});

export const rebootInstances = defineHandler('RebootInstances', {
  async validate(input, ctx) {
    parseIds('instance', input.InstanceIds);
    await ctx.services.instances.checkReboot(ctx.accountId, input.InstanceIds);
  },
  async handle(input, ctx) {
    await ctx.services.instances.reboot(ctx.accountId, input.InstanceIds);
    return {};
  },
});

export const terminateInstances = defineHandler('TerminateInstances', {
  async validate(input, ctx) {
    ctx.services.instances.checkTerminate(await rowsOf(ctx, input.InstanceIds));
  },
  async handle(input, ctx) {
    return { TerminatingInstances: changes(await ctx.services.instances.terminate(ctx.accountId, input.InstanceIds)) };
  },
});
