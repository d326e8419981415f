import { defineHandler, type RequestContext } from '../../server/registry.js';
import { parseIds, tagsFromSpecs } from '../common.js';
import { stateOf } from '../../domain/instance-state.js';
import { validateTags } from '../../services/tags/index.js';
import { checkLaunchMappings, type LaunchMapping } from '../../services/instances/volume-step.js';
import { instanceViews } from './describe.js';
import { toInstance } from './mappers.js';
import type { StateChange } from '../../services/instances/index.js';
import type { UserAction } from '../../domain/instance-transitions.js';
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
    const tags = launchTags(input);
    const plan = await ctx.services.instances.plan(ctx.accountId, input);
    // With root volumes (libvirt on LVM) the root mapping can size the root volume, at least the image's size.
    const root = ctx.services.volumes.rootVolumes ? { imageId: plan.image.id, sizeGiB: plan.image.size_gib } : undefined;
    checkLaunchMappings(input.BlockDeviceMappings as LaunchMapping[] | undefined, root);
    return { tags, plan };
  },
  async handle(input, ctx, { tags, plan }) {
    const s = ctx.services;
    const rows = await s.instances.run(ctx.accountId, plan, tags.length
      ? (ids) => s.tags.create(ctx.accountId, ids.map((id) => ({ id, type: 'instance' })), tags)
      : undefined);
    const views = await instanceViews(ctx, rows);
    return {
      ReservationId: rows[0]!.reservation_id,
      OwnerId: ctx.accountId,
      Groups: [],
      Instances: views.map((v) => toInstance(v, ctx.region)),
    };
  },
});

// validate loads the instances and checks every rule of the action; handle acts on what validate checked, so a
// DryRun is refused exactly as the real call would be.
const prepare = (action: UserAction) => (input: { InstanceIds: string[] }, ctx: RequestContext) =>
  ctx.services.instances.prepare(action, ctx.accountId, parseIds('instance', input.InstanceIds)!);

export const startInstances = defineHandler('StartInstances', {
  validate: prepare('start'),
  async handle(_input, ctx, rows) {
    return { StartingInstances: changes(await ctx.services.instances.start(rows)) };
  },
});

export const stopInstances = defineHandler('StopInstances', {
  validate: prepare('stop'),
  async handle(input, ctx, rows) {
    return { StoppingInstances: changes(await ctx.services.instances.stop(rows, input.Force ?? false)) };
  },
});

export const rebootInstances = defineHandler('RebootInstances', {
  validate: prepare('reboot'),
  async handle(_input, ctx, rows) {
    await ctx.services.instances.reboot(rows);
    return {};
  },
});

export const terminateInstances = defineHandler('TerminateInstances', {
  validate: prepare('terminate'),
  async handle(_input, ctx, rows) {
    return { TerminatingInstances: changes(await ctx.services.instances.terminate(rows)) };
  },
});
