/**
 * EC2 network records: each account's default VPC (172.31.0.0/16) with a default subnet per availability zone
 * and a default security group, and the per-subnet IP allocator. The full VPC API builds on these records.
 */
import { newId } from '../../ids/index.js';
import type { NetworkRepository, SubnetRow, VpcRow, SecurityGroupRow, SecurityGroupRuleRow } from '../../db/repositories/network.js';
import type { DesiredNetwork, NetworkBackend, PortSpec, Sandbox, VmInterface } from '../../ports/index.js';
import type { EniRepository, EniRow, NewEni } from '../../db/repositories/enis.js';
import { portSpec, securityModel, subnetSpec, vpcSpec } from './dataplane.js';
import { VpcAdmin } from './vpcs.js';
import { VpcCidrAdmin } from './vpc-cidrs.js';
import { AclAdmin } from './acls.js';
import { DhcpAdmin } from './dhcp.js';
import { EdgeAdmin } from './routes.js';
import { routingOf, vpcRouting } from './routing.js';
import { AddressAdmin } from './addresses.js';
import { NatAdmin } from './nat-gateways.js';
import { EniAttachments } from './attachments.js';
import { assignSecondary, type SecondaryRequest } from './private-ips.js';
import type { CatalogService } from '../catalog/index.js';
import { Ec2Error } from '../../errors/index.js';
import { cidrContains, ipToInt, isIpv4 } from '../../domain/ipv4.js';
import type { Logger } from '../../server/log.js';
import type { Transaction } from '../../db/sql.js';

export const DEFAULT_VPC_CIDR = '172.31.0.0/16';

/** Where the host's links into VPCs live (THECLOUD_HOST_VPCS; see the OVS adapter's hostLinkAddresses). */
export const HOST_LINKS_CIDR = '169.254.252.0/22';

/** The n-th /20 of 172.31.0.0/16, as AWS lays out default subnets. */
export function defaultSubnetCidr(n: number): string {
  return `172.31.${n * 16}.0/20`;
}

/** Addresses a subnet offers: its size less AWS's five reserved (network, router, DNS, future, broadcast). */
export function subnetCapacity(cidr: string): number {
  return 2 ** (32 - Number(cidr.split('/')[1])) - 5;
}

export class NetworkService {
  /** The VPC API's writes (CreateVpc, subnets, groups, rules). */
  readonly admin: VpcAdmin;
  /** Network ACLs (their API and their model for the data plane). */
  readonly acls: AclAdmin;
  /** DHCP options sets (records only). */
  readonly dhcp: DhcpAdmin;

  /** The region this server is (private DNS names depend on it). */
  get region(): string {
    return this.catalog.region;
  }
  /** Route tables and internet gateways. */
  readonly edge: EdgeAdmin;
  /** Elastic IPs. */
  readonly addresses: AddressAdmin;
  /** NAT gateways. */
  readonly nats: NatAdmin;
  /** A VPC's secondary IPv4 CIDR blocks. */
  readonly cidrs: VpcCidrAdmin;
  /** ENI attachments' records (AttachNetworkInterface / DetachNetworkInterface). */
  readonly attachments: EniAttachments;

  constructor(
    private readonly repo: NetworkRepository,
    private readonly catalog: CatalogService,
    private readonly backend: NetworkBackend,
    private readonly log: Pick<Logger, 'warn'>,
  ) {
    this.edge = new EdgeAdmin(repo.routes, (a, id) => this.admin.vpc(a, id), (a, id) => this.admin.subnet(a, id), (vpcId) => this.applyRoutes(vpcId));
    this.addresses = new AddressAdmin(repo.addresses, repo.routes, repo.enis, (vpcId) => this.applyRoutes(vpcId));
    this.nats = new NatAdmin(repo, (a, id) => this.admin.subnet(a, id), (eni, s, ip, t) => this.createEni(eni, s, ip, t), (vpcId) => this.applyRoutes(vpcId));
    this.admin = new VpcAdmin(repo, backend, log, () => (this.needsSync = true), (vpcIds) => this.applySecurity(vpcIds), this.edge);
    this.acls = new AclAdmin(repo, backend, log, () => (this.needsSync = true));
    this.dhcp = new DhcpAdmin(repo);
    this.attachments = new EniAttachments(repo.enis);
    this.cidrs = new VpcCidrAdmin(repo, backend, (a, id) => this.admin.vpc(a, id), async (what, fn) => {
      try {
        await fn();
      } catch (e) {
        this.needsSync = true;
        this.log.warn(`network backend could not ${what}; will retry`, { error: (e as Error).message });
      }
    });
  }

  /** Whether instances get their network from the network backend (not with NETWORK_BACKEND=noop). */
  get plugsPorts(): boolean {
    return this.backend.name !== 'noop';
  }

  zones(): string[] {
    return this.catalog.zones().map((z) => z.name);
  }

  /** Creates the account's default VPC, subnets and security group once (idempotent, safe under concurrency). */
  async ensureDefaults(accountId: string): Promise<void> {
    const made = await this.repo.tx(async (t) => {
      await this.repo.lockAccount(accountId, t);
      if (await this.repo.defaultVpc(accountId, t)) return undefined;
      const vpcId = newId('vpc');
      await this.repo.insertVpc({ id: vpcId, account_id: accountId, cidr_block: DEFAULT_VPC_CIDR, is_default: true, state: 'available', instance_tenancy: 'default' }, t);
      const subnets: { id: string; cidr: string }[] = [];
      for (const [i, zone] of this.catalog.zones().entries()) {
        const id = newId('subnet');
        const cidr = defaultSubnetCidr(i);
        subnets.push({ id, cidr });
        await this.repo.insertSubnet(
          { id, account_id: accountId, vpc_id: vpcId, cidr_block: cidr, availability_zone: zone.name, default_for_az: true, map_public_ip_on_launch: true, state: 'available' },
          t,
        );
      }
      const sgId = newId('securityGroup');
      await this.repo.insertSecurityGroup({ id: sgId, account_id: accountId, vpc_id: vpcId, group_name: 'default', description: 'default VPC security group' }, t);
      // AWS's default group: all traffic from members of the group itself, all traffic out.
      await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: sgId, account_id: accountId, is_egress: false, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: null, referenced_group_id: sgId, description: null }, t);
      await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: sgId, account_id: accountId, is_egress: true, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: '0.0.0.0/0', referenced_group_id: null, description: null }, t);
      await this.repo.acls.insertDefault(accountId, vpcId, t);
      await this.edge.insertDefaultEdge(accountId, vpcId, DEFAULT_VPC_CIDR, t);
      // Not AWS's: the host's link into the VPC (THECLOUD_HOST_VPCS, by default the first account's default VPC)
      // is admitted, so that `ssh ec2-user@<PrivateIp>` works from the host out of the box. A visible rule the
      // user can revoke.
      await this.repo.insertRule({ id: newId('securityGroupRule'), group_id: sgId, account_id: accountId, is_egress: false, ip_protocol: '-1', from_port: null, to_port: null, cidr_ipv4: HOST_LINKS_CIDR, referenced_group_id: null, description: 'the host (THECLOUD_HOST_VPCS)' }, t);
      return { vpcId, subnets };
    });
    if (made) {
      const vpc = (await this.repo.vpcs(accountId)).find((v) => v.id === made.vpcId)!;
      await this.realise(vpc, made.subnets);
    }
  }

  /**
   * Makes the recorded VPC exist on the network backend. The records are committed first, so a backend that
   * is down leaves a record that `reconcile` realises later instead of failing the account's set-up.
   */
  async realise(vpc: VpcRow, subnets: { id: string; cidr: string }[]): Promise<void> {
    try {
      await this.backend.ensureVpc(vpcSpec(vpc));
      for (const s of subnets) await this.backend.ensureSubnet(subnetSpec({ id: s.id, vpc_id: vpc.id, cidr_block: s.cidr }));
      await this.applyRoutes(vpc.id);
    } catch (e) {
      this.needsSync = true;
      this.log.warn('network backend could not realise VPC; will retry', { vpcId: vpc.id, error: (e as Error).message });
    }
  }

  /** Re-applies every recorded VPC and subnet to the network backend (start-up, after a backend outage). */
  async reconcile(accountId: string): Promise<void> {
    const subnets = await this.repo.subnets(accountId);
    for (const v of await this.repo.vpcs(accountId)) {
      await this.realise(v, subnets.filter((s) => s.vpc_id === v.id).map((s) => ({ id: s.id, cidr: s.cidr_block })));
    }
  }

  // ---- the data plane: ENIs as ports, the security model, sync

  /** Set when a backend call failed: the next reconciliation pass syncs the whole network from the records. */
  needsSync = false;

  get enis(): EniRepository {
    return this.repo.enis;
  }

  /**
   * Gives an ENI its primary address, then records it (inside `t` when given, with the record that owns it).
   * The address first: when the subnet is full nothing is written, and the caller's transaction goes on.
   */
  async createEni(eni: NewEni, subnet: SubnetRow, wantedIp?: string, t?: Transaction, secondary?: SecondaryRequest): Promise<string> {
    const go = async (tx: Transaction) => {
      const ip = await this.allocateIp(subnet, eni.id, wantedIp, tx);
      if (secondary && (secondary.ips?.length || secondary.count)) {
        await assignSecondary(this.repo, (s, o, w, x, p) => this.allocateIp(s, o, w, x, p), { id: eni.id, ips: [ip] }, subnet, secondary, tx);
      }
      await this.repo.enis.insert(eni, tx);
      return ip;
    };
    return t ? go(t) : this.repo.tx(go);
  }

  /**
   * AssignPrivateIpAddresses on the records (checked by checkSecondaryRequest first): the ENI's new secondary
   * addresses, and the ENIs addresses were moved from (AllowReassignment), whose ports change as well.
   */
  async assignIps(eni: EniRow, req: SecondaryRequest): Promise<{ assigned: string[]; movedFrom: string[] }> {
    const subnet = await this.repo.subnet(eni.account_id.trim(), eni.subnet_id);
    if (!subnet) throw new Error(`subnet ${eni.subnet_id} of ${eni.id} is gone`);
    return this.repo.tx((t) => assignSecondary(this.repo, (s, o, w, x, p) => this.allocateIp(s, o, w, x, p), eni, subnet, req, t));
  }

  /** UnassignPrivateIpAddresses on the records (checked by checkUnassign first). */
  async unassignIps(eni: Pick<EniRow, 'id' | 'vpc_id'>, ips: string[]): Promise<void> {
    // An Elastic IP on a released address is disassociated: its translation goes with it.
    if (await this.repo.releaseSecondaryIps(eni.id, ips)) await this.applyRoutes(eni.vpc_id);
  }

  /**
   * An instance's termination: each ENI attached to it goes as its attachment says, deleted (with its addresses)
   * when DeleteOnTermination, else detached and `available` again (an existing ENI attached at launch or by
   * AttachNetworkInterface, unless asked otherwise). Idempotent: a kept ENI, once detached, is no longer the
   * instance's. Returns the VPCs of the ENIs it released (their security models changed).
   */
  async releaseInterfaces(instanceId: string): Promise<string[]> {
    const enis = await this.repo.enis.ofInstance(instanceId);
    for (const e of enis) {
      if (e.delete_on_termination) await this.deleteEni(e.id, e.vpc_id);
      else await this.repo.enis.detach(e.id);
    }
    return [...new Set(enis.map((e) => e.vpc_id))];
  }

  /**
   * Removes the ENI's record and addresses (idempotent). When it held a public address or was a route's target,
   * the VPC's routing is applied again: no translation or route to its private address (free again, and soon
   * another interface's) outlives it; such a route is a blackhole now, as on AWS.
   */
  async deleteEni(id: string, vpcId: string): Promise<void> {
    const routed = await this.repo.routes.targetsEni(id);
    if ((await this.repo.enis.delete(id)) || routed) await this.applyRoutes(vpcId);
  }

  /** The ENI as the data plane's port. */
  async port(eni: EniRow): Promise<PortSpec> {
    const subnet = await this.repo.subnet(eni.account_id.trim(), eni.subnet_id);
    if (!subnet) throw new Error(`subnet ${eni.subnet_id} of ${eni.id} is gone`);
    return portSpec(eni, subnet);
  }

  vmInterface(port: PortSpec): VmInterface {
    return this.backend.vmInterface(port);
  }

  /** A container port made ahead of its sandbox, where the backend can (a no-op where it cannot). */
  async prepare(port: PortSpec): Promise<void> {
    await this.backend.prepare?.(port);
  }

  plug(port: PortSpec, sandbox: Sandbox): Promise<void> {
    return this.backend.plug(port, sandbox);
  }

  unplug(eniId: string): Promise<void> {
    return this.backend.unplug(eniId);
  }

  /** The account's groups with these ids, all in `vpcId` (InvalidGroup.NotFound otherwise), deduplicated. */
  async checkGroupsIn(accountId: string, vpcId: string, ids: string[]): Promise<string[]> {
    const inVpc = await this.repo.securityGroupsIn(accountId, vpcId);
    for (const id of ids) {
      if (!inVpc.some((g) => g.id === id)) throw new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist in VPC '${vpcId}'`);
    }
    if (ids.length > 5) throw new Ec2Error('SecurityGroupsPerInterfaceLimitExceeded', 'The maximum number of security groups per interface has been reached.');
    return [...new Set(ids)];
  }

  /**
   * An ENI's groups change (ModifyInstanceAttribute GroupId, ModifyNetworkInterfaceAttribute): the records, then
   * the port (when plugged) and its VPC's model (members of the groups changed).
   */
  async setEniGroups(eni: { id: string; vpcId: string }, groups: string[], opts: { instanceId?: string; running: boolean }): Promise<void> {
    await this.repo.enis.update(eni.id, { security_group_ids: groups });
    if (opts.instanceId) await this.repo.admin.setInstanceGroups(opts.instanceId, groups);
    await this.applySecurity([eni.vpcId], opts.running ? [{ eniId: eni.id, groups }] : []);
  }

  /** A VPC's routing changed (route tables, associations, gateways): the data plane follows, from that VPC's records. */
  async applyRoutes(vpcId: string): Promise<void> {
    if (!this.plugsPorts || !this.backend.setRouting) return;
    try {
      const routing = await vpcRouting(this.repo, vpcId, (e) => this.ipsOf(e));
      await this.backend.setRouting(routing);
    } catch (e) {
      this.needsSync = true;
      this.log.warn('network backend could not apply the routes; will retry', { vpcId, error: (e as Error).message });
    }
  }

  /** The security model of these VPCs: their groups, rules and ENIs, read by VPC (a group's peers are in its VPC). */
  async securityModelOf(vpcIds: string[]) {
    const [groups, rules, enis] = await Promise.all([this.repo.securityGroupsOfVpcs(vpcIds), this.repo.rulesOfVpcs(vpcIds), this.repo.enis.ofVpcs(vpcIds)]);
    return securityModel(groups, rules, enis);
  }

  /**
   * Gives the data plane the security model of the VPCs where rules or membership changed (the change's VPC: the
   * group's, the ENI's, the instance's interfaces'), so that its cost follows what those VPCs hold, not the
   * installation. The records are the truth: a backend failure is logged and left to the next reconciliation pass
   * (a full sync).
   */
  async applySecurity(vpcIds: string[], changedPorts: { eniId: string; groups: string[] }[] = []): Promise<void> {
    if (!this.plugsPorts) return; // nothing programs ports: no model to read
    const scope = [...new Set(vpcIds)];
    try {
      for (const p of changedPorts) await this.backend.setPortSecurityGroups(p.eniId, p.groups);
      if (scope.length) await this.backend.setSecurityGroups(await this.securityModelOf(scope), { vpcIds: scope });
    } catch (e) {
      this.needsSync = true;
      this.log.warn('network backend could not apply the security groups; will retry', { vpcIds: scope, error: (e as Error).message });
    }
  }

  /**
   * Makes the data plane match the records exactly (start-up, repair): every VPC and subnet, the ENIs attached
   * to instances whose sandbox `sandboxOf` finds (running ones), and the security model.
   */
  async sync(sandboxOf: (eni: EniRow, port: PortSpec) => Promise<Sandbox | undefined>): Promise<void> {
    await this.nats.reconcileRecords();
    const subnets = await this.repo.allSubnets();
    const enis = await this.repo.enis.all();
    const ports: DesiredNetwork['ports'] = [];
    for (const eni of enis) {
      if (!eni.instance_id) continue;
      const subnet = subnets.find((s) => s.id === eni.subnet_id);
      if (!subnet) continue;
      const port = portSpec(eni, subnet);
      const sandbox = await sandboxOf(eni, port).catch(() => undefined);
      if (sandbox) ports.push({ port, sandbox });
    }
    const vpcs = await this.repo.allVpcs();
    const report = await this.backend.sync({
      routing: await routingOf(this.repo, vpcs, subnets, (e) => this.ipsOf(e)),
      vpcs: vpcs.map(vpcSpec),
      subnets: subnets.map(subnetSpec),
      ports,
      security: securityModel(await this.repo.allSecurityGroups(), await this.repo.allRules(), enis),
      acls: await this.acls.model(),
    });
    this.needsSync = false;
    await this.repo.cidrs.settle(); // the VPCs' blocks as read above are realised now
    if (report.removed.length) this.log.warn('network sync removed objects the records do not name', { removed: report.removed });
  }

  vpcs(accountId: string): Promise<VpcRow[]> {
    return this.repo.vpcs(accountId);
  }

  subnets(accountId: string): Promise<SubnetRow[]> {
    return this.repo.subnets(accountId);
  }

  subnet(accountId: string, id: string): Promise<SubnetRow | undefined> {
    return this.repo.subnet(accountId, id);
  }

  subnetsByIds(accountId: string, ids: string[]): Promise<SubnetRow[]> {
    return this.repo.subnetsByIds(accountId, [...new Set(ids)]);
  }

  async defaultSubnet(accountId: string, zone?: string): Promise<SubnetRow> {
    const all = (await this.repo.subnets(accountId)).filter((s) => s.default_for_az).sort((a, b) => a.availability_zone.localeCompare(b.availability_zone));
    const s = zone ? all.find((x) => x.availability_zone === zone) : all[0];
    if (!s) throw new Ec2Error('MissingInput', 'No subnets found for the default VPC. Please specify a subnet.');
    return s;
  }

  securityGroups(accountId: string): Promise<SecurityGroupRow[]> {
    return this.repo.securityGroups(accountId);
  }

  /** The account's groups of one VPC. */
  securityGroupsIn(accountId: string, vpcId: string): Promise<SecurityGroupRow[]> {
    return this.repo.securityGroupsIn(accountId, vpcId);
  }

  rules(accountId: string): Promise<SecurityGroupRuleRow[]> {
    return this.repo.rules(accountId);
  }

  /**
   * Gives `ownerId` an address of the subnet: the one asked for, or the lowest free one. Inside `t` when given,
   * so that the address and the record that owns it are committed together.
   */
  async allocateIp(subnet: SubnetRow, ownerId: string, wanted?: string, t?: Transaction, primary = true): Promise<string> {
    if (wanted) {
      if (!isIpv4(wanted) || !cidrContains(subnet.cidr_block, wanted)) {
        throw new Ec2Error('InvalidParameterValue', `Address ${wanted} does not fall within the subnet's address range`);
      }
      const base = ipToInt(subnet.cidr_block.split('/')[0]!);
      const offset = ipToInt(wanted) - base;
      if (offset < 4 || offset >= subnetCapacity(subnet.cidr_block) + 4) {
        throw new Ec2Error('InvalidParameterValue', `Address ${wanted} is in subnet's reserved address range`);
      }
      const ip = await this.repo.allocateIp(subnet.id, ownerId, wanted, t, primary);
      if (!ip) throw new Ec2Error('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
      return ip;
    }
    const ip = await this.repo.allocateIp(subnet.id, ownerId, undefined, t, primary);
    if (!ip) {
      throw new Ec2Error('InsufficientFreeAddressesInSubnet', `There are not enough free addresses in subnet '${subnet.id}' to satisfy the requested number of instances.`);
    }
    return ip;
  }

  /** The public address on each private address of these ENIs that has one, keyed `eniId private-ip`. */
  async publicIpsOf(eniIds: string[]): Promise<Map<string, string>> {
    if (!eniIds.length) return new Map();
    const rows = await this.repo.addresses.onEnis(eniIds);
    return new Map(rows.filter((r) => r.private_ip).map((r) => [`${r.network_interface_id} ${r.private_ip}`, r.public_ip]));
  }

  async ipsOf(ownerId: string): Promise<string[]> {
    return (await this.repo.ipsOf(ownerId)).map((r) => r.ip);
  }

  releaseIps(ownerId: string): Promise<void> {
    return this.repo.releaseIps(ownerId);
  }
}
