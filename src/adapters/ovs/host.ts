/**
 * The host commands of the OVS adapter (ovs-vsctl, ovs-ofctl, ip, nsenter, ethtool), each with an argument
 * array through the project's runner, and the parsing of what they print. Callers check names (names.ts)
 * before they get here.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { Runner } from '../exec/index.js';

export const EXT = {
  cloud: 'thecloud-cloud',
  vpc: 'thecloud-vpc',
  kind: 'thecloud-kind',
  eni: 'thecloud-eni',
  subnet: 'thecloud-subnet',
  zone: 'thecloud-zone',
  vni: 'thecloud-vni',
} as const;

export interface OvsInterface {
  name: string;
  /** Undefined when OVS has not given it a port number (the device is missing). */
  ofport?: number;
  ext: Record<string, string>;
}

export interface OvsBridge {
  name: string;
  ext: Record<string, string>;
  ports: string[];
}

export interface HostLink {
  name: string;
  ifindex: number;
  /** The peer's ifindex (in the peer's namespace) for a veth */
  linkIndex?: number;
  /** The peer's name, for a veth whose peer is in the same namespace (ip then gives no linkIndex) */
  link?: string;
  alias?: string;
  address?: string;
}

type OvsMap = ['map', [string, string][]];
type OvsValue = string | number | ['set', unknown[]] | OvsMap | ['uuid', string];

function fromMap(v: OvsValue): Record<string, string> {
  return Array.isArray(v) && v[0] === 'map' ? Object.fromEntries((v as OvsMap)[1]) : {};
}

export class Host {
  constructor(private readonly run: Runner) {}

  /**
   * The switch daemon's own answer (`ovs-appctl version`): ovs-vsctl talks to ovsdb-server only, which answers
   * while ovs-vswitchd, the part that forwards, is down.
   */
  async switchVersion(): Promise<string> {
    const r = await this.run('ovs-appctl', ['--timeout=3', '-t', 'ovs-vswitchd', 'version'], { timeoutMs: 10_000 });
    return r.stdout.split('\n')[0]!.trim();
  }

  vsctl(args: string[], opts: { allowFailure?: boolean } = {}) {
    return this.run('ovs-vsctl', ['--timeout=20', ...args], { timeoutMs: 30_000, ...opts });
  }

  async interfaces(): Promise<OvsInterface[]> {
    const r = await this.vsctl(['--format=json', '--columns=name,ofport,external_ids', 'list', 'Interface']);
    const rows = (JSON.parse(r.stdout) as { data: [string, OvsValue, OvsValue][] }).data;
    return rows.map(([name, ofport, ext]) => ({ name, ofport: typeof ofport === 'number' && ofport > 0 ? ofport : undefined, ext: fromMap(ext) }));
  }

  async bridges(): Promise<OvsBridge[]> {
    const [b, p] = await Promise.all([
      this.vsctl(['--format=json', '--columns=name,external_ids,ports', 'list', 'Bridge']),
      this.vsctl(['--format=json', '--columns=_uuid,name', 'list', 'Port']),
    ]);
    const portNames = new Map((JSON.parse(p.stdout) as { data: [['uuid', string], string][] }).data.map(([u, n]) => [u[1], n]));
    const rows = (JSON.parse(b.stdout) as { data: [string, OvsValue, OvsValue][] }).data;
    return rows.map(([name, ext, ports]) => {
      const uuids: string[] = Array.isArray(ports) && ports[0] === 'uuid' ? [ports[1] as string] : Array.isArray(ports) && ports[0] === 'set' ? (ports[1] as ['uuid', string][]).map((x) => x[1]) : [];
      return { name, ext: fromMap(ext), ports: uuids.map((u) => portNames.get(u)).filter((n): n is string => !!n) };
    });
  }

  /** Replaces the bridge's flows with `flows` in one OpenFlow bundle (atomic). */
  async replaceFlows(bridge: string, flows: string): Promise<void> {
    await this.run('ovs-ofctl', ['-O', 'OpenFlow14', '--bundle', 'replace-flows', bridge, '-'], { input: flows, timeoutMs: 30_000 });
  }

  async dumpFlows(bridge: string): Promise<string> {
    return (await this.run('ovs-ofctl', ['-O', 'OpenFlow14', '--no-stats', 'dump-flows', bridge])).stdout;
  }

  /** iptables in the host's namespace (only rules that carry this installation's comment are made). */
  iptables(args: string[], opts: { allowFailure?: boolean } = {}) {
    return this.run('iptables', ['-w', '10', ...args], { timeoutMs: 30_000, ...opts });
  }

  ip(args: string[], opts: { allowFailure?: boolean; input?: string } = {}) {
    return this.run('ip', args, { timeoutMs: 30_000, ...opts });
  }

  /** `ip -batch -` in the host's namespace, or in a named one (netns) or a process's (pid). */
  async ipBatch(lines: string[][], where: { netns?: string; pid?: number } = {}): Promise<void> {
    const input = lines.map((l) => l.join(' ')).join('\n') + '\n';
    for (const l of lines) for (const w of l) if (!/^[A-Za-z0-9_.:/-]+$/.test(w)) throw new TypeError(`unsafe ip batch word ${JSON.stringify(w)}`);
    if (where.pid !== undefined) await this.run('nsenter', ['-t', String(where.pid), '-n', 'ip', '-batch', '-'], { input, timeoutMs: 30_000 });
    else await this.ip([...(where.netns ? ['-n', where.netns] : []), '-batch', '-'], { input });
  }

  async links(where: { netns?: string; pid?: number } = {}): Promise<HostLink[]> {
    const args = ['-j', 'link', 'show'];
    const r =
      where.pid !== undefined
        ? await this.run('nsenter', ['-t', String(where.pid), '-n', 'ip', ...args], { timeoutMs: 30_000 })
        : await this.ip([...(where.netns ? ['-n', where.netns] : []), ...args]);
    const rows = JSON.parse(r.stdout || '[]') as { ifname: string; ifindex: number; link_index?: number; link?: string; ifalias?: string; address?: string }[];
    return rows.map((l) => ({ name: l.ifname, ifindex: l.ifindex, linkIndex: l.link_index, link: l.link, alias: l.ifalias, address: l.address }));
  }

  /** One link by name, or undefined when there is none. */
  async link(name: string, where: { netns?: string; pid?: number } = {}): Promise<HostLink | undefined> {
    const args = ['-j', 'link', 'show', 'dev', name];
    const r =
      where.pid !== undefined
        ? await this.run('nsenter', ['-t', String(where.pid), '-n', 'ip', ...args], { timeoutMs: 30_000, allowFailure: true })
        : await this.ip([...(where.netns ? ['-n', where.netns] : []), ...args], { allowFailure: true });
    if (r.exitCode !== 0) return undefined;
    const [l] = JSON.parse(r.stdout || '[]') as { ifname: string; ifindex: number; link_index?: number; link?: string; ifalias?: string; address?: string }[];
    return l && { name: l.ifname, ifindex: l.ifindex, linkIndex: l.link_index, link: l.link, alias: l.ifalias, address: l.address };
  }

  /** The IPv4 addresses (`a.b.c.d/len`) on a link, in the host's namespace or a process's. */
  async addresses(name: string, where: { pid?: number } = {}): Promise<string[]> {
    const args = ['-j', '-4', 'addr', 'show', 'dev', name];
    const r =
      where.pid !== undefined
        ? await this.run('nsenter', ['-t', String(where.pid), '-n', 'ip', ...args], { timeoutMs: 30_000, allowFailure: true })
        : await this.ip(args, { allowFailure: true });
    if (r.exitCode !== 0) return [];
    const [l] = JSON.parse(r.stdout || '[]') as { addr_info?: { local: string; prefixlen: number }[] }[];
    return (l?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
  }

  /** Checksums computed by the sender: the userspace datapath reads veths through AF_PACKET, which does not. */
  async noTxOffload(ifname: string, where: { netns?: string; pid?: number } = {}): Promise<void> {
    const args = ['-K', ifname, 'tx', 'off'];
    if (where.pid !== undefined) await this.run('nsenter', ['-t', String(where.pid), '-n', 'ethtool', ...args], { timeoutMs: 30_000 });
    else if (where.netns) await this.ip(['netns', 'exec', where.netns, 'ethtool', ...args]);
    else await this.run('ethtool', args, { timeoutMs: 30_000 });
  }

  /** Whether a tool runs at all (for probe). */
  async has(cmd: string, args: string[]): Promise<boolean> {
    try {
      return (await this.run(cmd, args, { allowFailure: true, timeoutMs: 10_000 })).exitCode === 0;
    } catch {
      return false;
    }
  }

  netnsExists(name: string): boolean {
    return existsSync(`/run/netns/${name}`);
  }

  netnsList(): string[] {
    try {
      return readdirSync('/run/netns');
    } catch {
      return [];
    }
  }
}
