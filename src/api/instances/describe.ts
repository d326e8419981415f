import { defineHandler, type RequestContext } from '../../server/registry.js';
import { validateRequest, sql } from '../../describe/index.js';
import { stateOf } from '../../domain/instance-state.js';
import { streamed } from '../../protocol/serializer.js';
import { describeRequest, parseIds } from '../common.js';
import { toReservations, type InstanceView } from './mappers.js';
import { instanceResource, instanceStatusResource } from './filters.js';
import type { InstanceRow } from '../../db/repositories/compute.js';

/** These instance rows with their tags, security groups and architecture (RunInstances' answer). */
export async function instanceViews(ctx: RequestContext, only: InstanceRow[]): Promise<InstanceView[]> {
  const s = ctx.services;
  // Only the images these instances run (one, as a rule), not every image the account sees.
  const imageIds = [...new Set(only.map((r) => r.image_id))];
  const [tags, groups, images, enis] = await Promise.all([
    s.tags.byResource(ctx.accountId, only.map((r) => r.id)),
    s.network.securityGroups(ctx.accountId),
    Promise.all(imageIds.map((id) => s.images.visible(ctx.accountId, id).catch(() => undefined))),
    Promise.all(only.map((r) => s.network.enis.ofInstance(r.id))),
  ]);
  return only.map((r, k) => ({
    ...r,
    enis: enis[k]!.map((e) => ({
      ...e,
      device_index: e.device_index ?? 0,
      groups: e.security_group_ids.map((id) => ({ id, name: groups.find((g) => g.id === id)?.group_name ?? id })),
    })),
    tags: tags.get(r.id) ?? [],
    groups: r.security_group_ids.map((id) => groups.find((g) => g.id === id)).filter((g) => g !== undefined),
    architecture: images.find((im) => im?.id === r.image_id)?.architecture ?? 'x86_64',
    region: ctx.region,
  }));
}

export const describeInstances = defineHandler('DescribeInstances', {
  validate(input) {
    validateRequest(instanceResource, describeRequest(input, parseIds('instance', input.InstanceIds)));
  },
  async handle(input, ctx) {
    // Instances of one reservation come together, reservations in order of their first instance.
    const page = await ctx.services.describe.page(instanceResource, describeRequest(input, input.InstanceIds), ctx, { groupBy: 'reservation_id' });
    return {
      Reservations: streamed(page.rows, (rows) => toReservations(rows.map((r) => ({ ...r, region: ctx.region })), ctx.region)),
      NextToken: page.nextToken,
    };
  },
});

export const describeInstanceStatus = defineHandler('DescribeInstanceStatus', {
  validate(input) {
    validateRequest(instanceStatusResource, describeRequest(input, parseIds('instance', input.InstanceIds)));
  },
  async handle(input, ctx) {
    const engine = ctx.services.describe;
    // NotFound for ids that do not exist at all; an instance that is not running is simply not listed.
    if (input.InstanceIds?.length) {
      const missing = await engine.missing(instanceStatusResource, input.InstanceIds, ctx);
      if (missing.length) throw instanceStatusResource.notFound(missing);
    }
    const page = await engine.page(instanceStatusResource, describeRequest(input, input.InstanceIds), ctx, {
      where: input.IncludeAllInstances ? undefined : sql`r.state = 'running'`,
      checkIds: false,
    });
    return {
      InstanceStatuses: streamed(page.rows, (rows) =>
        rows.map((i) => {
          const ok = i.state === 'running';
          const status = { Status: ok ? 'ok' : 'not-applicable', Details: [{ Name: 'reachability', Status: ok ? 'passed' : 'not-applicable' }] };
          return {
            InstanceId: i.id,
            AvailabilityZone: i.availability_zone,
            InstanceState: stateOf(i.state),
            InstanceStatus: status,
            SystemStatus: status,
            AttachedEbsStatus: { Status: ok ? 'ok' : 'not-applicable', Details: [{ Name: 'reachability', Status: ok ? 'passed' : 'not-applicable' }] },
            Events: [],
          };
        }),
      ),
      NextToken: page.nextToken,
    };
  },
});
