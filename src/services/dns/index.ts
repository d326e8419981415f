/**
 * The VPC's DNS resolver ("AmazonProvidedDNS"), as an instance sees it at 169.254.169.253 and at its VPC's base + 2
 * (the network backend hands over each query with the VPC it came from: NetworkBackend.serveDns):
 * - private names of the VPC (`ip-10-0-1-5.ec2.internal`, any case) answer A with the address when an ENI of
 *   that VPC holds it, NXDOMAIN otherwise; their reverse names (`5.1.0.10.in-addr.arpa`) answer PTR the same way;
 *   other record types of a known name answer no data;
 * - every other name is forwarded as it came to the operator's upstream resolvers (by default the host's, from
 *   /etc/resolv.conf), and their answer returned; no upstream or no answer in time: SERVFAIL;
 * - with the VPC's enableDnsSupport off, nothing is answered (as on AWS, where the resolver then does not work).
 * Queries that are not one standard question are refused with FORMERR/NOTIMP; garbage is dropped.
 */
import { createSocket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import * as packet from 'dns-packet';
import type { DnsResponder } from '../../ports/index.js';
import { addressOfPrivateName, addressOfReverseName, privateDnsName } from '../../domain/dns.js';

/** What the resolver needs to know of a VPC: its DNS attribute, and whether `ip` is one of its ENIs' addresses. */
export interface DnsSource {
  vpc(vpcId: string, ip?: string): Promise<{ enableDnsSupport: boolean; known: boolean } | undefined>;
}

export interface Upstream {
  address: string;
  port: number;
}

export interface DnsResolverOptions {
  region: string;
  upstreams: Upstream[];
  /** How long an upstream may take before the next one is asked (default 2 s). */
  upstreamTimeoutMs?: number;
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

const TTL = 60;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
const OPCODE_QUERY = 0;

export class DnsResolver {
  constructor(private readonly source: DnsSource, private readonly opts: DnsResolverOptions) {}

  /** Hand this to NetworkBackend.serveDns. */
  readonly respond: DnsResponder = async (vpcId, query) => {
    let q: packet.DecodedPacket;
    try {
      q = packet.decode(query);
    } catch {
      return null; // not DNS: no answer, as a resolver does
    }
    if (q.type !== 'query' || query.length < 12) return null;
    const question = q.questions?.length === 1 ? q.questions[0]! : undefined;
    const forward = question && addressOfPrivateName(question.name, this.opts.region);
    const reverse = question && forward === undefined ? addressOfReverseName(question.name) : undefined;
    // One lookup: the VPC's DNS attribute, and whether the name's address is one of its ENIs'.
    const vpc = await this.source.vpc(vpcId, forward ?? reverse);
    if (!vpc || !vpc.enableDnsSupport) return null;
    const opcode = (query.readUInt16BE(2) >> 11) & 0xf;
    if (opcode !== OPCODE_QUERY) return reply(q, RCODE.NOTIMP);
    if (!question) return reply(q, RCODE.FORMERR);
    if (forward !== undefined) {
      if (!vpc.known) return reply(q, RCODE.NXDOMAIN, [], true);
      const answers: packet.Answer[] = question.type === 'A' || (question.type as string) === 'ANY' ? [{ type: 'A', name: question.name, ttl: TTL, data: forward }] : [];
      return reply(q, RCODE.NOERROR, answers, true);
    }
    if (reverse !== undefined && vpc.known) {
      const answers: packet.Answer[] = question.type === 'PTR' || (question.type as string) === 'ANY' ? [{ type: 'PTR', name: question.name, ttl: TTL, data: privateDnsName(reverse, this.opts.region) }] : [];
      return reply(q, RCODE.NOERROR, answers, true);
    }
    return (await this.forward(query)) ?? reply(q, RCODE.SERVFAIL);
  };

  /** The upstreams' answer to the query as it came (same id), the first that answers in time; else undefined. */
  private async forward(query: Buffer): Promise<Buffer | undefined> {
    for (const u of this.opts.upstreams) {
      const answer = await ask(u, query, this.opts.upstreamTimeoutMs ?? 2000).catch((e: Error) => {
        this.opts.log?.warn('DNS upstream did not answer', { upstream: `${u.address}:${u.port}`, error: e.message });
        return undefined;
      });
      if (answer) return answer;
    }
    return undefined;
  }
}

function reply(q: packet.DecodedPacket, rcode: number, answers: packet.Answer[] = [], authoritative = false): Buffer {
  const flags = (q.flag_rd ? packet.RECURSION_DESIRED : 0) | packet.RECURSION_AVAILABLE | (authoritative ? packet.AUTHORITATIVE_ANSWER : 0) | rcode;
  return packet.encode({ type: 'response', id: q.id, flags, questions: q.questions, answers });
}

function ask(upstream: Upstream, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv4(upstream.address) ? 'udp4' : 'udp6');
    const id = query.readUInt16BE(0);
    const done = (err: Error | undefined, answer?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', (e) => done(e));
    // Only an answer from the upstream asked, with the query's id, is taken (a stray datagram is not).
    socket.on('message', (msg, from) => {
      if (from.address === upstream.address && from.port === upstream.port && msg.length >= 12 && msg.readUInt16BE(0) === id) done(undefined, msg);
    });
    socket.send(query, upstream.port, upstream.address, (e) => e && done(e));
  });
}

/**
 * The upstreams named by THECLOUD_DNS_UPSTREAMS (`none`, or comma-separated `address` / `address:port`, IPv4), or,
 * when it is unset, the IPv4 nameservers of the host's resolv.conf text.
 */
export function upstreamsFrom(setting: string | undefined, resolvConf: string): Upstream[] {
  if (setting !== undefined && setting.trim() !== '') {
    if (setting.trim() === 'none') return [];
    return setting.split(',').map((s) => {
      const [address, port = '53'] = s.trim().split(':') as [string, string?];
      if (!isIPv4(address) || !/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
        throw new TypeError(`THECLOUD_DNS_UPSTREAMS: ${JSON.stringify(s.trim())} is not an IPv4 address[:port]`);
      }
      return { address, port: Number(port) };
    });
  }
  return resolvConf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((a): a is string => !!a && isIPv4(a))
    .map((address) => ({ address, port: 53 }));
}
