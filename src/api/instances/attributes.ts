import { defineHandler } from '../../server/registry.js';
import { Ec2Error, invalidParameterCombination, invalidParameterValue, missingParameter } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { INSTANCE_TYPES, instanceType } from '../../domain/instance-types.js';
import { validateRequest } from '../../describe/index.js';
import { streamed } from '../../protocol/serializer.js';
import { describeRequest } from '../common.js';
import { instanceResource } from './filters.js';
import { decodeUserData, MAX_USER_DATA } from '../../services/instances/launch.js';
import type * as Ec2 from '../../protocol/generated/types.js';
import { toBlockDeviceMappings } from './mappers.js';
import { setSourceDestCheck } from '../network-interfaces/private-ips.js';

const ATTRIBUTES = [
  'instanceType', 'kernel', 'ramdisk', 'userData', 'disableApiTermination', 'instanceInitiatedShutdownBehavior',
  'rootDeviceName', 'blockDeviceMapping', 'productCodes', 'sourceDestCheck', 'groupSet', 'ebsOptimized',
  'sriovNetSupport', 'enaSupport', 'enclaveOptions', 'disableApiStop',
];

export const describeInstanceAttribute = defineHandler('DescribeInstanceAttribute', {
  async validate(input, ctx) {
    if (!ATTRIBUTES.includes(input.Attribute)) {
      throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Unknown attribute.`);
    }
    await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
  },
  async handle(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [input.InstanceId]);
    const i = row!;
    const out: Ec2.InstanceAttribute = { InstanceId: i.id };
    switch (input.Attribute) {
      case 'instanceType': out.InstanceType = { Value: i.instance_type }; break;
      case 'kernel': out.KernelId = {}; break;
      case 'ramdisk': out.RamdiskId = {}; break;
      case 'userData': out.UserData = i.user_data ? { Value: i.user_data.toString('base64') } : {}; break;
      case 'disableApiTermination': out.DisableApiTermination = { Value: i.disable_api_termination }; break;
      case 'disableApiStop': out.DisableApiStop = { Value: i.disable_api_stop }; break;
      case 'instanceInitiatedShutdownBehavior': out.InstanceInitiatedShutdownBehavior = { Value: i.shutdown_behavior }; break;
      case 'rootDeviceName': out.RootDeviceName = { Value: '/dev/xvda' }; break;
      case 'blockDeviceMapping': {
        const volumes = await ctx.services.volumes.repo.attachmentsOf([i.id]);
        out.BlockDeviceMappings = toBlockDeviceMappings(volumes.map((a) => ({ ...a, volume_id: a.volume_id })));
        break;
      }
      case 'productCodes': out.ProductCodes = []; break;
      case 'sourceDestCheck': out.SourceDestCheck = { Value: (await ctx.services.network.enis.get(i.eni_id))?.source_dest_check ?? true }; break;
      case 'groupSet': {
        const groups = await ctx.services.network.securityGroups(ctx.accountId);
        out.Groups = i.security_group_ids.map((id) => ({ GroupId: id, GroupName: groups.find((g) => g.id === id)?.group_name }));
        break;
      }
      case 'ebsOptimized': out.EbsOptimized = { Value: false }; break;
      case 'sriovNetSupport': out.SriovNetSupport = {}; break;
      case 'enaSupport': out.EnaSupport = { Value: true }; break;
      case 'enclaveOptions': out.EnclaveOptions = { Enabled: false }; break;
    }
    return out;
  },
});

interface Change {
  instanceType?: string;
  userData?: Buffer | null;
  disableApiTermination?: boolean;
  disableApiStop?: boolean;
  shutdownBehavior?: string;
}

/** SourceDestCheck asked for by its typed member or as Attribute=sourceDestCheck (undefined: not asked). */
function sourceDestCheckOf(input: Ec2.ModifyInstanceAttributeRequest): boolean | undefined {
  if (input.SourceDestCheck?.Value !== undefined) return input.SourceDestCheck.Value;
  if (input.Attribute !== 'sourceDestCheck') return undefined;
  if (input.Value !== 'true' && input.Value !== 'false') throw new Ec2Error('InvalidParameterValue', `Value (${input.Value}) for parameter sourceDestCheck is invalid.`);
  return input.Value === 'true';
}

/** ModifyInstanceAttribute takes either one typed member or the Attribute/Value pair; exactly one change. */
function changeOf(input: Ec2.ModifyInstanceAttributeRequest): Change {
  const c: Change = {};
  if (input.InstanceType?.Value !== undefined) c.instanceType = input.InstanceType.Value;
  if (input.UserData) c.userData = input.UserData.Value?.length ? decodeUserDataBlob(input.UserData.Value) : null;
  if (input.DisableApiTermination?.Value !== undefined) c.disableApiTermination = input.DisableApiTermination.Value;
  if (input.DisableApiStop?.Value !== undefined) c.disableApiStop = input.DisableApiStop.Value;
  if (input.InstanceInitiatedShutdownBehavior?.Value !== undefined) c.shutdownBehavior = input.InstanceInitiatedShutdownBehavior.Value;
  if (input.Attribute) {
    const v = input.Value;
    if (v === undefined) throw missingParameter('Value');
    const bool = (x: string) => {
      if (x !== 'true' && x !== 'false') throw new Ec2Error('InvalidParameterValue', `Value (${x}) for parameter ${input.Attribute} is invalid.`);
      return x === 'true';
    };
    switch (input.Attribute) {
      case 'instanceType': c.instanceType = v; break;
      case 'userData': c.userData = decodeUserData(v) ?? null; break;
      case 'disableApiTermination': c.disableApiTermination = bool(v); break;
      case 'disableApiStop': c.disableApiStop = bool(v); break;
      case 'instanceInitiatedShutdownBehavior': c.shutdownBehavior = v; break;
      default:
        throw new Ec2Error('InvalidParameterValue', `Value (${input.Attribute}) for parameter attribute is invalid. Modifying this attribute is not supported.`);
    }
  }
  const n = Object.keys(c).length;
  if (n === 0) throw missingParameter('Attribute');
  if (n > 1) throw invalidParameterCombination('Only one attribute can be modified at a time');
  if (c.instanceType !== undefined && !instanceType(c.instanceType)) {
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${c.instanceType}' for InstanceType.`);
  }
  return c;
}

/**
 * The SDKs send UserData.Value as a blob that holds the base64 text of the user data; a client may also send
 * the raw bytes. Either way the 16 KB limit of RunInstances holds.
 */
function decodeUserDataBlob(v: Buffer): Buffer | null {
  const text = v.toString('utf8');
  if (/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(text)) return decodeUserData(text) ?? null;
  if (v.length > MAX_USER_DATA) throw invalidParameterValue('UserData', '...', `User data is limited to ${MAX_USER_DATA} bytes.`);
  return v;
}

export const modifyInstanceAttribute = defineHandler('ModifyInstanceAttribute', {
  async validate(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
    if (input.BlockDeviceMappings?.length) {
      // DeleteOnTermination of attached EBS volumes, by device name: the only change a mapping can make.
      const attached = await ctx.services.volumes.repo.attachmentsOf([row!.id]);
      const changes = input.BlockDeviceMappings.map((m) => {
        const a = attached.find((x) => x.device === m.DeviceName);
        if (!a) throw new Ec2Error('InvalidInstanceAttributeValue', `No device is currently mapped at ${m.DeviceName ?? '(none)'}`);
        if (m.Ebs?.VolumeId && m.Ebs.VolumeId !== a.volume_id) {
          throw new Ec2Error('InvalidInstanceAttributeValue', `The volume ${m.Ebs.VolumeId} is not mapped at ${m.DeviceName}`);
        }
        if (m.Ebs?.DeleteOnTermination === undefined) throw missingParameter('BlockDeviceMapping.Ebs.DeleteOnTermination');
        return { volumeId: a.volume_id, deleteOnTermination: m.Ebs.DeleteOnTermination };
      });
      return { row: row!, change: undefined, groups: undefined, volumes: changes };
    }
    // SourceDestCheck: the primary ENI's, changed live as ModifyNetworkInterfaceAttribute does.
    const sourceDestCheck = sourceDestCheckOf(input);
    if (sourceDestCheck !== undefined) {
      if (row!.state === 'terminated' || row!.state === 'shutting-down') throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not in a state from which its source/destination check can be changed.`);
      return { row: row!, change: undefined, groups: undefined, volumes: [] as { volumeId: string; deleteOnTermination: boolean }[], sourceDestCheck };
    }
    // GroupId: the groups of the primary ENI, changed live (a running instance's port sees them at once).
    if (input.Groups?.length) {
      if (row!.state === 'terminated' || row!.state === 'shutting-down') throw new Ec2Error('IncorrectInstanceState', `The instance '${row!.id}' is not in a state from which its groups can be changed.`);
      const groups = await ctx.services.network.checkGroupsIn(ctx.accountId, row!.vpc_id, input.Groups);
      return { row: row!, change: undefined, groups, volumes: [] as { volumeId: string; deleteOnTermination: boolean }[] };
    }
    const change = changeOf(input);
    await ctx.services.instances.checkModify(row!, change);
    return { row: row!, change, groups: undefined, volumes: [] as { volumeId: string; deleteOnTermination: boolean }[] };
  },
  async handle(_input, ctx, { row, change, groups, volumes, sourceDestCheck }) {
    if (sourceDestCheck !== undefined) await setSourceDestCheck(ctx, row.eni_id, sourceDestCheck);
    for (const v of volumes) await ctx.services.volumes.repo.setDeleteOnTermination(v.volumeId, v.deleteOnTermination);
    if (groups) await ctx.services.network.setEniGroups({ id: row.eni_id, vpcId: row.vpc_id }, groups, { instanceId: row.id, running: row.state === 'running' });
    if (change) await ctx.services.instances.modify(row, change);
    return {};
  },
});

export const getConsoleOutput = defineHandler('GetConsoleOutput', {
  async validate(input, ctx) {
    await ctx.services.instances.get(ctx.accountId, [parseId('instance', input.InstanceId)]);
  },
  async handle(input, ctx) {
    const [row] = await ctx.services.instances.get(ctx.accountId, [input.InstanceId]);
    const text = await ctx.services.instances.consoleOutput(row!);
    // AWS returns at most the last 64 KiB of the console.
    const buf = Buffer.from(text, 'utf8');
    const tail = buf.length > 65536 ? buf.subarray(buf.length - 65536) : buf;
    return { InstanceId: row!.id, Timestamp: new Date(), Output: tail.length ? tail.toString('base64') : undefined };
  },
});

/** Burstable types (T2, T3, T3a, T4g): the only ones with a credit specification. */
const BURSTABLE = [...INSTANCE_TYPES.values()].filter((t) => t.burstable).map((t) => t.name);
const LIVE_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped'];

export const describeInstanceCreditSpecifications = defineHandler('DescribeInstanceCreditSpecifications', {
  async validate(input, ctx) {
    if (input.InstanceIds?.length) await ctx.services.instances.get(ctx.accountId, input.InstanceIds.map((id) => parseId('instance', id)));
    validateRequest(instanceResource, describeRequest(input, input.InstanceIds));
  },
  async handle(input, ctx) {
    // The describe engine pages it (MaxResults/NextToken) in SQL: never every instance of the account at once.
    const filters = [...(input.Filters ?? []), { Name: 'instance-state-name', Values: LIVE_STATES }, { Name: 'instance-type', Values: BURSTABLE }];
    const page = await ctx.services.describe.page(instanceResource, describeRequest({ ...input, Filters: filters }, input.InstanceIds), ctx);
    return {
      InstanceCreditSpecifications: streamed(page.rows, (rows) => rows.map((r) => ({ InstanceId: r.id, CpuCredits: r.instance_type.startsWith('t2.') ? 'standard' : 'unlimited' }))),
      NextToken: page.nextToken,
    };
  },
});
