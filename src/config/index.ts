/**
 * Configuration from the environment, validated once at start-up. A bad value stops the server with a
 * message that names the variable and the values it takes.
 */
export interface AccountConfig {
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export interface Config {
  port: number;
  host: string;
  databaseUrl?: string;
  dataDir: string;
  region: string;
  computeBackend: 'docker' | 'libvirt' | 'noop';
  storageBackend: 'lvm' | 'noop';
  networkBackend: 'ovs' | 'noop';
  /**
   * VPCs the host reaches through their router (THECLOUD_HOST_VPCS, comma-separated VPC ids; the word `default`
   * is the default VPC of the first account, and is what an unset variable means; `none` is none).
   */
  hostVpcs: string[];
  /**
   * Where the VPC resolver forwards names that are not the VPC's own (THECLOUD_DNS_UPSTREAMS: `none`, or
   * comma-separated IPv4 `address[:port]`); unset: the host's resolv.conf nameservers.
   */
  dnsUpstreams?: string;
  /**
   * Where Elastic IPs and public IPv4 addresses come from (THECLOUD_PUBLIC_IPV4_POOL, a CIDR; default
   * 198.18.0.0/15, the benchmarking range of RFC 2544, which no real network uses).
   */
  publicIpv4Pool: string;
  authEnabled: boolean;
  accounts: AccountConfig[];
  dockerSocket?: string;
  /** Host directory of the containers' first-boot files (THECLOUD_DOCKER_BOOT_DIR; src/adapters/docker/boot.ts). */
  dockerBootDir?: string;
  libvirtUri: string;
  /** EBS on LVM (STORAGE_BACKEND=lvm): where the volume group is and how its volumes reach instances. */
  storage: StorageConfig;
  /** How long terminated instances stay visible, as on AWS (about an hour). */
  terminatedRetentionMs: number;
  reconcileIntervalMs: number;
  /** On SIGTERM: how long backend work in flight may take to finish before it is left to reconciliation. */
  shutdownGraceMs: number;
  /** The per-account instance limit (AWS's InstanceLimitExceeded), also shown by DescribeAccountAttributes. */
  maxInstances: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Where accounts may register images from (RegisterImage); see src/services/images/policy.ts. */
  imagePolicy: ImagePolicyConfig;
}

/** The operator's image policy: what RegisterImage may name besides the built-in images. */
export interface ImagePolicyConfig {
  /** Host directories (absolute) whose disk image files and kernel directories accounts may register. */
  directories: string[];
  /**
   * Docker images accounts may register (and so make the host pull): patterns over the full name
   * `registry/path` (`docker.io/library/busybox`), `*` any run of characters but `/`, `**` anything; an
   * entry without `/` names a whole registry.
   */
  dockerImages: string[];
  /** An account that may also register host locations outside those lists (never the cloud's own files). */
  adminAccountId?: string;
}

export interface StorageConfig {
  /** THECLOUD_VG */
  volumeGroup: string;
  /** THECLOUD_THIN_POOL: the thin pool in it that holds every volume, snapshot and image disk */
  thinPool: string;
  /** THECLOUD_STORAGE_HOST: 'local' (the VG is on this machine) or ssh://user@host:port */
  host: string;
  /** THECLOUD_STORAGE_SSH_KEY / THECLOUD_STORAGE_SSH_KNOWN_HOSTS: login to an ssh:// storage host */
  sshKey: string;
  sshKnownHosts: string;
  /** THECLOUD_STORAGE_NBD_ADDRESS: where compute hosts reach the storage host's NBD exports */
  nbdAddress: string;
  /** THECLOUD_STORAGE_NBD_BIND: the address the exports listen on, on the storage host */
  nbdBind: string;
  /** THECLOUD_STORAGE_NBD_PORTS: FIRST-LAST, one port per exported volume */
  nbdFirstPort: number;
  nbdLastPort: number;
  /** THECLOUD_STORAGE_OVERSUBSCRIPTION: volumes' total size may reach the thin pool's size times this */
  oversubscription: number;
}

export class ConfigError extends Error {}

function oneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, values: readonly T[], dflt: T): T {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (!(values as readonly string[]).includes(v)) {
    throw new ConfigError(`${name}=${JSON.stringify(v)} is not valid: use one of ${values.join(', ')}`);
  }
  return v as T;
}

function integer(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ConfigError(`${name}=${JSON.stringify(v)} is not valid: use a whole number from ${min} to ${max}`);
  }
  return Number(v);
}

function bool(env: NodeJS.ProcessEnv, name: string, dflt: boolean): boolean {
  const v = env[name]?.toLowerCase();
  if (v === undefined || v === '') return dflt;
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(env[name])} is not valid: use true or false`);
}

/**
 * Accounts: THECLOUD_ACCOUNTS="accountId:accessKey:secret,..." adds accounts; the default account is
 * THECLOUD_ACCOUNT_ID / AWS_ACCESS_KEY_ID-like THECLOUD_ACCESS_KEY_ID / THECLOUD_SECRET_ACCESS_KEY, test/test.
 */
function accounts(env: NodeJS.ProcessEnv): AccountConfig[] {
  const list: AccountConfig[] = [
    {
      accountId: env.THECLOUD_ACCOUNT_ID || '000000000000',
      accessKeyId: env.THECLOUD_ACCESS_KEY_ID || 'test',
      secretAccessKey: env.THECLOUD_SECRET_ACCESS_KEY || 'test',
    },
  ];
  for (const entry of (env.THECLOUD_ACCOUNTS ?? '').split(',').filter(Boolean)) {
    const [accountId, accessKeyId, secretAccessKey] = entry.split(':');
    if (!accountId || !/^\d{12}$/.test(accountId) || !accessKeyId || !secretAccessKey) {
      throw new ConfigError(`THECLOUD_ACCOUNTS entry ${JSON.stringify(entry)} is not valid: use accountId(12 digits):accessKey:secret`);
    }
    list.push({ accountId, accessKeyId, secretAccessKey });
  }
  for (const a of list) {
    if (!/^\d{12}$/.test(a.accountId)) throw new ConfigError(`THECLOUD_ACCOUNT_ID=${a.accountId} is not valid: use 12 digits`);
  }
  return list;
}

/** A comma-separated list; `none` is the empty list, unset or empty the default. */
function list(env: NodeJS.ProcessEnv, name: string, dflt: string[], item: RegExp, what: string): string[] {
  const v = env[name]?.trim();
  if (v === undefined || v === '') return dflt;
  if (v === 'none') return [];
  const items = v.split(',').map((x) => x.trim()).filter(Boolean);
  for (const x of items) {
    if (!item.test(x)) throw new ConfigError(`${name} entry ${JSON.stringify(x)} is not valid: use ${what}, comma-separated (or none)`);
  }
  return items;
}

/** The directory scripts/ build the built-in VM images in: importable unless the operator says otherwise. */
export const BUILTIN_IMAGE_DIR = '/var/lib/thecloud/images';

function imagePolicy(env: NodeJS.ProcessEnv, accountList: AccountConfig[]): ImagePolicyConfig {
  const directories = list(env, 'THECLOUD_IMAGE_DIRS', [BUILTIN_IMAGE_DIR], /^\/[^\0]*$/, 'absolute directory paths');
  const dockerImages = list(env, 'THECLOUD_DOCKER_IMAGES', ['docker.io/library/*'], /^[A-Za-z0-9*][A-Za-z0-9.:_*/-]*$/, 'registry/path patterns (* and **)');
  const adminAccountId = env.THECLOUD_ADMIN_ACCOUNT || undefined;
  if (adminAccountId !== undefined && !accountList.some((a) => a.accountId === adminAccountId)) {
    throw new ConfigError(`THECLOUD_ADMIN_ACCOUNT=${JSON.stringify(adminAccountId)} is not valid: use the id of a configured account (THECLOUD_ACCOUNT_ID or THECLOUD_ACCOUNTS)`);
  }
  return { directories, dockerImages, adminAccountId };
}

function vpcList(env: NodeJS.ProcessEnv, name: string): string[] {
  const raw = env[name]?.trim() || 'default';
  if (raw === 'none') return [];
  const ids = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) {
    if (id !== 'default' && !/^vpc-([0-9a-f]{8}|[0-9a-f]{17})$/.test(id)) throw new ConfigError(`${name}: ${JSON.stringify(id)} is not a VPC id`);
  }
  if (ids.length > 64) throw new ConfigError(`${name}: at most 64 VPCs`);
  return ids;
}

/** The defaults point at the storage-host guest that scripts/setup-storage-host.sh boots. */
const STORAGE_HOST_DIR = '/var/lib/thecloud/storage-host';

function storage(env: NodeJS.ProcessEnv): StorageConfig {
  const lvmName = (name: string, dflt: string) => {
    const v = env[name] || dflt;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,62}$/.test(v)) {
      throw new ConfigError(`${name}=${JSON.stringify(v)} is not valid: an LVM name (letters, digits, _ . + -)`);
    }
    return v;
  };
  const host = env.THECLOUD_STORAGE_HOST || 'ssh://root@127.0.0.1:10022';
  const ssh = /^ssh:\/\/(?:[a-z_][a-z0-9_-]{0,31}@)?([A-Za-z0-9.-]{1,253}|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?\/?$/.exec(host);
  if (host !== 'local' && (!ssh || Number(ssh[2] ?? 22) > 65535 || ssh[1]!.startsWith('-'))) {
    throw new ConfigError(`THECLOUD_STORAGE_HOST=${JSON.stringify(host)} is not valid: use local or ssh://[user@]host[:port]`);
  }
  const ports = env.THECLOUD_STORAGE_NBD_PORTS || '10810-10841';
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(ports);
  if (!range || Number(range[1]) < 1 || Number(range[2]) > 65535 || Number(range[1]) > Number(range[2])) {
    throw new ConfigError(`THECLOUD_STORAGE_NBD_PORTS=${JSON.stringify(ports)} is not valid: use FIRST-LAST, e.g. 10810-10841`);
  }
  const address = (name: string, dflt: string) => {
    const v = env[name] || dflt;
    if (!/^([A-Za-z0-9.-]{1,253}|[0-9a-fA-F:]+)$/.test(v) || v.startsWith('-')) {
      throw new ConfigError(`${name}=${JSON.stringify(v)} is not valid: a host name or IP address`);
    }
    return v;
  };
  const ratio = env.THECLOUD_STORAGE_OVERSUBSCRIPTION || '1';
  if (!/^\d+(\.\d+)?$/.test(ratio) || Number(ratio) < 0.1 || Number(ratio) > 100) {
    throw new ConfigError(`THECLOUD_STORAGE_OVERSUBSCRIPTION=${JSON.stringify(ratio)} is not valid: a number from 0.1 to 100`);
  }
  const path = (name: string, dflt: string) => {
    const v = env[name] || dflt;
    if (!v.startsWith('/') || /[\0\n]/.test(v)) throw new ConfigError(`${name}=${JSON.stringify(v)} is not valid: an absolute path`);
    return v;
  };
  return {
    volumeGroup: lvmName('THECLOUD_VG', 'thecloud-vg'),
    thinPool: lvmName('THECLOUD_THIN_POOL', 'thecloud-pool'),
    host,
    sshKey: path('THECLOUD_STORAGE_SSH_KEY', `${STORAGE_HOST_DIR}/id_ed25519`),
    sshKnownHosts: path('THECLOUD_STORAGE_SSH_KNOWN_HOSTS', `${STORAGE_HOST_DIR}/known_hosts`),
    nbdAddress: address('THECLOUD_STORAGE_NBD_ADDRESS', ssh ? ssh[1]!.replace(/^\[|\]$/g, '') : '127.0.0.1'),
    nbdBind: address('THECLOUD_STORAGE_NBD_BIND', '0.0.0.0'),
    nbdFirstPort: Number(range[1]),
    nbdLastPort: Number(range[2]),
    oversubscription: Number(ratio),
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL`);
  }
  const accountList = accounts(env);
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    dataDir: env.THECLOUD_DATA_DIR || '.data',
    region: env.AWS_REGION || env.THECLOUD_REGION || 'us-east-1',
    computeBackend: oneOf(env, 'COMPUTE_BACKEND', ['docker', 'libvirt', 'noop'] as const, 'docker'),
    storageBackend: oneOf(env, 'STORAGE_BACKEND', ['lvm', 'noop'] as const, 'noop'),
    networkBackend: oneOf(env, 'NETWORK_BACKEND', ['ovs', 'noop'] as const, 'ovs'),
    hostVpcs: vpcList(env, 'THECLOUD_HOST_VPCS'),
    dnsUpstreams: env.THECLOUD_DNS_UPSTREAMS || undefined,
    publicIpv4Pool: publicPool(env.THECLOUD_PUBLIC_IPV4_POOL || '198.18.0.0/15'),
    authEnabled: bool(env, 'THECLOUD_AUTH', true),
    accounts: accountList,
    dockerSocket: env.DOCKER_SOCKET || undefined,
    dockerBootDir: env.THECLOUD_DOCKER_BOOT_DIR || undefined,
    libvirtUri: env.LIBVIRT_URI || 'qemu:///system',
    storage: storage(env),
    terminatedRetentionMs: integer(env, 'THECLOUD_TERMINATED_RETENTION_SECONDS', 3600, 0, 86400 * 7) * 1000,
    reconcileIntervalMs: integer(env, 'THECLOUD_RECONCILE_SECONDS', 10, 1, 3600) * 1000,
    shutdownGraceMs: integer(env, 'THECLOUD_SHUTDOWN_GRACE_SECONDS', 20, 0, 3600) * 1000,
    maxInstances: integer(env, 'THECLOUD_MAX_INSTANCES', 256, 1, 100000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    imagePolicy: imagePolicy(env, accountList),
  };
}

function publicPool(v: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(v);
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) < 8 || Number(m[5]) > 30) {
    throw new Error(`THECLOUD_PUBLIC_IPV4_POOL must be an IPv4 CIDR /8../30, not ${JSON.stringify(v)}`);
  }
  return v;
}
