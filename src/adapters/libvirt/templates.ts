import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Renders the libvirt XML templates in templates/ (domain.xml, disk.xml, interface.xml). Pure functions: the same
 * parameters give the same XML, which test/templates/ compares against checked-in golden files.
 *
 * The template language is a small Mustache subset, enough for XML and nothing that could run code:
 *   {{x}}      the value of x, XML-escaped (every value we put into XML goes through this)
 *   {{{x}}}    x unescaped: only for fragments this module rendered itself (disks, interfaces)
 *   {{#x}}..{{/x}}  kept when x is truthy;  {{^x}}..{{/x}}  kept when x is falsy
 * A tag alone on its line takes the whole line with it; template comments (<!-- -->) are dropped.
 */

export const METADATA_NAMESPACE = 'https://thecloud.dev/libvirt/1';

export type TemplateValue = string | number | boolean | undefined;

/** Characters XML 1.0 cannot hold at all, even escaped. */
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function xmlEscape(value: string | number): string {
  const s = String(value);
  if (XML_INVALID.test(s)) throw new TypeError(`value cannot be put into XML: ${JSON.stringify(s)}`);
  return s.replace(/[&<>'"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function renderTemplate(template: string, values: Record<string, TemplateValue>): string {
  const lookup = (key: string): TemplateValue => {
    if (!(key in values)) throw new Error(`template value ${key} is missing`);
    return values[key];
  };
  let text = template.replace(/<!--[\s\S]*?-->[ \t]*\r?\n?/g, '');
  // Standalone section tags take their line: keep the tag, drop the indentation and line break around it.
  text = text.replace(/^[ \t]*(\{\{[#^/][\w-]+\}\})[ \t]*\r?\n/gm, '$1');
  // Sections (not nested with the same name, which the templates never need).
  const section = /\{\{([#^])([\w-]+)\}\}([\s\S]*?)\{\{\/\2\}\}/;
  for (let m = section.exec(text); m; m = section.exec(text)) {
    const keep = m[1] === '#' ? Boolean(lookup(m[2]!)) : !lookup(m[2]!);
    text = text.slice(0, m.index) + (keep ? m[3]! : '') + text.slice(m.index + m[0].length);
  }
  // Values last, in one pass, so that text inside a value is never read as a tag. A raw fragment alone on its
  // line takes the line, so that an empty fragment leaves no blank line.
  return text.replace(
    /^[ \t]*\{\{\{([\w-]+)\}\}\}[ \t]*\r?\n|\{\{\{([\w-]+)\}\}\}|\{\{([\w-]+)\}\}/gm,
    (_, line?: string, raw?: string, key?: string) => {
      if (line !== undefined) {
        const v = String(lookup(line) ?? '');
        return v === '' || v.endsWith('\n') ? v : `${v}\n`;
      }
      if (raw !== undefined) return String(lookup(raw) ?? '');
      const v = lookup(key!);
      if (v === undefined || typeof v === 'boolean') throw new Error(`template value ${key} must be a string or number`);
      return xmlEscape(v);
    },
  );
}

/** Indents every non-empty line of an XML fragment (disks and interfaces sit inside <devices>). */
function indent(xml: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return xml
    .split('\n')
    .map((l) => (l === '' ? l : pad + l))
    .join('\n');
}

// --- the templates on disk -------------------------------------------------------------------------------------

/** templates/ is at the repository root: found by walking up from this file (src/... or dist/src/...). */
function findTemplatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'templates', 'domain.xml'))) return join(dir, 'templates');
    dir = dirname(dir);
  }
  throw new Error('libvirt templates (templates/domain.xml) not found above ' + fileURLToPath(import.meta.url));
}

const cache = new Map<string, string>();
export function loadTemplate(name: 'domain' | 'disk' | 'interface', dir = process.env.THECLOUD_TEMPLATES_DIR): string {
  const path = join(dir ?? findTemplatesDir(), `${name}.xml`);
  let text = cache.get(path);
  if (text === undefined) {
    text = readFileSync(path, 'utf8');
    cache.set(path, text);
  }
  return text;
}

// --- the three kinds of XML ---------------------------------------------------------------------------------------

export interface DiskParams {
  /**
   * 'file' for an image file (qcow2 overlay, seed ISO), 'block' for a raw block device such as an LVM volume,
   * 'network' for an NBD export (source unused; nbd says where)
   */
  type: 'file' | 'block' | 'network';
  device: 'disk' | 'cdrom';
  format: 'qcow2' | 'raw';
  /** Absolute path of the file or block device */
  source: string;
  /** Guest device name: vda, vdb ... for virtio, hdc for the IDE CD-ROM */
  target: string;
  bus: 'virtio' | 'ide' | 'sata' | 'scsi';
  readonly?: boolean;
  /** Disk serial the guest sees (/dev/disk/by-id), e.g. the EBS volume id */
  serial?: string;
  /** Boot from this disk (images that boot from their disk); kernel+initrd domains need none */
  bootOrder?: number;
  /** For type 'network': the NBD server and export */
  nbd?: { host: string; port: number; exportName: string };
}

export interface InterfaceParams {
  mac: string;
  /** Host bridge to plug into */
  bridge: string;
  /** The bridge is an Open vSwitch bridge (libvirt adds the port with ovs-vsctl) */
  openvswitch: boolean;
  /** Host-side tap name (at most 15 characters), stable so the network adapter can find the port */
  targetDev: string;
  /** The OVS port's interface id (a UUID; libvirt writes it as external_ids:iface-id) */
  interfaceId?: string;
}

/**
 * `seed`: whether the guest reads its configuration from a NoCloud seed (undefined: it does). A kernel image whose
 * directory says `datasource` = ec2 (a stock cloud image, scripts/build-cloud-image.sh) reads the metadata
 * service instead and gets no seed.
 */
export type BootParams =
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline: string; seed?: boolean }
  | { kind: 'disk'; seed?: boolean };

export interface DomainParams {
  name: string;
  domainType: 'kvm' | 'qemu';
  instanceId: string;
  accountId: string;
  /** The installation's id (empty when unscoped): list() only reports domains of its own installation. */
  cloudId?: string;
  imageRef: string;
  vcpus: number;
  memoryMiB: number;
  boot: BootParams;
  disks: DiskParams[];
  interfaces: InterfaceParams[];
  /** Host file the serial console is logged to (consoleOutput reads it) */
  consoleLog: string;
  /** Address VNC listens on (VNC_LISTEN, default 127.0.0.1) */
  vncListen: string;
  /**
   * The platform the guest sees in SMBIOS, as on EC2: the domain's uuid (also the system serial) starting with
   * "ec2", manufacturer "Amazon EC2", the instance type as product. cloud-init's EC2 datasource looks for that.
   */
  ec2Identity?: { uuid: string; product: string };
}

/** An EC2-looking system uuid for an instance: stable for (installation, instance id), "ec2" first. */
export function ec2SystemUuid(instanceId: string, cloudId = ''): string {
  const hex = 'ec2' + createHash('sha256').update(`${cloudId}/${instanceId}`).digest('hex').slice(0, 29);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const EC2_UUID = /^ec2[0-9a-f]{5}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function positiveInt(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}

export function renderDiskXml(p: DiskParams, templates?: string): string {
  const nbd = p.type === 'network' ? p.nbd : undefined;
  if (p.type === 'network') {
    if (!nbd || !Number.isInteger(nbd.port) || nbd.port < 1 || nbd.port > 65535) throw new Error('a network disk needs an NBD host, port and export');
  } else if (!p.source.startsWith('/')) throw new Error(`disk source must be an absolute path: ${p.source}`);
  return renderTemplate(loadTemplate('disk', templates), {
    type: p.type,
    block: p.type === 'block',
    file: p.type === 'file',
    network: p.type === 'network',
    direct: p.type === 'block',
    host: nbd?.host,
    port: nbd?.port,
    exportName: nbd?.exportName,
    device: p.device,
    format: p.format,
    source: p.source,
    target: p.target,
    bus: p.bus,
    readonly: p.readonly ?? false,
    serial: p.serial,
    bootOrder: p.bootOrder === undefined ? undefined : positiveInt('bootOrder', p.bootOrder),
  });
}

export function renderInterfaceXml(p: InterfaceParams, templates?: string): string {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(p.mac)) throw new Error(`bad MAC address: ${p.mac}`);
  if (p.targetDev.length > 15) throw new Error(`interface name longer than 15 characters: ${p.targetDev}`);
  return renderTemplate(loadTemplate('interface', templates), {
    mac: p.mac.toLowerCase(),
    bridge: p.bridge,
    openvswitch: p.openvswitch && p.interfaceId === undefined,
    interfaceId: p.openvswitch ? p.interfaceId : undefined,
    targetDev: p.targetDev,
  });
}

export function renderDomainXml(p: DomainParams, templates?: string): string {
  const kernel = p.boot.kind === 'kernel' ? p.boot : undefined;
  if (p.ec2Identity && !EC2_UUID.test(p.ec2Identity.uuid)) throw new Error(`not an EC2 system uuid: ${p.ec2Identity.uuid}`);
  return renderTemplate(loadTemplate('domain', templates), {
    domainType: p.domainType,
    hostCpu: p.domainType === 'kvm',
    name: p.name,
    instanceId: p.instanceId,
    accountId: p.accountId,
    cloudId: p.cloudId ?? '',
    imageRef: p.imageRef,
    metadataNamespace: METADATA_NAMESPACE,
    memoryMiB: positiveInt('memoryMiB', p.memoryMiB),
    vcpus: positiveInt('vcpus', p.vcpus),
    kernel: kernel?.kernel,
    initrd: kernel?.initrd,
    cmdline: kernel?.cmdline,
    disks: p.disks.map((d) => indent(renderDiskXml(d, templates), 4)).join(''),
    interfaces: p.interfaces.map((i) => indent(renderInterfaceXml(i, templates), 4)).join(''),
    consoleLog: p.consoleLog,
    vncListen: p.vncListen,
    uuid: p.ec2Identity?.uuid,
    smbiosManufacturer: p.ec2Identity ? 'Amazon EC2' : undefined,
    smbiosProduct: p.ec2Identity?.product,
  });
}
