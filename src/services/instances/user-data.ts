/**
 * Turns EC2 user data into the one POSIX shell script a compute backend runs once at first boot:
 *  - a `#!` script is written to a file and executed with its own interpreter;
 *  - `#cloud-config` supports write_files, ssh_authorized_keys, packages (with the image's package manager),
 *    bootcmd and runcmd;
 *  - multipart MIME (as cloud-init takes it) runs its parts in order; gzip-compressed user data is unpacked.
 * Every piece of user-supplied text enters the script base64-encoded, so nothing in it is ever parsed by the shell.
 */
import { gunzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
/** Single-quote a value for sh. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface Part {
  type: string;
  body: Buffer;
}

export function renderFirstBootScript(userData: Buffer | undefined, publicKeys: string[]): string | undefined {
  const lines: string[] = [];
  if (publicKeys.length) lines.push(...authorizedKeys(publicKeys));
  if (userData?.length) {
    const data = userData[0] === 0x1f && userData[1] === 0x8b ? gunzipSync(userData) : userData;
    for (const [i, part] of splitParts(data).entries()) lines.push(...renderPart(part, i));
  }
  if (!lines.length) return undefined;
  return ['#!/bin/sh', '# Rendered by The Cloud from the instance user data; runs once at first boot.', 'umask 022', 'mkdir -p /var/lib/thecloud', ...lines, ''].join('\n');
}

function authorizedKeys(keys: string[]): string[] {
  const data = b64(keys.join('\n') + '\n');
  const out = [`echo ${shq(data)} | base64 -d > /var/lib/thecloud/authorized_keys 2>/dev/null || true`];
  for (const home of ['/root', '/home/ec2-user']) {
    out.push(
      `if [ -d ${home} ]; then mkdir -p ${home}/.ssh && cat /var/lib/thecloud/authorized_keys >> ${home}/.ssh/authorized_keys && chmod 700 ${home}/.ssh && chmod 600 ${home}/.ssh/authorized_keys; ` +
        (home === '/root' ? '' : `chown -R ec2-user ${home}/.ssh 2>/dev/null; `) +
        'fi',
    );
  }
  out.push('echo "thecloud: ssh key installed"');
  return out;
}

function splitParts(data: Buffer): Part[] {
  const text = data.toString('utf8');
  const m = /^Content-Type:\s*multipart\/mixed;[\s\S]*?boundary="?([^"\r\n;]+)"?/im.exec(text.slice(0, 2000));
  if (!m || !/^(MIME-Version|Content-Type)/im.test(text.slice(0, 200))) return [{ type: detectType(data), body: data }];
  const boundary = m[1]!;
  const parts: Part[] = [];
  for (const chunk of text.split(`--${boundary}`).slice(1)) {
    if (chunk.startsWith('--')) break;
    const sep = chunk.search(/\r?\n\r?\n/);
    if (sep < 0) continue;
    const headers = chunk.slice(0, sep);
    let body = chunk.slice(sep).replace(/^\r?\n\r?\n/, '').replace(/\r?\n$/, '');
    const type = /Content-Type:\s*([^;\r\n]+)/i.exec(headers)?.[1]?.trim().toLowerCase() ?? 'text/plain';
    if (/Content-Transfer-Encoding:\s*base64/i.test(headers)) body = Buffer.from(body, 'base64').toString('utf8');
    parts.push({ type, body: Buffer.from(body) });
  }
  return parts;
}

function detectType(data: Buffer): string {
  const head = data.subarray(0, 64).toString('utf8');
  if (head.startsWith('#cloud-config')) return 'text/cloud-config';
  if (head.startsWith('#!')) return 'text/x-shellscript';
  if (head.startsWith('#cloud-boothook')) return 'text/cloud-boothook';
  return 'text/plain';
}

function renderPart(part: Part, index: number): string[] {
  const type = part.type === 'text/plain' ? detectType(part.body) : part.type;
  if (type === 'text/x-shellscript' || type === 'text/cloud-boothook') {
    const file = `/var/lib/thecloud/user-data-${index}`;
    const body = type === 'text/cloud-boothook' ? Buffer.from(part.body.toString('utf8').replace(/^#cloud-boothook/, '#!/bin/sh')) : part.body;
    return [`echo ${shq(b64(body))} | base64 -d > ${file}`, `chmod 700 ${file}`, `${file}`];
  }
  if (type === 'text/cloud-config') return renderCloudConfig(part.body.toString('utf8'));
  return [`echo ${shq(`thecloud: user data part ${index} of type ${type} is not supported; skipped`)}`];
}

interface CloudConfig {
  write_files?: { path?: string; content?: string; encoding?: string; permissions?: string | number; append?: boolean }[];
  ssh_authorized_keys?: string[];
  packages?: (string | string[])[];
  bootcmd?: (string | string[])[];
  runcmd?: (string | string[])[];
  hostname?: string;
}

function command(c: string | string[]): string {
  return Array.isArray(c) ? c.map((a) => shq(String(a))).join(' ') : c;
}

export function renderCloudConfig(text: string): string[] {
  let cfg: CloudConfig;
  try {
    cfg = (parseYaml(text) ?? {}) as CloudConfig;
  } catch (e) {
    return [`echo ${shq(`thecloud: #cloud-config is not valid YAML: ${(e as Error).message.split('\n')[0]}`)}`];
  }
  const out: string[] = [];
  for (const c of cfg.bootcmd ?? []) out.push(`sh -c ${shq(command(c))}`);
  if (cfg.hostname) out.push(`hostname ${shq(cfg.hostname)} 2>/dev/null || true`);
  for (const f of cfg.write_files ?? []) {
    if (!f.path) continue;
    const raw = f.encoding && /^(b64|base64)$/i.test(f.encoding) ? Buffer.from(f.content ?? '', 'base64') : Buffer.from(f.content ?? '');
    const dir = f.path.replace(/\/[^/]*$/, '') || '/';
    out.push(`mkdir -p ${shq(dir)}`, `echo ${shq(b64(raw))} | base64 -d ${f.append ? '>>' : '>'} ${shq(f.path)}`);
    if (f.permissions !== undefined) out.push(`chmod ${shq(String(f.permissions).replace(/^0o/, '0'))} ${shq(f.path)}`);
  }
  if (cfg.ssh_authorized_keys?.length) out.push(...authorizedKeys(cfg.ssh_authorized_keys));
  const pkgs = (cfg.packages ?? []).map((p) => (Array.isArray(p) ? p.join('=') : p));
  if (pkgs.length) {
    const list = pkgs.map(shq).join(' ');
    out.push(
      `if command -v apt-get >/dev/null; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${list}; ` +
        `elif command -v apk >/dev/null; then apk add ${list}; elif command -v dnf >/dev/null; then dnf install -y ${list}; ` +
        `elif command -v yum >/dev/null; then yum install -y ${list}; else echo "thecloud: no package manager for packages: ${pkgs.join(' ').replace(/[^A-Za-z0-9 ._=+-]/g, '')}"; fi`,
    );
  }
  for (const c of cfg.runcmd ?? []) out.push(`sh -c ${shq(command(c))}`);
  return out;
}
