/**
 * AssociateVpcCidrBlock / DisassociateVpcCidrBlock (secondary IPv4 blocks) over the records, then the data plane.
 *
 * Associating: the block is recorded `associating` with a `local` route to it in every route table of the VPC
 * (as AWS adds), the network backend is told the VPC's blocks (the host's routes into the VPC follow them), and
 * the block becomes `associated`. Disassociating: refused for the primary block and for a block that still holds
 * a subnet; else `disassociating` with its local routes gone, the backend told, then `disassociated`, which
 * DescribeVpcs shows for an hour as AWS does (the reconciliation pass then forgets it: purgeExpired). A backend
 * failure leaves the record at its target state and the next sync realises it (the records say what must be
 * true). Routing between the VPC's subnets needs nothing per block: the VPC router has a leg in each subnet,
 * whatever block the subnet is in.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import { checkSecondaryCidr, cidrCovers, MAX_IPV4_CIDRS_PER_VPC } from '../../domain/vpc-cidr-rules.js';
import { LIVE_CIDR_STATES, type VpcCidrRow } from '../../db/repositories/vpc-cidrs.js';
import type { NetworkRepository, VpcRow } from '../../db/repositories/network.js';
import type { Transaction } from '../../db/sql.js';
import type { NetworkBackend } from '../../ports/index.js';
import { checkBlock } from './vpcs.js';
import { vpcSpec } from './dataplane.js';

const ASSOCIATION_ID = /^vpc-cidr-assoc-([0-9a-f]{8}|[0-9a-f]{17})$/;

export class VpcCidrAdmin {
  constructor(
    private readonly repo: NetworkRepository,
    private readonly backend: NetworkBackend,
    private readonly vpcOf: (accountId: string, id: string) => Promise<VpcRow>,
    private readonly backendDo: (what: string, fn: () => Promise<void>) => Promise<void>,
  ) {}

  /** AWS's checks for a block to add (run by DryRun too): the VPC's, the block's shape, then the rules. */
  async checkAssociate(accountId: string, vpcId: string, cidrIn: string | undefined): Promise<{ vpc: VpcRow; cidr: string }> {
    const vpc = await this.vpcOf(accountId, vpcId);
    const cidr = checkBlock(cidrIn, 'vpc');
    await this.refusal(vpc.id, cidr);
    return { vpc, cidr };
  }

  private async refusal(vpcId: string, cidr: string, t?: Transaction): Promise<void> {
    const blocks = (await this.repo.cidrs.ofVpc(vpcId, t)).filter((b) => LIVE_CIDR_STATES.includes(b.state)).map((b) => b.cidr_block);
    const tables = new Set((await this.repo.routes.tablesOfVpc(vpcId, t)).map((x) => x.id));
    const routes = (await this.repo.routes.allRoutes()).filter((r) => tables.has(r.route_table_id) && r.gateway_id !== 'local').map((r) => r.destination);
    const no = checkSecondaryCidr(cidr, blocks, routes);
    if (!no) return;
    if (no.reason === 'limit') throw new Ec2Error('CidrLimitExceeded', `This network '${vpcId}' has met its maximum number of allowed CIDRs: ${MAX_IPV4_CIDRS_PER_VPC}`);
    if (no.reason === 'overlap') throw new Ec2Error('InvalidVpc.Range', `The CIDR '${cidr}' overlaps with the CIDR '${no.with}' of the VPC ${vpcId}.`);
    if (no.reason === 'restricted') {
      // AWS's words (seen in its answers).
      throw new Ec2Error('InvalidVpc.Range', `The CIDR '${cidr}' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, or use a publicly-routable CIDR. For additional restrictions, see https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html`);
    }
    throw new Ec2Error('InvalidVpc.Range', `The CIDR '${cidr}' is the same as or larger than the destination '${no.destination}' of a route in a route table of the VPC ${vpcId}.`);
  }

  /** The association, `associating` (as AWS answers; the record is `associated` once the backend has it). */
  async associate(p: { vpc: VpcRow; cidr: string }): Promise<VpcCidrRow> {
    const row = { association_id: newId('vpc').replace(/^vpc-/, 'vpc-cidr-assoc-'), vpc_id: p.vpc.id, cidr_block: p.cidr, state: 'associating' };
    await this.repo.tx(async (t) => {
      await this.repo.cidrs.lockVpc(p.vpc.id, t);
      await this.refusal(p.vpc.id, p.cidr, t); // again, in turn: two requests at once cannot both pass
      await this.repo.cidrs.insert(row, t);
      for (const table of await this.repo.routes.tablesOfVpc(p.vpc.id, t)) {
        await this.repo.routes.upsertRoute({ route_table_id: table.id, destination: p.cidr, gateway_id: 'local', nat_gateway_id: null, network_interface_id: null, instance_id: null, origin: 'CreateRouteTable' }, t);
      }
    });
    await this.realise(p.vpc.id, p.vpc.account_id.trim(), 'add a VPC CIDR block');
    await this.repo.cidrs.setState(row.association_id, 'associated');
    return { ...row, is_primary: false };
  }

  /** DisassociateVpcCidrBlock's checks on the records as they are (validate, so DryRun answers as the call). */
  async checkDisassociate(accountId: string, id: string): Promise<VpcCidrRow> {
    if (!ASSOCIATION_ID.test(id)) throw new Ec2Error('InvalidVpcCidrBlockAssociationID.Malformed', `The vpc CIDR block association ID '${id}' is malformed`);
    const a = await this.repo.cidrs.byId(accountId, id);
    return disassociationAllowed(id, a, a ? await this.repo.subnetCidrsOfVpc(a.vpc_id) : []);
  }

  /** The association, `disassociating` (as AWS answers; the record is `disassociated` once the backend follows). */
  async disassociate(a: VpcCidrRow, accountId: string): Promise<VpcCidrRow> {
    await this.repo.tx(async (t) => {
      await this.repo.cidrs.lockVpc(a.vpc_id, t);
      // Again under the lock that CreateSubnet takes: a subnet made in the block meanwhile keeps it.
      const now = (await this.repo.cidrs.ofVpc(a.vpc_id, t)).find((b) => b.association_id === a.association_id);
      disassociationAllowed(a.association_id, now, await this.repo.subnetCidrsOfVpc(a.vpc_id, t));
      await this.repo.cidrs.setState(a.association_id, 'disassociating', t);
      for (const table of await this.repo.routes.tablesOfVpc(a.vpc_id, t)) {
        const r = await this.repo.routes.route(table.id, a.cidr_block, t);
        if (r?.gateway_id === 'local') await this.repo.routes.deleteRoute(table.id, a.cidr_block, t);
      }
    });
    await this.realise(a.vpc_id, accountId, 'remove a VPC CIDR block');
    await this.repo.cidrs.setState(a.association_id, 'disassociated');
    return { ...a, state: 'disassociating' };
  }

  /** Forgets the blocks disassociated more than an hour ago (AWS stops showing them then); run by each reconciliation pass. */
  async purgeExpired(): Promise<void> {
    await this.repo.cidrs.purgeDisassociated();
  }

  /** Tells the network backend the VPC's live blocks (its host routes into the VPC follow them). */
  private async realise(vpcId: string, accountId: string, what: string): Promise<void> {
    const vpc = await this.vpcOf(accountId, vpcId);
    await this.backendDo(what, () => this.backend.ensureVpc(vpcSpec(vpc)));
  }
}

/**
 * DisassociateVpcCidrBlock's rules, on the association and the CIDRs of its VPC's subnets: it exists (a
 * disassociated one no longer does), is not the primary block, is settled, and holds no subnet.
 */
function disassociationAllowed(id: string, a: VpcCidrRow | undefined, subnetCidrs: string[]): VpcCidrRow {
  if (!a || a.state === 'disassociated') throw new Ec2Error('InvalidVpcCidrBlockAssociationID.NotFound', `The vpc CIDR block association ID '${id}' does not exist`);
  if (a.is_primary) {
    throw new Ec2Error('OperationNotPermitted', `The vpc CIDR block with association ID ${id} may not be disassociated. It is the primary IPv4 CIDR block of the VPC`);
  }
  if (a.state !== 'associated') throw new Ec2Error('IncorrectState', `The vpc CIDR block with association ID ${id} is ${a.state}.`);
  // AWS's code and words (seen in its answers).
  if (subnetCidrs.some((c) => cidrCovers(a.cidr_block, c))) throw new Ec2Error('InvalidCidrBlock.InUse', `The vpc ${a.vpc_id} currently has a subnet within CIDR block ${a.cidr_block}`);
  return a;
}
