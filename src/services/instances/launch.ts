/**
 * RunInstances validation: everything is checked and resolved (image, type, key, subnet, groups, addresses)
 * before anything is written, so DryRun and errors leave no trace.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Ec2Error, invalidParameterCombination, invalidParameterValue, notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import { instanceType, DEFAULT_INSTANCE_TYPE, type InstanceTypeSpec } from '../../domain/instance-types.js';
import type { NetworkService } from '../network/index.js';
import type { ImageService } from '../images/index.js';
import type { KeyPairService } from '../key-pairs/index.js';
import type { ImageRow, KeyPairRow } from '../../db/repositories/compute.js';
import type { SubnetRow } from '../../db/repositories/network.js';
import { checkSecondaryRequest, type SecondaryRequest } from '../network/private-ips.js';
import { parseMetadataOptions, type MetadataOptions, type MetadataOptionsInput } from '../metadata/options.js';
import { availableEni, checkInterfaceList, planExtraInterfaces, type InterfaceRequest, type PlannedInterface, type PrimaryInterface } from './launch-interfaces.js';

export interface LaunchRequest {
  ImageId?: string;
  InstanceType?: string;
  MinCount: number;
  MaxCount: number;
  KeyName?: string;
  UserData?: string;
  SecurityGroupIds?: string[];
  SecurityGroups?: string[];
  SubnetId?: string;
  PrivateIpAddress?: string;
  ClientToken?: string;
  Placement?: { AvailabilityZone?: string };
  DisableApiTermination?: boolean;
  DisableApiStop?: boolean;
  InstanceInitiatedShutdownBehavior?: string;
  BlockDeviceMappings?: unknown[];
  NetworkInterfaces?: InterfaceRequest[];
  MetadataOptions?: MetadataOptionsInput;
}

export interface LaunchPlan {
  /** Digest of the request's parameters (ClientToken and DryRun left out): a reused token must match it. */
  fingerprint: string;
  image: ImageRow;
  type: InstanceTypeSpec;
  keyPair?: KeyPairRow;
  userData?: Buffer;
  subnet: SubnetRow;
  securityGroupIds: string[];
  privateIp?: string;
  /** Secondary addresses of the primary ENI (NetworkInterfaces[0]), checked against the type's limit. */
  secondary?: SecondaryRequest;
  count: { min: number; max: number };
  clientToken?: string;
  disableApiTermination: boolean;
  disableApiStop: boolean;
  shutdownBehavior: 'stop' | 'terminate';
  blockDeviceMappings: unknown[];
  /** The MetadataOptions that differ from the defaults (checked). */
  metadataOptions: Partial<MetadataOptions>;
  /** A public IPv4 address while it runs: NetworkInterfaces[0].AssociatePublicIpAddress, else the subnet's MapPublicIpOnLaunch. */
  associatePublicIp: boolean;
  /** The primary interface's description, DeleteOnTermination, or the existing ENI it is (subnet, groups and address above are its own). */
  primary: PrimaryInterface;
  /** The interfaces at device index 1 and above (RunInstances' NetworkInterfaces), in device index order. */
  extraInterfaces: PlannedInterface[];
}

export const MAX_USER_DATA = 16 * 1024;

export function decodeUserData(value: string | undefined, param = 'UserData'): Buffer | undefined {
  if (value === undefined || value === '') return undefined;
  const clean = value.replace(/\s/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) {
    throw new Ec2Error('InvalidParameterValue', `Invalid BASE64 encoding of user data.`);
  }
  const data = Buffer.from(clean, 'base64');
  if (data.length > MAX_USER_DATA) throw invalidParameterValue(param, '...', `User data is limited to ${MAX_USER_DATA} bytes.`);
  return data;
}

/** A stable digest of a launch request: keys sorted at every level, ClientToken and DryRun left out. */
export function launchFingerprint(req: LaunchRequest): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object' && !(v instanceof Date) && !Buffer.isBuffer(v)
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]))
        : v;
  const { ClientToken: _t, DryRun: _d, ...rest } = req as LaunchRequest & { DryRun?: boolean };
  return createHash('sha256').update(JSON.stringify(canonical(rest))).digest('hex');
}

export function randomMac(): string {
  const b = randomBytes(5);
  return ['02', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

export async function planLaunch(
  accountId: string,
  req: LaunchRequest,
  deps: { network: NetworkService; images: ImageService; keyPairs: KeyPairService; maxInstances: number; liveCount: number },
): Promise<LaunchPlan> {
  if (!req.ImageId) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
  parseId('image', req.ImageId);
  if (req.MinCount < 1) throw invalidParameterValue('MinCount', req.MinCount, 'MinCount must be at least 1.');
  if (req.MaxCount < 1) throw invalidParameterValue('MaxCount', req.MaxCount, 'MaxCount must be at least 1.');
  if (req.MinCount > req.MaxCount) throw invalidParameterValue('MinCount', req.MinCount, 'MinCount cannot be greater than MaxCount.');
  if (deps.liveCount + req.MinCount > deps.maxInstances) {
    throw new Ec2Error('InstanceLimitExceeded', `You have requested more instances (${deps.liveCount + req.MinCount}) than your current instance limit of ${deps.maxInstances} allows for the specified instance type.`);
  }
  const typeName = req.InstanceType ?? DEFAULT_INSTANCE_TYPE;
  const type = instanceType(typeName);
  if (!type) throw new Ec2Error('InvalidParameterValue', `Invalid value '${typeName}' for InstanceType.`);
  // Launch permissions: own, public or shared images only (AuthFailure for one that exists but is not shared).
  const image = await deps.images.launchable(accountId, req.ImageId);
  if (image.state !== 'available') throw new Ec2Error('InvalidAMIID.Unavailable', `Image ${image.id} is not available (state: ${image.state})`);
  if (image.architecture !== type.architecture) {
    throw new Ec2Error('InvalidParameterValue', `The architecture '${type.architecture}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI.`);
  }
  let keyPair: KeyPairRow | undefined;
  if (req.KeyName) {
    keyPair = await deps.keyPairs.byName(accountId, req.KeyName);
    if (!keyPair) throw new Ec2Error('InvalidKeyPair.NotFound', `The key pair '${req.KeyName}' does not exist`);
  }
  const userData = decodeUserData(req.UserData);

  const interfaces = req.NetworkInterfaces ?? [];
  if (interfaces.length) checkInterfaceList(req, interfaces, type);
  const eni = interfaces.find((n) => (n.DeviceIndex ?? 0) === 0);
  // An existing ENI at device index 0: the instance is launched on it (its subnet, groups, MAC and address).
  const existing = eni?.NetworkInterfaceId ? await availableEni(deps.network, accountId, eni.NetworkInterfaceId) : undefined;
  const subnetId = existing?.subnet_id ?? req.SubnetId ?? eni?.SubnetId;
  let subnet: SubnetRow;
  if (subnetId) {
    parseId('subnet', subnetId);
    const s = await deps.network.subnet(accountId, subnetId);
    if (!s) throw notFound('InvalidSubnetID', 'subnet ID', [subnetId]);
    subnet = s;
  } else {
    subnet = await deps.network.defaultSubnet(accountId, req.Placement?.AvailabilityZone);
  }
  if (req.Placement?.AvailabilityZone && req.Placement.AvailabilityZone !== subnet.availability_zone) {
    throw invalidParameterValue('Placement.AvailabilityZone', req.Placement.AvailabilityZone, `The subnet ${subnet.id} is in ${subnet.availability_zone}.`);
  }

  const inVpc = await deps.network.securityGroupsIn(accountId, subnet.vpc_id);
  const wantedIds = existing?.security_group_ids ?? req.SecurityGroupIds ?? eni?.Groups ?? [];
  for (const id of wantedIds) parseId('securityGroup', id);
  const missingIds = wantedIds.filter((id) => !inVpc.some((g) => g.id === id));
  if (missingIds.length) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${missingIds[0]}' does not exist in VPC '${subnet.vpc_id}'`);
  const byName = (req.SecurityGroups ?? []).map((n) => {
    const g = inVpc.find((x) => x.group_name === n);
    if (!g) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${n}' does not exist in VPC '${subnet.vpc_id}'`);
    return g.id;
  });
  let securityGroupIds = [...new Set([...wantedIds, ...byName])];
  if (!securityGroupIds.length) {
    const dflt = inVpc.find((g) => g.group_name === 'default');
    if (dflt) securityGroupIds = [dflt.id];
  }

  const listed = (eni?.PrivateIpAddresses ?? []).filter((a) => a.PrivateIpAddress);
  const privateIp = existing?.ips[0] ?? req.PrivateIpAddress ?? eni?.PrivateIpAddress ?? (listed.find((a) => a.Primary) ?? listed[0])?.PrivateIpAddress;
  if (privateIp && req.MaxCount > 1) {
    throw invalidParameterCombination('Cannot specify a PrivateIpAddress when launching more than one instance.');
  }
  const secondaryIps = listed.map((a) => a.PrivateIpAddress!).filter((ip) => ip !== privateIp);
  let secondary: SecondaryRequest | undefined;
  if (secondaryIps.length || eni?.SecondaryPrivateIpAddressCount) {
    secondary = secondaryIps.length ? { ips: secondaryIps } : { count: eni!.SecondaryPrivateIpAddressCount };
    if (secondaryIps.length && eni?.SecondaryPrivateIpAddressCount) {
      throw invalidParameterCombination('Specify either secondary PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.');
    }
    if (secondaryIps.length && req.MaxCount > 1) throw invalidParameterCombination('Cannot specify private IP addresses when launching more than one instance.');
    checkSecondaryRequest(secondary, 1, type.ipv4PerEni);
  }
  const extraInterfaces = await planExtraInterfaces(deps.network, accountId, interfaces, subnet, type, req.MaxCount);
  const sdb = req.InstanceInitiatedShutdownBehavior ?? 'stop';
  if (sdb !== 'stop' && sdb !== 'terminate') throw invalidParameterValue('InstanceInitiatedShutdownBehavior', sdb, 'Use stop or terminate.');

  return {
    fingerprint: launchFingerprint(req),
    image,
    type,
    keyPair,
    userData,
    subnet,
    securityGroupIds,
    privateIp,
    secondary,
    count: { min: req.MinCount, max: req.MaxCount },
    clientToken: req.ClientToken,
    disableApiTermination: req.DisableApiTermination ?? false,
    disableApiStop: req.DisableApiStop ?? false,
    shutdownBehavior: sdb,
    blockDeviceMappings: req.BlockDeviceMappings ?? [],
    metadataOptions: parseMetadataOptions(req.MetadataOptions),
    // AWS gives no public address to an instance launched with several interfaces or on an existing ENI.
    associatePublicIp: interfaces.length > 1 || existing ? false : (eni?.AssociatePublicIpAddress ?? subnet.map_public_ip_on_launch),
    primary: { existing, description: eni?.Description ?? '', deleteOnTermination: eni?.DeleteOnTermination ?? !existing },
    extraInterfaces,
  };
}
