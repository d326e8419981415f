/**
 * The metadata tree a guest agent reads (cloud-init's EC2 datasource, the SDKs, ec2-metadata), built from one
 * instance's record: `meta-data/`, `user-data`, `dynamic/`. Pure: the server (server.ts) decides who asks and
 * whether they may; this only answers a path. Directory listings are as AWS's: one entry a line, directories with
 * a trailing slash.
 */
import type { MetadataOptions } from './options.js';
import { privateDnsName } from '../../domain/dns.js';

export interface InstanceMetadata {
  instanceId: string;
  accountId: string;
  reservationId: string;
  launchIndex: number;
  imageId: string;
  instanceType: string;
  architecture: string;
  region: string;
  availabilityZone: string;
  launchTime: Date;
  privateIp: string;
  /** Secondary private IPs of the primary interface. */
  secondaryIps?: string[];
  publicIp?: string;
  mac: string;
  eniId: string;
  deviceIndex: number;
  subnetId: string;
  subnetCidr: string;
  vpcId: string;
  vpcCidrs: string[];
  securityGroups: { id: string; name: string }[];
  keyName?: string;
  publicKey?: string;
  userData?: Buffer;
  tags: { key: string; value: string }[];
  options: MetadataOptions;
  /**
   * Every interface attached to the instance (the primary one included), one `network/interfaces/macs/<mac>/`
   * entry each, as AWS's IMDS lists them. Absent: only the primary interface, from the fields above.
   */
  interfaces?: InterfaceMetadata[];
}

/** One attached interface as `network/interfaces/macs/<mac>/` shows it. */
export interface InterfaceMetadata {
  mac: string;
  eniId: string;
  deviceIndex: number;
  /** The primary private IP first, then the secondary ones. */
  ips: string[];
  publicIp?: string;
  subnetId: string;
  subnetCidr: string;
  vpcId: string;
  vpcCidrs: string[];
  securityGroups: { id: string; name: string }[];
}

/** Signs the identity document (identity.ts); absent: no signature entry. */
export interface DocumentSigner {
  sign(document: string): string;
}

type Node = string | Buffer | Dir;
interface Dir {
  entries: Record<string, Node | undefined>;
  /** A listing other than the entries' names (public-keys/ says `0=keyname`). */
  listing?: string[];
}
const dir = (entries: Record<string, Node | undefined>, listing?: string[]): Dir => ({ entries, listing });
const isDir = (n: Node): n is Dir => typeof n === 'object' && !Buffer.isBuffer(n);

/** The instance's private name (EC2's `ip-a-b-c-d.<region domain>`). */
export const privateHostname = privateDnsName;

/** The identity document as AWS's (same keys, same order; nulls where AWS has them). */
export function identityDocument(m: InstanceMetadata): string {
  const doc = {
    accountId: m.accountId,
    architecture: m.architecture,
    availabilityZone: m.availabilityZone,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: m.imageId,
    instanceId: m.instanceId,
    instanceType: m.instanceType,
    kernelId: null,
    pendingTime: m.launchTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    privateIp: m.privateIp,
    ramdiskId: null,
    region: m.region,
    version: '2017-09-30',
  };
  return JSON.stringify(doc, null, 2);
}

/** The primary interface from the instance's own fields (a source that gives no `interfaces`). */
function primaryInterface(m: InstanceMetadata): InterfaceMetadata {
  return {
    mac: m.mac, eniId: m.eniId, deviceIndex: m.deviceIndex, ips: [m.privateIp, ...(m.secondaryIps ?? [])], publicIp: m.publicIp,
    subnetId: m.subnetId, subnetCidr: m.subnetCidr, vpcId: m.vpcId, vpcCidrs: m.vpcCidrs, securityGroups: m.securityGroups,
  };
}

/** `network/interfaces/macs/`: one directory per attached interface, by MAC, in device index order. */
function macsDir(m: InstanceMetadata): Dir {
  const all = m.interfaces?.length ? [...m.interfaces].sort((a, b) => a.deviceIndex - b.deviceIndex) : [primaryInterface(m)];
  return dir(Object.fromEntries(all.map((i) => [i.mac, interfaceDir(i, m)])));
}

function interfaceDir(m: InterfaceMetadata, inst: Pick<InstanceMetadata, 'accountId' | 'region'>): Dir {
  const hostname = privateHostname(m.ips[0] ?? '', inst.region);
  return dir({
    'device-number': String(m.deviceIndex),
    'interface-id': m.eniId,
    'local-hostname': hostname,
    'local-ipv4s': m.ips.join('\n'),
    mac: m.mac,
    'owner-id': inst.accountId,
    'public-ipv4s': m.publicIp,
    'security-group-ids': m.securityGroups.map((g) => g.id).join('\n'),
    'security-groups': m.securityGroups.map((g) => g.name).join('\n'),
    'subnet-id': m.subnetId,
    'subnet-ipv4-cidr-block': m.subnetCidr,
    'vpc-id': m.vpcId,
    'vpc-ipv4-cidr-block': m.vpcCidrs[0],
    'vpc-ipv4-cidr-blocks': m.vpcCidrs.join('\n'),
  });
}

export function buildTree(m: InstanceMetadata, signer?: DocumentSigner): Dir {
  const hostname = privateHostname(m.privateIp, m.region);
  const document = identityDocument(m);
  const tags = m.options.instanceMetadataTags === 'enabled'
    ? dir({ instance: dir(Object.fromEntries(m.tags.filter((t) => /^[^/]+$/.test(t.key) && t.key !== '.' && t.key !== '..').map((t) => [t.key, t.value]))) })
    : undefined;
  const metaData = dir({
    'ami-id': m.imageId,
    'ami-launch-index': String(m.launchIndex),
    'ami-manifest-path': '(unknown)',
    'block-device-mapping': dir({ ami: '/dev/xvda', root: '/dev/xvda' }),
    hostname,
    'instance-action': 'none',
    'instance-id': m.instanceId,
    'instance-life-cycle': 'on-demand',
    'instance-type': m.instanceType,
    'local-hostname': hostname,
    'local-ipv4': m.privateIp,
    mac: m.mac,
    network: dir({ interfaces: dir({ macs: macsDir(m) }) }),
    placement: dir({ 'availability-zone': m.availabilityZone, region: m.region }),
    'public-hostname': m.publicIp ? `ec2-${m.publicIp.replace(/\./g, '-')}.compute-1.amazonaws.com` : undefined,
    'public-ipv4': m.publicIp,
    'public-keys': m.publicKey
      ? dir({ '0': dir({ 'openssh-key': `${m.publicKey.trim()}\n` }) }, [`0=${m.keyName ?? 'key'}`])
      : undefined,
    'reservation-id': m.reservationId,
    'security-groups': m.securityGroups.map((g) => g.name).join('\n'),
    tags,
  });
  const identity = dir({
    document,
    signature: signer ? signer.sign(document) : undefined,
  });
  return dir({
    'meta-data': metaData,
    'user-data': m.userData && m.userData.length ? m.userData : undefined,
    dynamic: dir({ 'instance-identity': identity }),
  });
}

export type Lookup = { status: 200; body: string | Buffer } | { status: 404 };

/**
 * Answers a path below the version (`meta-data/instance-id`, `meta-data/`, ``). A directory without its trailing
 * slash answers its listing too (as AWS does); `.`, `..` and empty segments inside a path find nothing.
 */
export function lookup(tree: Dir, path: string): Lookup {
  const parts = path.split('/');
  const trailing = parts.length > 1 && parts[parts.length - 1] === '';
  if (trailing) parts.pop();
  if (parts.length === 1 && parts[0] === '') parts.pop();
  let node: Node = tree;
  for (const p of parts) {
    if (!p || p === '.' || p === '..' || !isDir(node) || !Object.hasOwn(node.entries, p)) return { status: 404 };
    const next: Node | undefined = node.entries[p];
    if (next === undefined) return { status: 404 };
    node = next;
  }
  if (!isDir(node)) return trailing ? { status: 404 } : { status: 200, body: node };
  const listing = node.listing ?? Object.entries(node.entries).filter(([, v]) => v !== undefined).map(([k, v]) => (isDir(v!) ? `${k}/` : k));
  return { status: 200, body: listing.join('\n') };
}
