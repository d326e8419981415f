import { randomBytes } from 'node:crypto';
import { Ec2Error } from '../errors/index.js';

/** Resource kinds, their id prefix and the error code prefix AWS uses for them. */
export const ID_KINDS = {
  instance: { prefix: 'i', code: 'InvalidInstanceID', noun: 'i-...' },
  reservation: { prefix: 'r', code: 'InvalidReservationID', noun: 'r-...' },
  image: { prefix: 'ami', code: 'InvalidAMIID', noun: 'ami-...' },
  vpc: { prefix: 'vpc', code: 'InvalidVpcID', noun: 'vpc-...' },
  subnet: { prefix: 'subnet', code: 'InvalidSubnetID', noun: 'subnet-...' },
  securityGroup: { prefix: 'sg', code: 'InvalidGroupId', noun: 'sg-...', notFoundCode: 'InvalidGroup' },
  securityGroupRule: { prefix: 'sgr', code: 'InvalidSecurityGroupRuleId', noun: 'sgr-...' },
  keyPair: { prefix: 'key', code: 'InvalidKeyPair', noun: 'key-...' },
  volume: { prefix: 'vol', code: 'InvalidVolumeID', noun: 'vol-...' },
  snapshot: { prefix: 'snap', code: 'InvalidSnapshotID', noun: 'snap-...' },
  networkInterface: { prefix: 'eni', code: 'InvalidNetworkInterfaceID', noun: 'eni-...' },
  networkInterfaceAttachment: { prefix: 'eni-attach', code: 'InvalidAttachmentID', noun: 'eni-attach-...' },
  internetGateway: { prefix: 'igw', code: 'InvalidInternetGatewayID', noun: 'igw-...' },
  routeTable: { prefix: 'rtb', code: 'InvalidRouteTableID', noun: 'rtb-...' },
  routeTableAssociation: { prefix: 'rtbassoc', code: 'InvalidAssociationID', noun: 'rtbassoc-...' },
  natGateway: { prefix: 'nat', code: 'InvalidNatGatewayID', noun: 'nat-...' },
  networkAcl: { prefix: 'acl', code: 'InvalidNetworkAclID', noun: 'acl-...' },
  networkAclAssociation: { prefix: 'aclassoc', code: 'InvalidAssociationID', noun: 'aclassoc-...' },
  dhcpOptions: { prefix: 'dopt', code: 'InvalidDhcpOptionsID', noun: 'dopt-...' },
  address: { prefix: 'eipalloc', code: 'InvalidAllocationID', noun: 'eipalloc-...' },
  addressAssociation: { prefix: 'eipassoc', code: 'InvalidAssociationID', noun: 'eipassoc-...' },
  replaceRootVolumeTask: { prefix: 'replacevol', code: 'InvalidReplaceRootVolumeTaskId', noun: 'replacevol-...' },
} as const;

export type IdKind = keyof typeof ID_KINDS;

/** The prefix of a kind's `.NotFound` code (security groups answer InvalidGroup.NotFound but InvalidGroupId.Malformed). */
export function notFoundCode(kind: IdKind): string {
  const def = ID_KINDS[kind] as { code: string; notFoundCode?: string };
  return def.notFoundCode ?? def.code;
}

const HEX17 = /^[0-9a-f]{17}$/;
const HEX8 = /^[0-9a-f]{8}$/; // ids made before 2016 are 8 hex digits; accepted when looking up

export function newId(kind: IdKind): string {
  return `${ID_KINDS[kind].prefix}-${randomBytes(9).toString('hex').slice(0, 17)}`;
}

export function isId(kind: IdKind, value: string): boolean {
  const { prefix } = ID_KINDS[kind];
  if (!value.startsWith(prefix + '-')) return false;
  const rest = value.slice(prefix.length + 1);
  return HEX17.test(rest) || HEX8.test(rest);
}

/** Checks an id's shape, answering the kind's own `.Malformed` code. */
export function parseId(kind: IdKind, value: string): string {
  if (!isId(kind, value)) {
    const { code, noun } = ID_KINDS[kind];
    throw new Ec2Error(`${code}.Malformed`, `Invalid id: "${value}" (expecting "${noun}")`);
  }
  return value;
}

/** The resource kind an id belongs to, by its prefix (for CreateTags and DescribeTags). */
export function kindOfId(value: string): IdKind | undefined {
  const prefix = value.split('-')[0];
  for (const [kind, def] of Object.entries(ID_KINDS)) if (def.prefix === prefix) return kind as IdKind;
  return undefined;
}
