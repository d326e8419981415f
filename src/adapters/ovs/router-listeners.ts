/**
 * The sockets of the services a VPC's router namespace offers its instances: metadata (TCP on METADATA_ADDRESS),
 * DNS (UDP on each resolver address) and DHCP (UDP 67). Each is bound inside the namespace and owned by this
 * process (exec: listenInNetns, bindUdpInNetns); what answers lives elsewhere (the metadata and DNS services, the
 * DHCP answer of backend.ts) and is handed each connection or datagram with the VPC it came from.
 *
 * RouterListeners keeps one service's sockets per VPC: it binds them when the service is on and the VPC is
 * realised, and binds them anew when the namespace was made anew (another inode: sync after a host reboot, a VPC
 * deleted and made again; the old socket sits in a namespace nobody reaches any more) or their addresses changed.
 */
import { statSync } from 'node:fs';
import { Server as NetServer } from 'node:net';
import type { Socket as DgramSocket, RemoteInfo } from 'node:dgram';
import { bindUdpInNetns, listenInNetns } from '../exec/index.js';
import {
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DNS_PORT,
  type DhcpOptionsLookup,
  type DnsResponder,
  METADATA_ADDRESS,
  METADATA_PORT,
  type MetadataAcceptor,
  type VpcSpec,
} from '../../ports/index.js';
import { resolverAddresses } from './router.js';

type Bound = NetServer | DgramSocket;

/** One service's sockets: where they are bound and how their traffic reaches the handler. */
export interface RouterService<H, S extends Bound> {
  /** The addresses inside the namespace the VPC's sockets are bound to, one socket each. */
  addresses(vpc: VpcSpec): string[];
  bind(netns: string, address: string): Promise<S>;
  /** Hands the socket's traffic to the handler of the moment (null once the service is stopped). */
  wire(socket: S, vpcId: string, netns: string, handler: () => H | null): void;
}

interface Open<S> {
  sockets: S[];
  /** The namespace's inode when they were bound. */
  ino: number;
  addresses: string;
}

export class RouterListeners<H, S extends Bound> {
  private handler: H | null = null;
  private readonly open = new Map<string, Open<S>>();

  constructor(
    private readonly netnsOf: (vpcId: string) => string,
    private readonly service: RouterService<H, S>,
  ) {}

  get serving(): H | null {
    return this.handler;
  }

  /** From now on traffic goes to `handler`, in each of `vpcs` and every VPC ensured later; null closes them all. */
  async serve(handler: H | null, vpcs: Iterable<VpcSpec>): Promise<void> {
    this.handler = handler;
    if (!handler) {
      for (const v of [...this.open.keys()]) this.close(v);
      return;
    }
    for (const v of vpcs) await this.ensure(v);
  }

  /** The VPC's sockets, bound if the service is on and they are missing, in an old namespace or on old addresses. */
  async ensure(vpc: VpcSpec): Promise<void> {
    if (!this.handler) return;
    const ns = this.netnsOf(vpc.vpcId);
    const ino = statSync(`/run/netns/${ns}`).ino;
    const addresses = this.service.addresses(vpc);
    const current = this.open.get(vpc.vpcId);
    if (current && current.ino === ino && current.addresses === addresses.join(',') && current.sockets.every(listening)) return;
    if (current) this.close(vpc.vpcId);
    const sockets: S[] = [];
    try {
      for (const a of addresses) sockets.push(await this.service.bind(ns, a));
    } catch (e) {
      sockets.forEach(quietClose);
      throw e;
    }
    const entry: Open<S> = { sockets, ino, addresses: addresses.join(',') };
    for (const socket of sockets) {
      this.service.wire(socket, vpc.vpcId, ns, () => this.handler);
      // A TCP listener that fails is forgotten (the next ensure binds a new one); a UDP socket's errors are
      // replies that could not be sent, not the socket's end.
      socket.on('error', () => {
        if (socket instanceof NetServer && this.open.get(vpc.vpcId) === entry) this.open.delete(vpc.vpcId);
      });
    }
    this.open.set(vpc.vpcId, entry);
  }

  close(vpcId: string): void {
    const l = this.open.get(vpcId);
    if (!l) return;
    this.open.delete(vpcId);
    l.sockets.forEach(quietClose);
  }

  /** Closes the sockets of every VPC that `keep` does not name. */
  closeOthers(keep: { has(vpcId: string): boolean }): void {
    for (const v of [...this.open.keys()]) if (!keep.has(v)) this.close(v);
  }
}

function listening(s: Bound): boolean {
  return !(s instanceof NetServer) || s.listening;
}

function quietClose(s: Bound): void {
  try {
    s.close();
  } catch {
    /* closed already */
  }
}

/** Metadata: a TCP listener on METADATA_ADDRESS:METADATA_PORT; each connection goes to the acceptor. */
export const metadataService: RouterService<MetadataAcceptor, NetServer> = {
  addresses: () => [METADATA_ADDRESS],
  bind: (ns, address) => listenInNetns(ns, address, METADATA_PORT),
  wire(server, vpcId, _ns, handler) {
    server.on('connection', (socket) => {
      const take = handler();
      if (take) take(vpcId, socket);
      else socket.destroy();
    });
  },
};

/**
 * DNS: UDP on each resolver address; an answer goes back through the socket the query came in on, so from the
 * address the instance asked.
 */
export const dnsService: RouterService<DnsResponder, DgramSocket> = {
  addresses: resolverAddresses,
  bind: (ns, address) => bindUdpInNetns(ns, address, DNS_PORT),
  wire(socket, vpcId, _ns, handler) {
    socket.on('message', (query, from) => {
      const respond = handler();
      if (!respond) return;
      respond(vpcId, query).then(
        (answer) => {
          if (answer) socket.send(answer, from.port, from.address);
        },
        () => undefined,
      );
    });
  },
};

/** Answers one DHCP request from `from` (the sender address names the port: flows.ts) through `socket`. */
export type DhcpAnswerer = (vpcId: string, netns: string, socket: DgramSocket, message: Buffer, from: string, lookup: DhcpOptionsLookup) => Promise<void>;

/**
 * DHCP: UDP 0.0.0.0:67. Only requests from the client port are answered; a guest flooding requests gets no more
 * than a few answers in the making at once (each is a lookup and an ip command); a client retries anyway.
 */
export function dhcpService(answer: DhcpAnswerer): RouterService<DhcpOptionsLookup, DgramSocket> {
  return {
    addresses: () => ['0.0.0.0'],
    bind: (ns, address) => bindUdpInNetns(ns, address, DHCP_SERVER_PORT),
    wire(socket, vpcId, ns, handler) {
      let busy = 0;
      socket.on('message', (message: Buffer, from: RemoteInfo) => {
        if (from.port !== DHCP_CLIENT_PORT || busy >= 8) return;
        const lookup = handler();
        if (!lookup) return;
        busy++;
        answer(vpcId, ns, socket, message, from.address, lookup)
          .catch(() => undefined)
          .finally(() => busy--);
      });
    },
  };
}
