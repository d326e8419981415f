import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Runner } from '../exec/index.js';
import type { InstanceSpec, NetworkAttachment } from '../../ports/compute.js';

/**
 * The NoCloud seed of an instance: an ISO 9660 image labelled "cidata" holding meta-data, user-data and
 * network-config, which cloud-init (and the test image's /init) reads at boot. The file contents are made by
 * pure functions here; the ISO by genisoimage (or xorriso's mkisofs emulation).
 */

export interface SeedFiles {
  'meta-data': string;
  'user-data': Buffer;
  'network-config': string;
  /** The service's rendering of non-script user data, for images without cloud-init (the test image). */
  'firstboot.sh'?: string;
}

/** YAML double-quoted scalar: JSON's string syntax is a subset of it, and it keeps every value on one line. */
const yamlString = (s: string): string => JSON.stringify(s);

function validKey(key: string): string {
  const k = key.trim();
  if (k === '' || /[\r\n\0]/.test(k)) throw new Error('a public key must be one non-empty line');
  return k;
}

export function metaData(spec: Pick<InstanceSpec, 'instanceId' | 'hostname' | 'publicKeys'>): string {
  const lines = [`instance-id: ${yamlString(spec.instanceId)}`, `local-hostname: ${yamlString(spec.hostname)}`];
  if (spec.publicKeys.length > 0) {
    lines.push('public-keys:', ...spec.publicKeys.map((k) => `  - ${yamlString(validKey(k))}`));
  }
  return lines.join('\n') + '\n';
}

/**
 * user-data: the user's raw bytes when there are any (cloud-init handles #!, #cloud-config, multipart itself);
 * else the service's first-boot script, made a #! script so that any NoCloud reader runs it; else empty.
 */
export function userData(spec: Pick<InstanceSpec, 'userData' | 'firstBootScript'>): Buffer {
  if (spec.userData !== undefined && spec.userData.length > 0) return spec.userData;
  if (spec.firstBootScript !== undefined && spec.firstBootScript !== '') return Buffer.from(asScript(spec.firstBootScript));
  return Buffer.alloc(0);
}

function asScript(script: string): string {
  return script.startsWith('#!') ? script : `#!/bin/sh\n${script}`;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/**
 * cloud-init network config version 2: the one interface, matched by MAC, with its static address and route,
 * and the VPC's resolver when there is one. The default route is a `routes` entry (what the test image reads), or
 * `gateway4`: cloud-init 22.4 renders a route entry for ifupdown as `route add` of net-tools, which a stock
 * Debian cloud image lacks, and `gateway4` as the interface's own gateway.
 */
export function networkConfig(net: NetworkAttachment | undefined, dns?: InstanceSpec['dns'], defaultRoute: 'routes' | 'gateway4' = 'routes'): string {
  if (net === undefined) return 'version: 2\nethernets: {}\n';
  const prefix = /^[\d.]+\/(\d{1,2})$/.exec(net.cidr)?.[1];
  if (prefix === undefined || Number(prefix) > 32) throw new Error(`bad subnet CIDR ${net.cidr}`);
  for (const [what, ip] of [['private IP', net.privateIp], ['gateway', net.gateway]] as const) {
    if (!IPV4.test(ip)) throw new Error(`bad ${what} ${ip}`);
  }
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(net.macAddress)) throw new Error(`bad MAC address ${net.macAddress}`);
  return [
    'version: 2',
    'ethernets:',
    '  eth0:',
    '    match:',
    `      macaddress: ${yamlString(net.macAddress.toLowerCase())}`,
    '    set-name: eth0',
    '    addresses:',
    `      - ${net.privateIp}/${prefix}`,
    ...(defaultRoute === 'gateway4' ? [`    gateway4: ${net.gateway}`] : ['    routes:', '      - to: 0.0.0.0/0', `        via: ${net.gateway}`]),
    ...nameservers(dns),
    '',
  ].join('\n');
}

function nameservers(dns: InstanceSpec['dns']): string[] {
  if (!dns || dns.nameservers.length === 0) return [];
  for (const ns of dns.nameservers) if (!IPV4.test(ns)) throw new Error(`bad nameserver ${ns}`);
  for (const d of dns.search) if (!DOMAIN.test(d)) throw new Error(`bad search domain ${d}`);
  return [
    '    nameservers:',
    `      addresses: [${dns.nameservers.join(', ')}]`,
    ...(dns.search.length ? [`      search: [${dns.search.join(', ')}]`] : []),
  ];
}

/** The primary NIC as the network config's one interface (the test image configures one). */
function nicAttachment(nics: NonNullable<InstanceSpec['nics']>): NetworkAttachment | undefined {
  const nic = nics.find((n) => n.deviceIndex === 0) ?? nics[0];
  if (!nic) return undefined;
  return { subnetId: '', vpcId: '', vpcCidr: nic.subnetCidr, cidr: nic.subnetCidr, gateway: nic.gateway, privateIp: nic.ips[0]!, macAddress: nic.mac };
}

/**
 * The network config of a guest that reads no seed (a stock cloud image) and has no DHCP server to ask: given on
 * the kernel command line as cloud-init's `network-config=<base64>`.
 */
export function kernelNetworkConfig(spec: InstanceSpec): string {
  const yaml = networkConfig(spec.nics ? nicAttachment(spec.nics) : spec.network, spec.nics ? spec.dns : undefined, 'gateway4');
  return `network-config=${Buffer.from(yaml).toString('base64')}`;
}

/**
 * The kernel command line words a guest without a seed needs besides its image's: none when its NICs are VPC
 * ports (the VPC router answers DHCP, as on AWS), else its network config (kernelNetworkConfig).
 */
export function kernelNetworkArgs(spec: InstanceSpec): string[] {
  return spec.nics?.length ? [] : [kernelNetworkConfig(spec)];
}

export function seedFiles(spec: InstanceSpec): SeedFiles {
  const files: SeedFiles = {
    'meta-data': metaData(spec),
    'user-data': userData(spec),
    'network-config': networkConfig(spec.nics ? nicAttachment(spec.nics) : spec.network, spec.nics ? spec.dns : undefined),
  };
  // With raw user data present, firstBootScript is the service's rendering of it; cloud-init images ignore it.
  if (spec.userData !== undefined && spec.userData.length > 0 && spec.firstBootScript) {
    files['firstboot.sh'] = asScript(spec.firstBootScript);
  }
  return files;
}

/** Writes the seed ISO to `isoPath` with the first ISO tool found (genisoimage, else xorriso). */
export async function buildSeedIso(runner: Runner, files: SeedFiles, isoPath: string, tool: 'genisoimage' | 'xorriso'): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'thecloud-seed-'));
  try {
    const names = Object.keys(files) as (keyof SeedFiles)[];
    for (const name of names) await writeFile(join(dir, name), files[name]!, { mode: 0o600 });
    const mkisofs = ['-quiet', '-output', isoPath, '-volid', 'cidata', '-joliet', '-rock', ...names.map((n) => join(dir, n))];
    if (tool === 'genisoimage') await runner('genisoimage', mkisofs);
    else await runner('xorriso', ['-as', 'mkisofs', ...mkisofs]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
