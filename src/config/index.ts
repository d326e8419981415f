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
  authEnabled: boolean;
  accounts: AccountConfig[];
  dockerSocket?: string;
  libvirtUri: string;
  volumeGroup: string;
  /** How long terminated instances stay visible, as on AWS (about an hour). */
  terminatedRetentionMs: number;
  reconcileIntervalMs: number;
  /** The per-account instance limit (AWS's InstanceLimitExceeded), also shown by DescribeAccountAttributes. */
  maxInstances: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
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

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL`);
  }
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl,
    dataDir: env.THECLOUD_DATA_DIR || '.data',
    region: env.AWS_REGION || env.THECLOUD_REGION || 'us-east-1',
    computeBackend: oneOf(env, 'COMPUTE_BACKEND', ['docker', 'libvirt', 'noop'] as const, 'docker'),
    storageBackend: oneOf(env, 'STORAGE_BACKEND', ['lvm', 'noop'] as const, 'noop'),
    networkBackend: oneOf(env, 'NETWORK_BACKEND', ['ovs', 'noop'] as const, 'ovs'),
    authEnabled: bool(env, 'THECLOUD_AUTH', true),
    accounts: accounts(env),
    dockerSocket: env.DOCKER_SOCKET || undefined,
    libvirtUri: env.LIBVIRT_URI || 'qemu:///system',
    volumeGroup: env.THECLOUD_VG || 'thecloud-vg',
    terminatedRetentionMs: integer(env, 'THECLOUD_TERMINATED_RETENTION_SECONDS', 3600, 0, 86400 * 7) * 1000,
    reconcileIntervalMs: integer(env, 'THECLOUD_RECONCILE_SECONDS', 10, 1, 3600) * 1000,
    maxInstances: integer(env, 'THECLOUD_MAX_INSTANCES', 256, 1, 100000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
  };
}
