/**
 * Shared by the compatibility suites: the default network of an account, a way to put many tags on it,
 * and a check that an external client (the AWS CLI, Python with boto3) is installed.
 */
import { execa } from 'execa';
import { needBackend } from '../test/support/backends.js';
import {
  CreateTagsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';

export interface DefaultNetwork {
  vpcId: string;
  /** Default subnets, ordered by availability zone (us-east-1a, b, c). */
  subnetIds: string[];
  securityGroupId: string;
  /** Every taggable resource above: the VPC, its subnets, its security group. */
  resources: string[];
}

export async function defaultNetwork(ec2: EC2Client): Promise<DefaultNetwork> {
  const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) throw new Error('the account has no default VPC');
  const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
  const subnetIds = (subnets.Subnets ?? [])
    .sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))
    .map((s) => s.SubnetId!);
  const groups = await ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['default'] }] }),
  );
  const securityGroupId = groups.SecurityGroups?.[0]?.GroupId;
  if (!securityGroupId) throw new Error('the default VPC has no default security group');
  return { vpcId, subnetIds, securityGroupId, resources: [vpcId, ...subnetIds, securityGroupId] };
}

/**
 * Puts `count` tags whose keys start with `prefix` on the given resources, round-robin (so at most
 * ceil(count / resources) per resource, which must stay within AWS's 50). Returns "resourceId key" pairs.
 */
export async function putTags(ec2: EC2Client, resources: string[], prefix: string, count: number): Promise<string[]> {
  const byResource = new Map<string, { Key: string; Value: string }[]>();
  const made: string[] = [];
  for (let i = 0; i < count; i++) {
    const resource = resources[i % resources.length]!;
    const key = `${prefix}${String(i).padStart(3, '0')}`;
    byResource.set(resource, [...(byResource.get(resource) ?? []), { Key: key, Value: `value-${i}` }]);
    made.push(`${resource} ${key}`);
  }
  for (const [resource, tags] of byResource) await ec2.send(new CreateTagsCommand({ Resources: [resource], Tags: tags }));
  return made.sort();
}

/** True when `command args` runs and exits 0 (used to skip, loudly, a suite whose client is missing). */
export async function runs(command: string, args: string[]): Promise<boolean> {
  const r = await execa(command, args, { reject: false, timeout: 30_000 });
  return r.exitCode === 0;
}

/** process.env without any AWS_* variable, so no profile, session token or region of the machine leaks in. */
export function envWithoutAws(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('AWS_')) env[k] = v;
  return env;
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The environment for an AWS client process: no AWS_* variable of the machine, no config or credentials
 * file, no instance metadata lookups, one attempt per call; then the given variables.
 */
export function awsClientEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...envWithoutAws(),
    AWS_CONFIG_FILE: '/nonexistent/thecloud-compat-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/thecloud-compat-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_RETRY_MODE: 'standard',
    AWS_MAX_ATTEMPTS: '1',
    AWS_PAGER: '',
    ...extra,
  };
}

/** Runs at most `n` of the returned function's tasks at a time (client processes are slow to start). */
export function limit(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    while (active >= n) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

/**
 * A client the compat suite drives (the AWS CLI, Python with boto3) must run: skipped on a developer's machine
 * without it, a failure in CI (where .ci/run installs it), as a missing backend is.
 */
export async function needClient(ctx: Mocha.Context, name: string, command: string, args: string[]): Promise<void> {
  await needBackend(ctx, name, async () => ((await runs(command, args)) ? { ok: true, detail: `${command} runs` } : { ok: false, detail: `'${command} ${args.join(' ')}' did not run` }));
}
