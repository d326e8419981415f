/**
 * NAT gateways with AWS's semantics. A gateway is an ENI of type `nat_gateway` in its subnet (a private address
 * of that subnet, shown by DescribeNetworkInterfaces) and, when public, an Elastic IP associated with that ENI.
 * The VPC router realises it (src/adapters/ovs/edge.ts): a route to it goes out by the internet uplink, its
 * traffic translated to the gateway's Elastic IP; nothing comes in by that address but replies.
 *
 * States as AWS: pending → available; deleting → deleted; failed when it could not be made (an Elastic IP
 * already associated, no internet gateway on the VPC, a full subnet), with AWS's failure code and message.
 * Deleted and failed gateways stay visible for an hour (the describe scope). Every write is committed before
 * the data plane is told (`onChange`), and `reconcile` finishes a create or delete a crash interrupted.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import { randomMac } from '../instances/launch.js';
import type { NetworkRepository, SubnetRow } from '../../db/repositories/network.js';
import type { AddressRow } from '../../db/repositories/addresses.js';
import type { NatRow, NewNat } from '../../db/repositories/nat-gateways.js';
import type { NewEni } from '../../db/repositories/enis.js';
import type { Transaction } from '../../db/sql.js';

export interface NatCreateInput {
  subnetId: string;
  allocationId?: string;
  connectivityType?: string;
  privateIpAddress?: string;
  clientToken?: string;
}

export interface NatCreatePlan {
  subnet: SubnetRow;
  connectivity: 'public' | 'private';
  address?: AddressRow;
  privateIp?: string;
  clientToken?: string;
  /** The gateway an earlier request with this ClientToken made (answered again, nothing made). */
  existing?: NatRow;
}

export class NatAdmin {
  constructor(
    private readonly repo: NetworkRepository,
    private readonly subnetOf: (accountId: string, id: string) => Promise<SubnetRow>,
    private readonly createEni: (eni: NewEni, subnet: SubnetRow, wantedIp: string | undefined, t: Transaction) => Promise<string>,
    private readonly onChange: (vpcId: string) => Promise<void>,
  ) {}

  /** AWS's synchronous checks; what AWS reports as a failed gateway instead is left to `create`. */
  async checkCreate(accountId: string, input: NatCreateInput): Promise<NatCreatePlan> {
    const connectivity = input.connectivityType ?? 'public';
    if (connectivity !== 'public' && connectivity !== 'private') {
      throw new Ec2Error('InvalidParameterValue', `Value (${connectivity}) for parameter connectivityType is invalid. Valid values: public, private.`);
    }
    const subnet = await this.subnetOf(accountId, input.subnetId);
    if (input.clientToken) {
      const existing = await this.repo.nats.byClientToken(accountId, input.clientToken);
      if (existing) {
        if (existing.subnet_id !== subnet.id || existing.connectivity_type !== connectivity || (input.allocationId ?? null) !== existing.allocation_id) {
          throw new Ec2Error('IdempotentParameterMismatch', 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
        }
        return { subnet, connectivity, existing };
      }
    }
    if (connectivity === 'private') {
      if (input.allocationId !== undefined) throw new Ec2Error('InvalidParameterCombination', 'An Elastic IP address cannot be associated with a private NAT gateway.');
      return { subnet, connectivity, privateIp: input.privateIpAddress, clientToken: input.clientToken };
    }
    if (input.allocationId === undefined) throw new Ec2Error('MissingParameter', 'The request must contain the parameter AllocationId for a public NAT gateway.');
    const address = await this.repo.addresses.byId(input.allocationId);
    if (!address || address.auto || address.account_id.trim() !== accountId) {
      throw new Ec2Error('InvalidElasticIpID.NotFound', `The elasticIp ID '${input.allocationId}' does not exist`);
    }
    return { subnet, connectivity, address, privateIp: input.privateIpAddress, clientToken: input.clientToken };
  }

  /** Makes the gateway (pending, then available once the data plane was told) or records it failed. */
  async create(accountId: string, p: NatCreatePlan): Promise<NatRow> {
    if (p.existing) return p.existing;
    const id = newId('natGateway');
    const base: NewNat = {
      id, account_id: accountId, vpc_id: p.subnet.vpc_id, subnet_id: p.subnet.id, connectivity_type: p.connectivity, state: 'pending',
      allocation_id: p.address?.id ?? null, association_id: null, public_ip: p.address?.public_ip ?? null, network_interface_id: null, private_ip: null,
      failure_code: null, failure_message: null, client_token: p.clientToken ?? null,
    };
    const failed = async (code: string, message: string) => {
      await this.repo.nats.insert({ ...base, state: 'failed', failure_code: code, failure_message: message });
      return (await this.repo.nats.get(accountId, id))!;
    };
    if (p.address?.association_id) return failed('Resource.AlreadyAssociated', `Elastic IP address [${p.address.id}] is already associated`);
    if (p.connectivity === 'public' && !(await this.repo.routes.gatewayOfVpc(p.subnet.vpc_id))) {
      return failed('Gateway.NotAttached', `Network ${p.subnet.vpc_id} has no Internet gateway attached`);
    }
    try {
      await this.repo.tx(async (t) => {
        const eniId = newId('networkInterface');
        const eni: NewEni = {
          id: eniId, account_id: accountId, vpc_id: p.subnet.vpc_id, subnet_id: p.subnet.id, availability_zone: p.subnet.availability_zone,
          mac_address: randomMac(), description: `Interface for NAT Gateway ${id}`, source_dest_check: false, security_group_ids: [],
          instance_id: null, device_index: null, attachment_id: null, delete_on_termination: false,
        };
        const ip = await this.createEni(eni, p.subnet, p.privateIp, t);
        await this.repo.nats.markEni(eniId, t);
        let associationId: string | null = null;
        if (p.address) {
          associationId = newId('addressAssociation');
          if (!(await this.repo.nats.claimAddress(p.address.id, associationId, eniId, ip, t))) throw new Ec2Error('Resource.AlreadyAssociated', `Elastic IP address [${p.address.id}] is already associated`);
        }
        await this.repo.nats.insert({ ...base, association_id: associationId, network_interface_id: eniId, private_ip: ip }, t);
      });
    } catch (e) {
      if (e instanceof Ec2Error && (e.code === 'Resource.AlreadyAssociated' || e.code === 'InsufficientFreeAddressesInSubnet')) {
        return failed(e.code, e.code === 'Resource.AlreadyAssociated' ? e.message : 'Subnet has insufficient free addresses to create this NAT gateway');
      }
      throw e;
    }
    const pending = (await this.repo.nats.get(accountId, id))!;
    await this.onChange(p.subnet.vpc_id);
    await this.repo.nats.setState(id, ['pending'], 'available');
    return pending; // AWS answers CreateNatGateway with the gateway still pending
  }

  async checkDelete(accountId: string, id: string): Promise<NatRow> {
    const n = await this.repo.nats.get(accountId, id);
    if (!n) throw natNotFound(id);
    return n;
  }

  /** Deleting, its address disassociated and its ENI removed, then deleted (a deleted one: nothing to do). */
  async delete(n: NatRow): Promise<void> {
    if (n.state === 'deleted' || n.state === 'failed') return;
    await this.repo.nats.setState(n.id, ['pending', 'available'], 'deleting');
    await this.finishDelete(n);
  }

  private async finishDelete(n: NatRow): Promise<void> {
    await this.releaseHeld(n);
    await this.onChange(n.vpc_id);
    await this.repo.nats.setState(n.id, ['deleting'], 'deleted');
  }

  private releaseHeld(n: NatRow): Promise<void> {
    return this.repo.tx(async (t) => {
      if (n.association_id) await this.repo.nats.releaseAddress(n.association_id, t);
      if (n.network_interface_id) await this.repo.nats.deleteEni(n.network_interface_id, t);
    });
  }

  /**
   * Finishes in the records what a crash interrupted (a pending gateway becomes available, a deleting one
   * deleted); the full network sync that follows gives the data plane the result.
   */
  async reconcileRecords(): Promise<void> {
    for (const n of await this.repo.nats.live()) {
      if (n.state === 'deleting') {
        await this.releaseHeld(n);
        await this.repo.nats.setState(n.id, ['deleting'], 'deleted');
      } else if (n.state === 'pending') {
        await this.repo.nats.setState(n.id, ['pending'], 'available');
      }
    }
  }
}

export function natNotFound(id: string): Ec2Error {
  return new Ec2Error('NatGatewayNotFound', `NAT gateway ${id} was not found`);
}
