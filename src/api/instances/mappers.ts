import type * as Ec2 from '../../protocol/generated/types.js';
import type { InstanceRow } from '../../db/repositories/compute.js';
import type { SecurityGroupRow } from '../../db/repositories/network.js';
import { stateOf } from '../../domain/instance-state.js';
import { instanceType } from '../../domain/instance-types.js';
import { tagSetOrNone } from '../common.js';
import { metadataOptionsOf, metadataOptionsResponse } from '../../services/metadata/options.js';
import type { Tag } from '../../describe/index.js';
import { privateDnsName } from '../../domain/dns.js';

/** An EBS attachment of the instance, as the describe engine reads it (src/api/instances/filters.ts). */
export interface InstanceVolume {
  volume_id: string;
  device: string;
  state: string;
  delete_on_termination: boolean;
  attached_at: string | Date;
}

/** An ENI attached to the instance, as the describe engine reads it (filters.ts ENIS). */
export interface InstanceEni {
  id: string;
  subnet_id: string;
  vpc_id: string;
  mac_address: string;
  description: string;
  source_dest_check: boolean;
  device_index: number;
  attachment_id: string | null;
  delete_on_termination: boolean;
  attached_at: string | Date | null;
  ips: string[];
  groups: { id: string; name: string }[];
}

export type InstanceView = InstanceRow & { tags: Tag[]; groups: SecurityGroupRow[]; architecture: string; region: string; volumes?: InstanceVolume[]; public_ip?: string | null; enis?: InstanceEni[] };

/** The instance's interfaces as AWS lists them: each attachment, its addresses (primary first) and groups. */
function toInstanceInterfaces(i: InstanceView, region: string): Ec2.InstanceNetworkInterface[] {
  return (i.enis ?? []).map((e) => ({
    NetworkInterfaceId: e.id,
    SubnetId: e.subnet_id,
    VpcId: e.vpc_id,
    Description: e.description,
    OwnerId: i.account_id,
    Status: 'in-use',
    MacAddress: e.mac_address,
    PrivateIpAddress: e.ips[0],
    PrivateDnsName: e.ips[0] ? privateDnsName(e.ips[0], region) : undefined,
    SourceDestCheck: e.source_dest_check,
    Groups: e.groups.map((g) => ({ GroupId: g.id, GroupName: g.name })),
    Attachment: {
      AttachmentId: e.attachment_id ?? undefined,
      DeviceIndex: e.device_index,
      NetworkCardIndex: 0,
      Status: 'attached',
      AttachTime: e.attached_at ? new Date(e.attached_at) : i.launch_time,
      DeleteOnTermination: e.delete_on_termination,
    },
    PrivateIpAddresses: e.ips.map((ip, n) => ({ Primary: n === 0, PrivateIpAddress: ip, PrivateDnsName: privateDnsName(ip, region) })),
    Ipv6Addresses: [],
    InterfaceType: 'interface',
  }));
}

/**
 * The instance's block device mappings: its attached EBS volumes. With Docker the root device is the container's
 * own filesystem, not an EBS volume, so it is not listed (see the README).
 */
export function toBlockDeviceMappings(volumes: InstanceVolume[] | undefined): Ec2.InstanceBlockDeviceMapping[] {
  return (volumes ?? []).map((v) => ({
    DeviceName: v.device,
    Ebs: { VolumeId: v.volume_id, Status: v.state, AttachTime: new Date(v.attached_at), DeleteOnTermination: v.delete_on_termination },
  }));
}

export { privateDnsName };

/** AWS's public DNS name of a public address (us-east-1 has its own form). */
export function publicDnsName(ip: string, region: string): string {
  const host = `ec2-${ip.replace(/\./g, '-')}`;
  return region === 'us-east-1' ? `${host}.compute-1.amazonaws.com` : `${host}.${region}.compute.amazonaws.com`;
}

export function toInstance(i: InstanceView, region: string): Ec2.Instance {
  const t = instanceType(i.instance_type);
  const dns = privateDnsName(i.private_ip, region);
  const groups = i.groups.map((g) => ({ GroupId: g.id, GroupName: g.group_name }));
  const stateReason = i.state_reason_code ? { Code: i.state_reason_code, Message: i.state_reason_message ?? i.state_reason_code } : undefined;
  const attached = i.state !== 'terminated';
  return {
    InstanceId: i.id,
    ImageId: i.image_id,
    State: stateOf(i.state),
    PrivateDnsName: attached ? dns : '',
    PublicDnsName: attached && i.public_ip ? publicDnsName(i.public_ip, region) : '',
    PublicIpAddress: attached ? (i.public_ip ?? undefined) : undefined,
    StateTransitionReason: i.state_transition_reason,
    KeyName: i.key_name ?? undefined,
    AmiLaunchIndex: i.launch_index,
    ProductCodes: [],
    InstanceType: i.instance_type,
    LaunchTime: i.launch_time,
    Placement: { AvailabilityZone: i.availability_zone, GroupName: '', Tenancy: 'default' },
    Monitoring: { State: 'disabled' },
    SubnetId: attached ? i.subnet_id : undefined,
    VpcId: attached ? i.vpc_id : undefined,
    PrivateIpAddress: attached ? i.private_ip : undefined,
    StateReason: stateReason,
    Architecture: i.architecture,
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    BlockDeviceMappings: toBlockDeviceMappings(i.volumes),
    VirtualizationType: 'hvm',
    ClientToken: i.client_token ?? '',
    Tags: tagSetOrNone(i.tags),
    SecurityGroups: groups,
    // The primary interface's (ModifyInstanceAttribute SourceDestCheck changes that interface's).
    SourceDestCheck: i.enis?.find((e) => e.id === i.eni_id)?.source_dest_check ?? true,
    Hypervisor: 'xen',
    EbsOptimized: false,
    EnaSupport: true,
    NetworkInterfaces: attached && i.enis?.length
      ? toInstanceInterfaces(i, region)
      : attached
      ? [
          {
            NetworkInterfaceId: i.eni_id,
            SubnetId: i.subnet_id,
            VpcId: i.vpc_id,
            Description: '',
            OwnerId: i.account_id,
            Status: 'in-use',
            MacAddress: i.mac_address,
            PrivateIpAddress: i.private_ip,
            PrivateDnsName: dns,
            SourceDestCheck: true,
            Groups: groups,
            Attachment: {
              AttachmentId: i.eni_id.replace(/^eni-/, 'eni-attach-'),
              DeviceIndex: 0,
              NetworkCardIndex: 0,
              Status: 'attached',
              AttachTime: i.launch_time,
              DeleteOnTermination: true,
            },
            PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: i.private_ip, PrivateDnsName: dns }],
            Ipv6Addresses: [],
            InterfaceType: 'interface',
          },
        ]
      : [],
    CpuOptions: { CoreCount: Math.max(1, Math.floor((t?.vcpus ?? 1) / 2)), ThreadsPerCore: (t?.vcpus ?? 1) > 1 ? 2 : 1 },
    CapacityReservationSpecification: { CapacityReservationPreference: 'open' },
    HibernationOptions: { Configured: false },
    MetadataOptions: metadataOptionsResponse(metadataOptionsOf(i.metadata_options)),
    EnclaveOptions: { Enabled: false },
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    UsageOperationUpdateTime: i.launch_time,
    PrivateDnsNameOptions: { HostnameType: 'ip-name', EnableResourceNameDnsARecord: false, EnableResourceNameDnsAAAARecord: false },
    MaintenanceOptions: { AutoRecovery: 'default' },
    CurrentInstanceBootMode: 'legacy-bios',
  };
}

/** Groups instances into reservations in order of first appearance. */
export function toReservations(rows: InstanceView[], region: string): Ec2.Reservation[] {
  const byId = new Map<string, Ec2.Reservation>();
  for (const r of rows) {
    let res = byId.get(r.reservation_id);
    if (!res) {
      res = { ReservationId: r.reservation_id, OwnerId: r.account_id, Groups: [], Instances: [] };
      byId.set(r.reservation_id, res);
    }
    res.Instances!.push(toInstance(r, region));
  }
  return [...byId.values()];
}
