import { defineHandler, type RequestContext } from '../../server/registry.js';
import { describe, validateDescribe, type DescribeSpec } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import { stateOf } from '../../domain/instance-state.js';
import { describeRequest, parseIds } from '../common.js';
import { privateDnsName, toReservations, type InstanceView } from './mappers.js';
import type { InstanceRow } from '../../db/repositories/compute.js';

export const instanceSpec: DescribeSpec<InstanceView> = {
  id: (i) => i.id,
  tags: (i) => i.tags,
  filters: {
    'instance-id': (i) => i.id,
    'instance-state-name': (i) => i.state,
    'instance-state-code': (i) => stateOf(i.state).Code,
    'image-id': (i) => i.image_id,
    'instance-type': (i) => i.instance_type,
    'key-name': (i) => i.key_name,
    'private-ip-address': (i) => i.private_ip,
    'network-interface.addresses.private-ip-address': (i) => i.private_ip,
    'private-dns-name': (i) => privateDnsName(i.private_ip, i.region),
    'vpc-id': (i) => i.vpc_id,
    'subnet-id': (i) => i.subnet_id,
    'reservation-id': (i) => i.reservation_id,
    'availability-zone': (i) => i.availability_zone,
    'owner-id': (i) => i.account_id,
    'launch-time': (i) => i.launch_time.toISOString(),
    'ami-launch-index': (i) => i.launch_index,
    architecture: (i) => i.architecture,
    'client-token': (i) => i.client_token,
    'instance.group-id': (i) => i.security_group_ids,
    'instance.group-name': (i) => i.groups.map((g) => g.group_name),
    'group-id': (i) => i.security_group_ids,
    'group-name': (i) => i.groups.map((g) => g.group_name),
    'network-interface.network-interface-id': (i) => i.eni_id,
    'network-interface.mac-address': (i) => i.mac_address,
    'root-device-type': () => 'ebs',
    'root-device-name': () => '/dev/xvda',
    'virtualization-type': () => 'hvm',
    hypervisor: () => 'xen',
    'tenancy': () => 'default',
    'platform-details': () => 'Linux/UNIX',
    'state-reason-code': (i) => i.state_reason_code,
    'dns-name': () => '',
    'monitoring-state': () => 'disabled',
  },
  notFound: (ids) => notFound('InvalidInstanceID', 'instance ID', ids),
  maxResults: { min: 5, max: 1000 },
  idsExcludeMaxResults: 'instancesSet',
};

/** The account's instances with their tags, security groups and architecture, ready for the describe engine. */
export async function instanceViews(ctx: RequestContext, only?: InstanceRow[]): Promise<InstanceView[]> {
  const s = ctx.services;
  const [rows, tags, groups, images] = await Promise.all([
    only ? Promise.resolve(only) : s.instances.list(ctx.accountId),
    s.tags.byResource(ctx.accountId, only?.map((r) => r.id)),
    s.network.securityGroups(ctx.accountId),
    s.images.list(ctx.accountId),
  ]);
  return rows.map((r) => ({
    ...r,
    tags: tags.get(r.id) ?? [],
    groups: r.security_group_ids.map((id) => groups.find((g) => g.id === id)).filter((g) => g !== undefined),
    architecture: images.find((im) => im.id === r.image_id)?.architecture ?? 'x86_64',
    region: ctx.region,
  }));
}

export const describeInstances = defineHandler('DescribeInstances', {
  validate(input) {
    validateDescribe(instanceSpec, describeRequest(input, parseIds('instance', input.InstanceIds)));
  },
  async handle(input, ctx) {
    // Waiters poll by id: load just those instances (the engine still answers NotFound for any missing).
    const only = input.InstanceIds?.length ? await ctx.services.instances.byIds(ctx.accountId, input.InstanceIds) : undefined;
    const page = describe(instanceSpec, await instanceViews(ctx, only), describeRequest(input, input.InstanceIds));
    return { Reservations: toReservations(page.items, ctx.region), NextToken: page.nextToken };
  },
});

export const describeInstanceStatus = defineHandler('DescribeInstanceStatus', {
  validate(input) {
    validateDescribe(instanceSpec, describeRequest({ MaxResults: input.MaxResults, NextToken: input.NextToken }, parseIds('instance', input.InstanceIds)));
  },
  async handle(input, ctx) {
    const statusFilters: Record<string, (i: InstanceView) => string> = {
      'instance-status.status': (i) => (i.state === 'running' ? 'ok' : 'not-applicable'),
      'system-status.status': (i) => (i.state === 'running' ? 'ok' : 'not-applicable'),
      'instance-status.reachability': (i) => (i.state === 'running' ? 'passed' : 'not-applicable'),
      'system-status.reachability': (i) => (i.state === 'running' ? 'passed' : 'not-applicable'),
    };
    const spec = { ...instanceSpec, filters: { ...instanceSpec.filters, ...statusFilters }, idsExcludeMaxResults: undefined };
    let views = await instanceViews(ctx);
    if (input.InstanceIds?.length) {
      describe(spec, views, { ids: input.InstanceIds }); // NotFound for ids that do not exist
    }
    if (!input.IncludeAllInstances) views = views.filter((v) => v.state === 'running');
    const page = describe(spec, views, describeRequest(input, input.InstanceIds?.filter((id) => views.some((v) => v.id === id))));
    return {
      InstanceStatuses: page.items.map((i) => {
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
      NextToken: page.nextToken,
    };
  },
});
