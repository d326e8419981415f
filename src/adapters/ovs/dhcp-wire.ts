/**
 * The DHCP wire format (RFC 2131/2132), only as far as the VPC router needs it: read a client's message type,
 * transaction id, flags, chaddr, ciaddr and requested address; write an OFFER/ACK/NAK. Written here rather than
 * taken from npm: a few fixed offsets and a handful of options are simpler to read and check than a dependency,
 * and the socket must stay ours (bound inside the router namespace, its sender address naming the port).
 */
import { fromInt, maskOf, prefixOf, toInt } from './names.js';

export const DISCOVER = 1;
export const OFFER = 2;
export const REQUEST = 3;
export const DECLINE = 4;
export const ACK = 5;
export const NAK = 6;
export const RELEASE = 7;
export const INFORM = 8;

const MAGIC = 0x63825363;
const HEADER = 240;

export interface DhcpRequest {
  type: number;
  xid: number;
  flags: number;
  /** The client's hardware address, lower-case aa:bb:… (Ethernet only). */
  chaddr: string;
  ciaddr: string;
  /** Option 50, when present. */
  requested?: string;
}

/** The request in `buf`, or null when it is not a BOOTREQUEST over Ethernet with a DHCP message type. */
export function parseRequest(buf: Buffer): DhcpRequest | null {
  if (buf.length < HEADER + 3 || buf[0] !== 1 || buf[1] !== 1 || buf[2] !== 6 || buf.readUInt32BE(236) !== MAGIC) return null;
  let type: number | undefined;
  let requested: string | undefined;
  for (let i = HEADER; i < buf.length; ) {
    const code = buf[i]!;
    if (code === 255) break;
    if (code === 0) {
      i++;
      continue;
    }
    const len = buf[i + 1];
    if (len === undefined || i + 2 + len > buf.length) return null;
    if (code === 53 && len === 1) type = buf[i + 2];
    if (code === 50 && len === 4) requested = fromInt(buf.readUInt32BE(i + 2));
    i += 2 + len;
  }
  if (type === undefined) return null;
  const chaddr = [...buf.subarray(28, 34)].map((b) => b.toString(16).padStart(2, '0')).join(':');
  return { type, xid: buf.readUInt32BE(4), flags: buf.readUInt16BE(10), chaddr, ciaddr: fromInt(buf.readUInt32BE(12)), requested };
}

export interface DhcpLease {
  address: string;
  subnetCidr: string;
  router: string;
  /** The server identifier: the router's address in the subnet. */
  server: string;
  dnsServers: string[];
  ntpServers: string[];
  domainName?: string;
  hostname: string;
  leaseSeconds: number;
  mtu?: number;
}

/** The reply of `type` (OFFER, ACK or NAK) to `req`; an ACK to INFORM carries no address and no lease time. */
export function buildReply(req: DhcpRequest, type: number, lease: DhcpLease): Buffer {
  const head = Buffer.alloc(HEADER);
  head[0] = 2;
  head[1] = 1;
  head[2] = 6;
  head.writeUInt32BE(req.xid, 4);
  head.writeUInt16BE(req.flags & 0x8000, 10);
  const inform = req.type === INFORM;
  if (inform) head.writeUInt32BE(toInt(req.ciaddr), 12);
  if (type !== NAK && !inform) head.writeUInt32BE(toInt(lease.address), 16);
  Buffer.from(req.chaddr.split(':').map((h) => parseInt(h, 16))).copy(head, 28);
  head.writeUInt32BE(MAGIC, 236);
  const opts: Buffer[] = [];
  const opt = (code: number, value: Buffer) => {
    if (value.length > 255) value = value.subarray(0, 255);
    opts.push(Buffer.from([code, value.length]), value);
  };
  const addrs = (list: string[]) => Buffer.concat(list.map((a) => u32(toInt(a))));
  opt(53, Buffer.from([type]));
  opt(54, u32(toInt(lease.server)));
  if (type !== NAK) {
    if (!inform) {
      opt(51, u32(lease.leaseSeconds));
      opt(58, u32(Math.floor(lease.leaseSeconds / 2)));
      opt(59, u32(Math.floor((lease.leaseSeconds * 7) / 8)));
    }
    opt(1, u32(maskOf(prefixOf(lease.subnetCidr))));
    opt(3, u32(toInt(lease.router)));
    if (lease.dnsServers.length) opt(6, addrs(lease.dnsServers));
    if (lease.domainName) opt(15, Buffer.from(lease.domainName, 'ascii'));
    opt(12, Buffer.from(lease.hostname, 'ascii'));
    if (lease.ntpServers.length) opt(42, addrs(lease.ntpServers));
    if (lease.mtu) {
      const m = Buffer.alloc(2);
      m.writeUInt16BE(lease.mtu);
      opt(26, m);
    }
  }
  opts.push(Buffer.from([255]));
  const out = Buffer.concat([head, ...opts]);
  // BOOTP's minimum message size: some clients drop anything shorter.
  return out.length >= 300 ? out : Buffer.concat([out, Buffer.alloc(300 - out.length)]);
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}
