/**
 * RunInstances' NetworkInterfaces: the rules AWS applies to the list (a device at index 0, unique indexes, no
 * instance-level subnet, groups or address beside it, the instance type's interface limit, one availability
 * zone) and the plan of each interface beyond the primary: a new ENI (its subnet, groups, addresses,
 * description, DeleteOnTermination true by default) or an existing `available` one attached at launch
 * (DeleteOnTermination false by default). The primary interface is planned by launch.ts, which reads the
 * device-0 entry as before; an existing ENI at index 0 is resolved here.
 */
import { Ec2Error, invalidParameterCombination, notFound } from '../../errors/index.js';
import { parseId } from '../../ids/index.js';
import type { InstanceTypeSpec } from '../../domain/instance-types.js';
import type { EniRow } from '../../db/repositories/enis.js';
import type { SubnetRow } from '../../db/repositories/network.js';
import type { NetworkService } from '../network/index.js';
import { checkSecondaryRequest, type SecondaryRequest } from '../network/private-ips.js';

/** One entry of RunInstances' NetworkInterfaces (the members this cloud reads). */
export interface InterfaceRequest {
  NetworkInterfaceId?: string;
  DeviceIndex?: number;
  SubnetId?: string;
  Groups?: string[];
  PrivateIpAddress?: string;
  PrivateIpAddresses?: { PrivateIpAddress?: string; Primary?: boolean }[];
  SecondaryPrivateIpAddressCount?: number;
  Description?: string;
  DeleteOnTermination?: boolean;
  AssociatePublicIpAddress?: boolean;
}

/** An interface of the launch beyond the primary one, checked. */
export interface PlannedInterface {
  deviceIndex: number;
  /** An existing `available` ENI, attached at launch (then nothing below but deleteOnTermination applies). */
  existing?: EniRow;
  subnet: SubnetRow;
  groups: string[];
  privateIp?: string;
  secondary?: SecondaryRequest;
  description: string;
  deleteOnTermination: boolean;
}

/** The primary interface's own settings beyond subnet, groups and addresses (which launch.ts plans). */
export interface PrimaryInterface {
  /** An existing `available` ENI at device index 0: the instance takes its subnet, groups, MAC and address. */
  existing?: EniRow;
  description: string;
  deleteOnTermination: boolean;
}

interface TopLevel {
  SubnetId?: string;
  SecurityGroupIds?: string[];
  SecurityGroups?: string[];
  PrivateIpAddress?: string;
  MaxCount: number;
}

/** The rules on the list as a whole, before anything is loaded. */
export function checkInterfaceList(req: TopLevel, list: InterfaceRequest[], type: InstanceTypeSpec): void {
  if (req.SubnetId) throw invalidParameterCombination('Network interfaces and an instance-level subnet ID may not be specified on the same request');
  if (req.SecurityGroupIds?.length || req.SecurityGroups?.length) {
    throw invalidParameterCombination('Network interfaces and an instance-level security groups may not be specified on the same request');
  }
  if (req.PrivateIpAddress) throw invalidParameterCombination('Network interfaces and an instance-level private IP address may not be specified on the same request');
  const seen = new Set<number>();
  for (const n of list) {
    if (n.DeviceIndex === undefined) throw new Ec2Error('InvalidParameterValue', 'Each network interface requires a device index.');
    if (!Number.isInteger(n.DeviceIndex) || n.DeviceIndex < 0 || n.DeviceIndex > 31) {
      throw new Ec2Error('InvalidParameterValue', `Value (${n.DeviceIndex}) for parameter deviceIndex is invalid.`);
    }
    if (seen.has(n.DeviceIndex)) throw new Ec2Error('InvalidParameterValue', 'Each network interface requires a unique device index.');
    seen.add(n.DeviceIndex);
    if (n.NetworkInterfaceId) {
      if (n.SubnetId || n.Groups?.length || n.PrivateIpAddress || n.PrivateIpAddresses?.length || n.SecondaryPrivateIpAddressCount) {
        throw invalidParameterCombination('A network interface ID may not be specified together with a subnet ID, security groups or private IP addresses for the same network interface.');
      }
      if (req.MaxCount > 1) throw invalidParameterCombination('Cannot specify a network interface ID when launching more than one instance.');
    }
    if (n.AssociatePublicIpAddress && n.DeviceIndex !== 0) {
      throw invalidParameterCombination('The associatePublicIPAddress parameter can only be specified for the network interface with DeviceIndex 0.');
    }
    if (n.AssociatePublicIpAddress && list.length > 1) {
      throw invalidParameterCombination('The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.');
    }
    if (n.AssociatePublicIpAddress && n.NetworkInterfaceId) {
      throw invalidParameterCombination('The associatePublicIPAddress parameter cannot be specified for an existing network interface.');
    }
  }
  if (!seen.has(0)) throw new Ec2Error('InvalidParameterValue', 'When specifying network interfaces, you must include a device at index 0.');
  if (list.length > type.maxEnis) throw new Ec2Error('AttachmentLimitExceeded', `Interface count ${list.length} exceeds the limit for ${type.name}`);
}

/** An existing ENI of the account that nothing uses (InvalidNetworkInterface.InUse otherwise). */
export async function availableEni(network: NetworkService, accountId: string, id: string): Promise<EniRow> {
  const [eni] = await network.enis.ofAccount(accountId, [parseId('networkInterface', id)]);
  if (!eni) throw notFound('InvalidNetworkInterfaceID', 'network interface ID', [id]);
  if (eni.instance_id || eni.interface_type !== 'interface') throw new Ec2Error('InvalidNetworkInterface.InUse', `Interface: [${eni.id}] in use.`);
  return eni;
}

/** The zone rule: every interface of an instance is in its availability zone. */
function sameZone(zone: string, other: { availability_zone: string }, what: string): void {
  if (other.availability_zone !== zone) {
    throw invalidParameterCombination(`The network interfaces of an instance must be in the same availability zone: ${what} is in ${other.availability_zone}, the instance in ${zone}.`);
  }
}

/** The entries at device index 1 and above, checked and resolved (primary: the subnet launch.ts chose). */
export async function planExtraInterfaces(
  network: NetworkService,
  accountId: string,
  list: InterfaceRequest[],
  primary: SubnetRow,
  type: InstanceTypeSpec,
  maxCount: number,
): Promise<PlannedInterface[]> {
  const out: PlannedInterface[] = [];
  for (const n of [...list].filter((x) => x.DeviceIndex !== 0).sort((a, b) => a.DeviceIndex! - b.DeviceIndex!)) {
    const deviceIndex = n.DeviceIndex!;
    if (n.NetworkInterfaceId) {
      const eni = await availableEni(network, accountId, n.NetworkInterfaceId);
      sameZone(primary.availability_zone, eni, eni.id);
      const subnet = await network.subnet(accountId, eni.subnet_id);
      if (!subnet) throw new Error(`subnet ${eni.subnet_id} of ${eni.id} is gone`);
      out.push({ deviceIndex, existing: eni, subnet, groups: eni.security_group_ids, description: eni.description, deleteOnTermination: n.DeleteOnTermination ?? false });
      continue;
    }
    if (!n.SubnetId) throw new Ec2Error('MissingParameter', `The network interface at device index ${deviceIndex} needs a SubnetId or a NetworkInterfaceId.`);
    const subnet = await network.subnet(accountId, parseId('subnet', n.SubnetId));
    if (!subnet) throw notFound('InvalidSubnetID', 'subnet ID', [n.SubnetId]);
    sameZone(primary.availability_zone, subnet, subnet.id);
    let groups = n.Groups?.length ? await network.checkGroupsIn(accountId, subnet.vpc_id, n.Groups.map((g) => parseId('securityGroup', g))) : undefined;
    if (!groups) {
      const dflt = (await network.securityGroupsIn(accountId, subnet.vpc_id)).find((g) => g.group_name === 'default');
      groups = dflt ? [dflt.id] : [];
    }
    const listed = (n.PrivateIpAddresses ?? []).filter((a) => a.PrivateIpAddress);
    const privateIp = n.PrivateIpAddress ?? (listed.find((a) => a.Primary) ?? listed[0])?.PrivateIpAddress;
    if ((privateIp || listed.length) && maxCount > 1) throw invalidParameterCombination('Cannot specify a PrivateIpAddress when launching more than one instance.');
    const secondaryIps = listed.map((a) => a.PrivateIpAddress!).filter((ip) => ip !== privateIp);
    if (secondaryIps.length && n.SecondaryPrivateIpAddressCount) {
      throw invalidParameterCombination('Specify either secondary PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.');
    }
    const secondary: SecondaryRequest | undefined = secondaryIps.length ? { ips: secondaryIps } : n.SecondaryPrivateIpAddressCount ? { count: n.SecondaryPrivateIpAddressCount } : undefined;
    if (secondary) checkSecondaryRequest(secondary, 1, type.ipv4PerEni);
    out.push({ deviceIndex, subnet, groups, privateIp, secondary, description: n.Description ?? '', deleteOnTermination: n.DeleteOnTermination ?? true });
  }
  return out;
}
