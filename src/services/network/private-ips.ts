/**
 * Secondary private IPv4 addresses of an ENI (AssignPrivateIpAddresses / UnassignPrivateIpAddresses, and the
 * secondary addresses CreateNetworkInterface and RunInstances ask for). Records only: the caller re-plugs the
 * ENI's port afterwards (the data plane admits exactly the port's addresses, and a container is given them on its
 * interface), see src/api/network-interfaces/private-ips.ts.
 *
 * AWS's rules: either addresses or a count (not both, not neither); the addresses of the ENI's subnet outside
 * its five reserved ones; an address another interface holds is refused (InvalidIPAddress.InUse) unless
 * AllowReassignment, and then only a secondary one moves (a primary address never does); the ENI's total stays
 * within the instance type's addresses per interface (PrivateIpAddressLimitExceeded); the primary address is
 * never unassigned.
 */
import { Ec2Error, invalidParameterCombination } from '../../errors/index.js';
import { isIpv4 } from '../../domain/ipv4.js';
import { instanceType } from '../../domain/instance-types.js';
import type { EniRow } from '../../db/repositories/enis.js';
import type { NetworkRepository, SubnetRow } from '../../db/repositories/network.js';
import type { Transaction } from '../../db/sql.js';

/** The addresses an unattached ENI may hold: the most any instance type here allows (an attachment checks again). */
export const MAX_IPS_UNATTACHED = 30;

export interface SecondaryRequest {
  ips?: string[];
  count?: number;
  allowReassignment?: boolean;
}

type Allocate = (subnet: SubnetRow, ownerId: string, wanted: string | undefined, t: Transaction, primary: boolean) => Promise<string>;

/** How many addresses an ENI may hold: its instance's type's limit per interface, or MAX_IPS_UNATTACHED. */
export function addressLimit(instanceTypeName: string | undefined): number {
  return (instanceTypeName && instanceType(instanceTypeName)?.ipv4PerEni) || MAX_IPS_UNATTACHED;
}

/** Checks a request before anything is written; returns how many addresses it adds. */
export function checkSecondaryRequest(req: SecondaryRequest, held: number, limit: number): number {
  const ips = req.ips ?? [];
  if (ips.length && req.count !== undefined) {
    throw invalidParameterCombination('Specify either PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.');
  }
  if (!ips.length && req.count === undefined) {
    throw invalidParameterCombination('Either PrivateIpAddresses or SecondaryPrivateIpAddressCount must be specified.');
  }
  if (req.count !== undefined && (!Number.isInteger(req.count) || req.count < 1)) {
    throw new Ec2Error('InvalidParameterValue', `Value (${req.count}) for parameter secondaryPrivateIpAddressCount is invalid. Expected a positive integer.`);
  }
  for (const ip of ips) if (!isIpv4(ip)) throw new Ec2Error('InvalidParameterValue', `Value (${ip}) for parameter privateIpAddress is invalid. Expected an IPv4 address.`);
  if (new Set(ips).size !== ips.length) throw new Ec2Error('InvalidParameterValue', 'The same address is specified more than once.');
  const adding = ips.length || req.count!;
  if (held + adding > limit) throw new Ec2Error('PrivateIpAddressLimitExceeded', 'Number of private addresses will exceed limit.');
  return adding;
}

/**
 * Gives the ENI its secondary addresses inside `t`: the ones asked for (moved from their holder with
 * allowReassignment) or `count` of the lowest free ones. Returns them and the owners addresses were taken from.
 */
export async function assignSecondary(
  repo: NetworkRepository,
  allocate: Allocate,
  eni: Pick<EniRow, 'id' | 'ips'>,
  subnet: SubnetRow,
  req: SecondaryRequest,
  t: Transaction,
): Promise<{ assigned: string[]; movedFrom: string[] }> {
  const assigned: string[] = [];
  const movedFrom = new Set<string>();
  for (const ip of req.ips ?? []) {
    if (eni.ips.includes(ip)) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${ip} is already assigned to ${eni.id}.`);
    try {
      assigned.push(await allocate(subnet, eni.id, ip, t, false));
    } catch (e) {
      if (!(e instanceof Ec2Error && e.code === 'InvalidIPAddress.InUse' && req.allowReassignment)) throw e;
      const from = await repo.reassignIp(subnet.id, ip, eni.id, t);
      // A primary address is its interface's for life: not even AllowReassignment moves it.
      if (!from) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${ip} is the primary address of another interface and cannot be reassigned.`);
      movedFrom.add(from);
      assigned.push(ip);
    }
  }
  for (let i = 0; i < (req.count ?? 0); i++) assigned.push(await allocate(subnet, eni.id, undefined, t, false));
  return { assigned, movedFrom: [...movedFrom] };
}

/** Checks an UnassignPrivateIpAddresses request against the ENI's addresses. */
export function checkUnassign(eni: Pick<EniRow, 'id' | 'ips'>, ips: string[] | undefined): string[] {
  if (!ips?.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter privateIpAddress');
  if (ips.includes(eni.ips[0]!)) {
    throw new Ec2Error('InvalidParameterValue', `The primary address ${eni.ips[0]} of ${eni.id} cannot be unassigned.`);
  }
  const foreign = ips.filter((ip) => !eni.ips.includes(ip));
  if (foreign.length) {
    throw new Ec2Error('InvalidParameterValue', `Some of the specified addresses are not assigned to interface ${eni.id}: ${foreign.join(', ')}`);
  }
  return [...new Set(ips)];
}
