/**
 * Elastic IPs with AWS's semantics: an address of the operator's pool (THECLOUD_PUBLIC_IPV4_POOL) allocated to
 * an account, associated with an ENI's private address in a VPC that has an internet gateway. The router of
 * that VPC maps it (DNAT in, SNAT out: src/adapters/ovs/edge.ts) once `onChange` has told the data plane.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { AddressRepository, AddressRow } from '../../db/repositories/addresses.js';
import type { RouteRepository } from '../../db/repositories/routes.js';
import type { EniRow, EniRepository } from '../../db/repositories/enis.js';
import type { Transaction } from '../../db/sql.js';
import { ipToInt } from '../../domain/ipv4.js';

export class AddressAdmin {
  pool = '198.18.0.0/15';
  /**
   * Where in the pool the last public address on launch was handed out: the next goes after it, so a stopped and
   * started instance gets a new address (as on AWS), not the one it just gave back. Kept in memory; after a
   * restart it starts after the highest address held.
   */
  private lastAuto: number | undefined;

  constructor(
    private readonly repo: AddressRepository,
    private readonly routes: RouteRepository,
    private readonly enis: EniRepository,
    private readonly onChange: (vpcId: string) => Promise<void>,
  ) {}

  async allocate(accountId: string): Promise<AddressRow> {
    for (let i = 0; i < 3; i++) {
      const id = newId('address');
      if (await this.repo.allocate(id, accountId, this.pool)) return (await this.repo.byId(id))!;
    }
    throw new Ec2Error('AddressLimitExceeded', 'The maximum number of addresses has been reached.');
  }

  /** The caller's address by allocation id or public IP (another account's public IP: AuthFailure, as AWS). */
  async find(accountId: string, by: { allocationId?: string; publicIp?: string }): Promise<AddressRow> {
    if (by.allocationId) {
      const a = await this.repo.byId(by.allocationId);
      if (!a || a.auto || a.account_id.trim() !== accountId) throw new Ec2Error('InvalidAllocationID.NotFound', `The allocation ID '${by.allocationId}' does not exist`);
      return a;
    }
    if (by.publicIp) {
      const a = /^\d{1,3}(\.\d{1,3}){3}$/.test(by.publicIp) ? await this.repo.byIp(by.publicIp) : undefined;
      if (!a || a.auto) throw new Ec2Error('InvalidAddress.NotFound', `Address '${by.publicIp}' not found.`);
      if (a.account_id.trim() !== accountId) throw new Ec2Error('AuthFailure', `The address '${by.publicIp}' does not belong to you.`);
      return a;
    }
    throw new Ec2Error('MissingParameter', 'Either AllocationId or PublicIp must be specified.');
  }

  async checkAssociate(
    accountId: string,
    by: { allocationId?: string; publicIp?: string },
    target: { instanceId?: string; eniId?: string; privateIp?: string; allowReassociation?: boolean },
  ): Promise<{ address: AddressRow; eni: EniRow; privateIp: string }> {
    const address = await this.find(accountId, by);
    if (!target.instanceId && !target.eniId) throw new Ec2Error('MissingParameter', 'Either InstanceId or NetworkInterfaceId must be specified.');
    let eni: EniRow | undefined;
    if (target.eniId) {
      eni = (await this.enis.ofAccount(accountId, [target.eniId]))[0];
      if (!eni) throw new Ec2Error('InvalidNetworkInterfaceID.NotFound', `The networkInterface ID '${target.eniId}' does not exist`);
    } else {
      const r = await this.routes.routeEni(accountId, { instanceId: target.instanceId });
      if (!r) throw new Ec2Error('InvalidInstanceID.NotFound', `The instance ID '${target.instanceId}' does not exist`);
      eni = (await this.enis.ofAccount(accountId, [r.id]))[0]!;
    }
    // A NAT gateway's address and interface are AWS's to manage, not the caller's.
    if (eni.interface_type === 'nat_gateway' || (address.network_interface_id && (await this.natEni(address.network_interface_id)))) {
      throw new Ec2Error('AuthFailure', 'You do not have permission to access the specified resource.');
    }
    const privateIp = target.privateIp ?? eni.ips[0]!;
    if (!eni.ips.includes(privateIp)) {
      throw new Ec2Error('InvalidParameterValue', `The private IP address ${privateIp} is not assigned to interface ${eni.id}.`);
    }
    if (!(await this.routes.gatewayOfVpc(eni.vpc_id))) {
      throw new Ec2Error('Gateway.NotAttached', `Network ${eni.vpc_id} is not attached to any internet gateway`);
    }
    const onIt = await this.repo.onPrivate(eni.id, privateIp);
    const there = onIt?.auto ? undefined : onIt; // a public address on launch gives way to an Elastic IP, as on AWS
    if (address.association_id && target.allowReassociation === false) {
      throw new Ec2Error('Resource.AlreadyAssociated', `resource ${address.id} is already associated with associate-id ${address.association_id}`);
    }
    if (there && there.id !== address.id && target.allowReassociation === false) {
      throw new Ec2Error('Resource.AlreadyAssociated', `the private address ${privateIp} of ${eni.id} already has a public address`);
    }
    return { address, eni, privateIp };
  }

  async associate(p: { address: AddressRow; eni: EniRow; privateIp: string }): Promise<string> {
    const id = newId('addressAssociation');
    const oldVpc = p.address.network_interface_id ? (await this.enis.ofAccount(p.address.account_id.trim(), [p.address.network_interface_id]))[0]?.vpc_id : undefined;
    const there = await this.repo.onPrivate(p.eni.id, p.privateIp);
    await this.routes.tx(async (t) => {
      await this.repo.releaseAuto(p.eni.id, t);
      if (there && there.id !== p.address.id) await this.repo.disassociate(there.id, t);
      await this.repo.associate(p.address.id, id, p.eni.id, p.privateIp, t);
    });
    if (oldVpc && oldVpc !== p.eni.vpc_id) await this.onChange(oldVpc);
    await this.onChange(p.eni.vpc_id);
    return id;
  }

  async checkDisassociate(accountId: string, by: { associationId?: string; publicIp?: string }): Promise<AddressRow> {
    const a = await this.findAssociated(accountId, by);
    if (a.network_interface_id && (await this.natEni(a.network_interface_id))) {
      throw new Ec2Error('AuthFailure', 'You do not have permission to access the specified resource.');
    }
    return a;
  }

  private async findAssociated(accountId: string, by: { associationId?: string; publicIp?: string }): Promise<AddressRow> {
    if (by.associationId) {
      const a = await this.repo.byAssociation(by.associationId);
      if (!a || a.auto || a.account_id.trim() !== accountId) throw new Ec2Error('InvalidAssociationID.NotFound', `The association ID '${by.associationId}' does not exist`);
      return a;
    }
    const a = await this.find(accountId, { publicIp: by.publicIp });
    if (!a.association_id) throw new Ec2Error('InvalidAssociationID.NotFound', `The address '${by.publicIp}' is not associated`);
    return a;
  }

  private async natEni(eniId: string): Promise<boolean> {
    return (await this.enis.get(eniId))?.interface_type === 'nat_gateway';
  }

  async disassociate(a: AddressRow): Promise<void> {
    const vpc = a.network_interface_id ? (await this.enis.ofAccount(a.account_id.trim(), [a.network_interface_id]))[0]?.vpc_id : undefined;
    await this.repo.disassociate(a.id);
    // An interface launched with a public address gets a fresh one back while its instance runs (as on AWS).
    if (a.network_interface_id && (await this.repo.publicIpWish(a.network_interface_id)).running) await this.assignPublicIp(a.network_interface_id, false);
    if (vpc) await this.onChange(vpc);
  }

  // ---- public IPv4 addresses on launch: held by an ENI that asks for one while its instance runs

  /** Records that the ENI asks for a public address (RunInstances, inside its transaction). */
  wantPublicIp(eniId: string, t: Transaction): Promise<void> {
    return this.repo.wantPublicIp(eniId, t);
  }

  /** Gives the ENI a public address of the pool when it asks for one and has none (an instance's boot). */
  async assignPublicIp(eniId: string, apply = true): Promise<void> {
    if (!(await this.repo.publicIpWish(eniId)).wants) return;
    const eni = await this.enis.get(eniId);
    const ip = eni?.ips[0];
    if (!eni || !ip || (await this.repo.onPrivate(eni.id, ip))) return;
    this.lastAuto ??= await this.repo.lastAuto(this.pool);
    for (let i = 0; i < 3; i++) {
      const got = await this.repo.allocateAuto(newId('address'), eni.account_id.trim(), this.pool, newId('addressAssociation'), eni.id, ip, this.lastAuto);
      if (got) {
        const span = 2 ** (32 - Number(this.pool.split('/')[1]));
        this.lastAuto = ipToInt(got) - Math.floor(ipToInt(this.pool.split('/')[0]!) / span) * span;
        break;
      }
      if (await this.repo.onPrivate(eni.id, ip)) break; // one came meanwhile
    }
    // A pool with nothing left: the instance runs without a public address (a warning in the log is the caller's).
    if (apply) await this.onChange(eni.vpc_id);
  }

  /** Releases the ENI's public address on launch (an instance's stop or termination). */
  async releasePublicIp(eniId: string): Promise<void> {
    const eni = await this.enis.get(eniId);
    if ((await this.repo.releaseAuto(eniId)) && eni) await this.onChange(eni.vpc_id);
  }

  async checkRelease(accountId: string, by: { allocationId?: string; publicIp?: string }): Promise<AddressRow> {
    const a = await this.find(accountId, by);
    if (a.association_id) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${a.public_ip} is in use.`);
    return a;
  }

  /** An Elastic IP's reverse DNS name (null: AWS's default name). */
  setPtrRecord(id: string, value: string | null): Promise<void> {
    return this.repo.setPtrRecord(id, value);
  }

  release(a: AddressRow): Promise<void> {
    return this.repo.release(a.id);
  }
}
