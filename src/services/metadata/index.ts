/**
 * The metadata service's records side: who asks (VPC + source address → the ENI → its instance) and its options.
 * The HTTP side is server.ts, fed by NetworkBackend.serveMetadata; the tree is tree.ts.
 */
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { NetworkService } from '../network/index.js';
import { vpcBlocks } from '../network/dataplane.js';
import type { KeyPairService } from '../key-pairs/index.js';
import type { TagService } from '../tags/index.js';
import type { ImageService } from '../images/index.js';
import type { MetadataSource } from './server.js';
import type { InstanceMetadata, InterfaceMetadata } from './tree.js';
import { metadataOptionsOf, type MetadataOptions } from './options.js';

export { MetadataServer, type MetadataSource } from './server.js';
export { IdentitySigner } from './identity.js';
export * from './options.js';

export class MetadataService implements MetadataSource {
  constructor(
    private readonly repo: ComputeRepository,
    private readonly network: NetworkService,
    private readonly keyPairs: KeyPairService,
    private readonly tags: TagService,
    private readonly images: ImageService,
    private readonly region: string,
  ) {}

  async byAddress(vpcId: string, ip: string): Promise<InstanceMetadata | undefined> {
    let row = await this.repo.byVpcAddress(vpcId, ip);
    if (!row) {
      // Any address of any attached interface (a second ENI's, a secondary one), as AWS's IMDS answers on each.
      const id = await this.network.enis.instanceAt(vpcId, ip);
      const other = id ? await this.repo.instance(id) : undefined;
      if (other && ['pending', 'running', 'stopping'].includes(other.state)) row = other;
    }
    return row ? this.describe(row) : undefined;
  }

  /** ModifyInstanceMetadataOptions: the next request the instance makes is served with them. */
  async modifyOptions(row: InstanceRow, changes: Partial<MetadataOptions>): Promise<MetadataOptions> {
    await this.repo.updateMetadataOptions(row.id, changes);
    return metadataOptionsOf({ ...row.metadata_options, ...changes });
  }

  private async describe(row: InstanceRow): Promise<InstanceMetadata> {
    const acct = row.account_id;
    const [vpcs, groups, key, tags, image, attached] = await Promise.all([
      this.network.vpcs(acct),
      this.network.securityGroups(acct),
      row.key_name ? this.keyPairs.byName(acct, row.key_name) : undefined,
      this.tags.byResource(acct, [row.id]),
      this.images.visible(acct, row.image_id).catch(() => undefined),
      this.network.enis.ofInstance(row.id),
    ]);
    const plugged = attached.filter((e) => e.device_index !== null);
    // The primary interface is among the attached ones; read on its own only if it is not (a record made before
    // ENIs were).
    const eni = attached.find((e) => e.id === row.eni_id) ?? (row.eni_id ? await this.network.enis.get(row.eni_id) : undefined);
    // Every interface's subnet and public addresses in one query each, however many interfaces there are.
    const [subnets, publicIps] = await Promise.all([
      this.network.subnetsByIds(acct, [row.subnet_id, ...plugged.map((e) => e.subnet_id)]),
      this.network.publicIpsOf([...new Set([...plugged.map((e) => e.id), ...(row.eni_id ? [row.eni_id] : [])])]),
    ]);
    const cidrOf = (subnetId: string) => subnets.find((x) => x.id === subnetId)?.cidr_block ?? '';
    const cidrsOf = (vpcId: string) => {
      const v = vpcs.find((x) => x.id === vpcId);
      return v ? vpcBlocks(v) : [];
    };
    const named = (ids: string[]) => ids.map((id) => ({ id, name: groups.find((g) => g.id === id)?.group_name ?? id }));
    // Every attached interface (network/interfaces/macs/), as AWS's IMDS lists them.
    const interfaces: InterfaceMetadata[] = plugged.map((e) => ({
      mac: e.mac_address,
      eniId: e.id,
      deviceIndex: e.device_index!,
      ips: e.ips,
      publicIp: e.ips[0] ? publicIps.get(`${e.id} ${e.ips[0]}`) : undefined,
      subnetId: e.subnet_id,
      subnetCidr: cidrOf(e.subnet_id),
      vpcId: e.vpc_id,
      vpcCidrs: cidrsOf(e.vpc_id),
      securityGroups: named(e.security_group_ids),
    }));
    const publicIp = row.eni_id && row.private_ip ? publicIps.get(`${row.eni_id} ${row.private_ip}`) : undefined;
    return {
      instanceId: row.id,
      accountId: acct,
      reservationId: row.reservation_id,
      launchIndex: row.launch_index,
      imageId: row.image_id,
      instanceType: row.instance_type,
      architecture: image?.architecture ?? 'x86_64',
      region: this.region,
      availabilityZone: row.availability_zone,
      launchTime: row.launch_time,
      privateIp: row.private_ip,
      secondaryIps: eni?.ips.filter((ip) => ip !== row.private_ip),
      publicIp,
      mac: row.mac_address,
      eniId: row.eni_id,
      deviceIndex: 0,
      subnetId: row.subnet_id,
      subnetCidr: cidrOf(row.subnet_id),
      vpcId: row.vpc_id,
      vpcCidrs: cidrsOf(row.vpc_id),
      securityGroups: named(row.security_group_ids),
      keyName: row.key_name ?? undefined,
      publicKey: key?.public_key,
      userData: row.user_data ?? undefined,
      tags: tags.get(row.id) ?? [],
      options: metadataOptionsOf(row.metadata_options),
      interfaces: interfaces.length ? interfaces : undefined,
    };
  }
}
