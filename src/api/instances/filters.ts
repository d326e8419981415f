/** DescribeInstances and DescribeInstanceStatus as describe-engine resources: what each filter reads in SQL. */
import { column, constant, isoTime, join, list, sql, text, type Filter, type Resource, type DescribeContext } from '../../describe/index.js';
import { notFound } from '../../errors/index.js';
import { STATE_CODES } from '../../domain/instance-state.js';
import { INSTANCE_COLUMNS } from '../../db/repositories/compute.js';
import { imageVisibleTo } from '../../db/repositories/images.js';
import type { InstanceView } from './mappers.js';
import { privateDnsSuffix } from '../../domain/dns.js';

/** An instance as the engine reads it: its row, its AMI's architecture and its security groups (InstanceView less region). */
export type InstanceRead = Omit<InstanceView, 'region'>;

/** The AMI's architecture when the caller can still see the AMI (the image repository's rule), else x86_64. */
const ARCHITECTURE = `COALESCE((SELECT im.architecture FROM images im WHERE im.id = r.image_id AND im.state <> 'deregistered'
  AND ${imageVisibleTo('r.account_id', 'im')}), 'x86_64')`;

/** The account's security groups named in security_group_ids, in that order. */
/** The Elastic IP on the instance's primary private address, if any. */
const PUBLIC_IP = `(SELECT host(a.public_ip) FROM addresses a WHERE a.network_interface_id = r.eni_id AND a.private_ip = r.private_ip::inet)`;
const GROUPS = `COALESCE((SELECT json_agg(json_build_object('id', g.id, 'account_id', g.account_id, 'vpc_id', g.vpc_id,
  'group_name', g.group_name, 'description', g.description) ORDER BY u.n)
  FROM unnest(r.security_group_ids) WITH ORDINALITY AS u(gid, n) JOIN security_groups g ON g.id = u.gid AND g.account_id = r.account_id), '[]')`;

/** The instance's EBS attachments (migration 009), by device. */
const VOLUMES = `COALESCE((SELECT json_agg(json_build_object('volume_id', a.volume_id, 'device', a.device, 'state', a.state,
  'delete_on_termination', a.delete_on_termination, 'attached_at', a.attached_at) ORDER BY a.device)
  FROM volume_attachments a WHERE a.instance_id = r.id), '[]')`;
/** The instance's ENIs (device index order) with their addresses (primary first) and groups. */
export const ENIS = `COALESCE((SELECT json_agg(json_build_object('id', n.id, 'subnet_id', n.subnet_id, 'vpc_id', n.vpc_id,
  'mac_address', n.mac_address, 'description', n.description, 'source_dest_check', n.source_dest_check,
  'device_index', n.device_index, 'attachment_id', n.attachment_id, 'delete_on_termination', n.delete_on_termination,
  'attached_at', n.attached_at,
  'ips', COALESCE((SELECT array_agg(host(a.ip) ORDER BY a.is_primary DESC, a.allocated_at, a.ip) FROM ip_allocations a WHERE a.owner_id = n.id), '{}'),
  'groups', COALESCE((SELECT json_agg(json_build_object('id', g.id, 'name', g.group_name) ORDER BY array_position(n.security_group_ids, g.id))
    FROM security_groups g WHERE g.id = ANY(n.security_group_ids)), '[]')) ORDER BY n.device_index)
  FROM network_interfaces n WHERE n.instance_id = r.id), '[]')`;
const VOLUME_JOIN = ['volume_attachments a', 'a.instance_id = r.id'] as const;
/** The ENIs attached to the instance (every device index), and their addresses. */
const ENI_JOIN = ['network_interfaces n', 'n.instance_id = r.id'] as const;
const ENI_IP_JOIN = ['network_interfaces n JOIN ip_allocations a ON a.owner_id = n.id', 'n.instance_id = r.id'] as const;

const GROUP_JOIN = ['security_groups g', 'g.id = ANY(r.security_group_ids) AND g.account_id = r.account_id'] as const;

const STATE_CODE = `CASE r.state ${Object.entries(STATE_CODES).map(([n, c]) => `WHEN '${n}' THEN '${c}'`).join(' ')} END`;

type F = Filter<InstanceRead, DescribeContext>;

export const instanceResource: Resource<InstanceRead> = {
  from: 'instances',
  id: 'id',
  scope: (c) => sql`r.account_id = ${c.accountId}`,
  columns: `${INSTANCE_COLUMNS}, ${ARCHITECTURE} AS architecture, ${GROUPS} AS groups, ${VOLUMES} AS volumes, ${PUBLIC_IP} AS public_ip, ${ENIS} AS enis`,
  tags: { type: 'instance' },
  filters: {
    'instance-id': column('id'),
    'instance-state-name': column('state'),
    'instance-state-code': text(STATE_CODE),
    'image-id': column('image_id'),
    'instance-type': column('instance_type'),
    'key-name': column('key_name'),
    // The primary interface's primary address only (as on AWS); the next two read every attached interface.
    'private-ip-address': text('host(r.private_ip)'),
    'ip-address': text(PUBLIC_IP),
    'network-interface.addresses.private-ip-address': join(...ENI_IP_JOIN, 'host(a.ip)'),
    'network-interface.private-ip-address': join(...ENI_IP_JOIN.slice(0, 1) as [string], `${ENI_IP_JOIN[1]} AND a.is_primary`, 'host(a.ip)'),
    'network-interface.addresses.primary': join(...ENI_IP_JOIN, 'a.is_primary::text'),
    'network-interface.subnet-id': join(...ENI_JOIN, 'n.subnet_id'),
    'network-interface.vpc-id': join(...ENI_JOIN, 'n.vpc_id'),
    'network-interface.attachment.device-index': join(...ENI_JOIN, 'n.device_index::text'),
    'network-interface.attachment.delete-on-termination': join(...ENI_JOIN, 'n.delete_on_termination::text'),
    'private-dns-name': text((c) => {
      const suffix = `.${privateDnsSuffix(c.region)}`;
      return sql`'ip-' || replace(host(r.private_ip), '.', '-') || ${suffix}::text`;
    }),
    'vpc-id': column('vpc_id'),
    'subnet-id': column('subnet_id'),
    'reservation-id': column('reservation_id'),
    'availability-zone': column('availability_zone'),
    'owner-id': text('r.account_id::text'),
    'launch-time': text(isoTime('r.launch_time')),
    'ami-launch-index': text('r.launch_index::text'),
    architecture: text(ARCHITECTURE),
    'client-token': column('client_token'),
    'instance.group-id': list('security_group_ids'),
    'instance.group-name': join(...GROUP_JOIN, 'g.group_name'),
    'group-id': list('security_group_ids'),
    'group-name': join(...GROUP_JOIN, 'g.group_name'),
    'network-interface.network-interface-id': join(...ENI_JOIN, 'n.id'),
    'network-interface.mac-address': join(...ENI_JOIN, 'n.mac_address'),
    'block-device-mapping.volume-id': join(...VOLUME_JOIN, 'a.volume_id'),
    'block-device-mapping.device-name': join(...VOLUME_JOIN, 'a.device'),
    'block-device-mapping.status': join(...VOLUME_JOIN, 'a.state'),
    'block-device-mapping.delete-on-termination': join(...VOLUME_JOIN, 'a.delete_on_termination::text'),
    'block-device-mapping.attach-time': join(...VOLUME_JOIN, isoTime('a.attached_at')),
    'root-device-type': constant('ebs'),
    'root-device-name': constant('/dev/xvda'),
    'virtualization-type': constant('hvm'),
    hypervisor: constant('xen'),
    tenancy: constant('default'),
    'platform-details': constant('Linux/UNIX'),
    'state-reason-code': column('state_reason_code'),
    'dns-name': constant(''),
    'monitoring-state': constant('disabled'),
  } satisfies Record<string, F>,
  notFound: (ids) => notFound('InvalidInstanceID', 'instance ID', ids),
  maxResults: { min: 5, max: 1000 },
  idsExcludeMaxResults: 'instancesSet',
};

const RUNNING_OR = (ok: string) => text<InstanceRead>(`CASE WHEN r.state = 'running' THEN '${ok}' ELSE 'not-applicable' END`);

/** DescribeInstanceStatus: the instance filters, and its status filters (ok and passed while running). */
export const instanceStatusResource: Resource<InstanceRead> = {
  ...instanceResource,
  filters: {
    ...instanceResource.filters,
    'instance-status.status': RUNNING_OR('ok'),
    'system-status.status': RUNNING_OR('ok'),
    'instance-status.reachability': RUNNING_OR('passed'),
    'system-status.reachability': RUNNING_OR('passed'),
  },
  idsExcludeMaxResults: undefined,
};
