/**
 * Everything that reaches the Docker API from this adapter is checked here first. Docker is called through
 * its HTTP API (not a shell), but names still end up in container names, bridge names, iptables rules and
 * image repositories, so they are held to shapes far narrower than Docker's own.
 */
import { isIP } from 'node:net';
import { assertSafeName } from '../exec/index.js';
import type { InstanceSpec } from '../../ports/index.js';

export const LABEL_MANAGED = 'thecloud.managed';
/** Which installation (database) owns the container: servers on other databases leave it alone. */
export const LABEL_CLOUD = 'thecloud.cloud-id';
export const LABEL_INSTANCE = 'thecloud.instance-id';
export const LABEL_ACCOUNT = 'thecloud.account-id';
export const LABEL_SUBNET = 'thecloud.subnet-id';
export const LABEL_VPC = 'thecloud.vpc-id';

/** The repository captured images are committed to: thecloud/ami:<image id>. */
export const CAPTURE_REPO = 'thecloud/ami';

const INSTANCE_ID = /^i-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const VPC_ID = /^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/;
const IMAGE_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const ACCOUNT_ID = /^\d{12}$/;
/** A backend id is the container id this adapter returned (64 hex digits, or a unique prefix of 12+). */
const CONTAINER_ID = /^[0-9a-f]{12,64}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/**
 * A Docker image reference, narrowed: optional registry host[:port], lower-case path components, optional
 * tag, optional sha256 digest. Bare image ids (sha256:<hex>) are accepted too.
 */
const IMAGE_REF =
  /^(?:[A-Za-z0-9.-]+(?::\d{1,5})?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;
const IMAGE_ID_REF = /^sha256:[a-f0-9]{64}$/;

function check(kind: string, value: unknown, re: RegExp): string {
  if (typeof value !== 'string' || !re.test(value)) throw new TypeError(`invalid ${kind}: ${JSON.stringify(value)}`);
  return value;
}

// Ids that become Docker object names also pass the project-wide safe-name rule (belt and braces).
export const instanceId = (v: string) => assertSafeName('instance', check('instance id', v, INSTANCE_ID));
export const containerId = (v: string) => check('backend (container) id', v, CONTAINER_ID);
export const imageId = (v: string) => assertSafeName('image', check('image id', v, IMAGE_ID));

/** Strips the optional `docker:` scheme and checks the rest; adds no tag (Docker defaults to :latest). */
export function imageRef(location: string): string {
  const ref = location.startsWith('docker:') ? location.slice('docker:'.length) : location;
  if (ref.length > 255 || !(IMAGE_REF.test(ref) || IMAGE_ID_REF.test(ref))) {
    throw new TypeError(`invalid Docker image reference: ${JSON.stringify(location)}`);
  }
  return ref;
}

export function hostname(v: string): string {
  // The kernel's UTS name is at most 64 bytes; EC2 names (ip-172-31-0-5.ec2.internal) fit easily.
  if (typeof v !== 'string' || v.length > 64 || !v.split('.').every((l) => HOST_LABEL.test(l))) {
    throw new TypeError(`invalid hostname: ${JSON.stringify(v)}`);
  }
  return v;
}

/** The Docker bridge network of a subnet: `thecloud-<subnet id>`. */
export const networkName = (subnetId: string) => `thecloud-${assertSafeName('subnet', check('subnet id', subnetId, SUBNET_ID))}`;

/** Every subnet bridge's Linux interface name starts so (iptables rules match `thecl+`). */
export const BRIDGE_PREFIX = 'thecl';

/** The subnet bridge's Linux interface name: `thecl` + 10 hex digits of the subnet id (15 characters at most). */
export function bridgeName(subnetId: string): string {
  const hex = check('subnet id', subnetId, SUBNET_ID).slice('subnet-'.length, 'subnet-'.length + 10);
  return `${BRIDGE_PREFIX}${hex}`;
}

export const vpcId = (v: string) => check('vpc id', v, VPC_ID);

function ipv4(kind: string, v: string): string {
  if (isIP(v) !== 4) throw new TypeError(`invalid ${kind}: ${JSON.stringify(v)}`);
  return v;
}

export function cidr(v: string): string {
  const [addr, bits, ...rest] = String(v).split('/');
  if (rest.length || !addr || !bits || !/^\d{1,2}$/.test(bits) || Number(bits) > 30 || isIP(addr) !== 4) {
    throw new TypeError(`invalid IPv4 CIDR: ${JSON.stringify(v)}`);
  }
  return v;
}

export function size(vcpus: number, memoryMiB: number): void {
  if (!Number.isInteger(vcpus) || vcpus < 1) throw new TypeError(`invalid vCPU count: ${vcpus}`);
  // Docker refuses memory limits under 6 MiB.
  if (!Number.isInteger(memoryMiB) || memoryMiB < 6) throw new TypeError(`invalid memory size: ${memoryMiB} MiB`);
}

/** Checks the whole spec before anything is sent to Docker. */
export function spec(s: InstanceSpec): InstanceSpec {
  instanceId(s.instanceId);
  check('account id', s.accountId, ACCOUNT_ID);
  imageRef(s.imageRef);
  hostname(s.hostname);
  size(s.vcpus, s.memoryMiB);
  for (const k of s.publicKeys) {
    if (typeof k !== 'string' || /[\r\n\0]/.test(k)) throw new TypeError('invalid public key: one key per string, no newlines');
  }
  if (s.nics !== undefined && (!Array.isArray(s.nics) || s.nics.length > 8)) throw new TypeError('invalid NIC list');
  for (const nic of s.nics ?? []) check('ENI id', nic.eniId, /^eni-([0-9a-f]{8}|[0-9a-f]{17})$/);
  return s;
}

/** An installation id: lowercase hex, as the database generates it. */
export function cloudId(v: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(v)) throw new TypeError(`unsafe cloud id: ${JSON.stringify(v)}`);
  return v;
}
