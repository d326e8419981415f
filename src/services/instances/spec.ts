/** What the compute backend is told to make for an instance record: resolved afresh from the records. */
import { instanceType } from '../../domain/instance-types.js';
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { InstanceSpec } from '../../ports/index.js';
import type { NetworkService } from '../network/index.js';
import type { ImageService } from '../images/index.js';
import type { KeyPairService } from '../key-pairs/index.js';
import { renderFirstBootScript } from './user-data.js';
import { privateDnsSuffix, privateHostname, vpcResolverAddress } from '../../domain/dns.js';
import { nicOf, nicsOf } from './network-steps.js';

export interface SpecSources {
  network: NetworkService;
  images: ImageService;
  keyPairs: KeyPairService;
}

export async function instanceSpec(deps: SpecSources, row: InstanceRow): Promise<InstanceSpec> {
  const account = row.account_id.trim();
  // Independent reads, at once (this is on every launch's and start's critical path).
  const [image, kp, subnet, vpcs, attached] = await Promise.all([
    deps.images.visible(account, row.image_id).catch(() => undefined),
    row.key_name ? deps.keyPairs.byName(account, row.key_name) : undefined,
    deps.network.subnet(account, row.subnet_id),
    deps.network.vpcs(account),
    deps.network.plugsPorts ? nicsOf(deps.network, row.id) : [],
  ]);
  if (!image) throw new Error(`image ${row.image_id} of ${row.id} is gone`);
  const type = instanceType(row.instance_type);
  if (!type) throw new Error(`instance type ${row.instance_type} of ${row.id} is unknown`);
  const keys: string[] = kp ? [kp.public_key] : [];
  if (!subnet) throw new Error(`subnet ${row.subnet_id} of ${row.id} is gone`);
  const vpc = vpcs.find((v) => v.id === subnet.vpc_id);
  if (!vpc) throw new Error(`VPC ${subnet.vpc_id} of ${row.id} is gone`);
  const userData = row.user_data ?? undefined;
  // The primary ENI, plugged by the network backend (neither Docker nor libvirt makes a network of its own):
  // among the attached ones as a rule; read on its own only if it is not (a record made before ENIs had one).
  const gateway = gatewayOf(subnet.cidr_block);
  const primaryNic = async () => {
    const found = attached.find((n) => n.eniId === row.eni_id);
    if (found) return found;
    const eni = await deps.network.enis.get(row.eni_id);
    return nicOf(deps.network, eni
      ? await deps.network.port(eni)
      : { eniId: row.eni_id, vpcId: row.vpc_id, subnetId: row.subnet_id, mac: row.mac_address, ips: [row.private_ip], gateway, subnetCidr: subnet.cidr_block, securityGroupIds: row.security_group_ids, deviceIndex: 0 });
  };
  return {
    instanceId: row.id,
    accountId: account,
    imageRef: image.backend_ref,
    vcpus: type.vcpus,
    memoryMiB: type.memoryMiB,
    instanceType: row.instance_type,
    hostname: privateHostname(row.private_ip),
    firstBootScript: renderFirstBootScript(userData, keys),
    userData,
    publicKeys: keys,
    network: {
      subnetId: subnet.id,
      vpcId: subnet.vpc_id,
      cidr: subnet.cidr_block,
      vpcCidr: vpc.cidr_block,
      gateway,
      privateIp: row.private_ip,
      macAddress: row.mac_address,
    },
    // Without a network backend (NETWORK_BACKEND=noop, for development) no NICs: Docker's default bridge.
    dns: deps.network.plugsPorts ? { nameservers: [vpcResolverAddress(vpc.cidr_block)], search: [privateDnsSuffix(deps.network.region)] } : undefined,
    // Every attached ENI, in device index order (a VM gets one NIC each; the primary is device 0).
    nics: deps.network.plugsPorts ? [{ ...(await primaryNic()), deviceIndex: 0, gateway }, ...attached.filter((n) => n.eniId !== row.eni_id)] : undefined,
  };
}

/** The VPC router's address: the subnet's first address after the network address. */
export function gatewayOf(cidr: string): string {
  const [base] = cidr.split('/') as [string];
  const parts = base.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}
