/**
 * The VPC router's DHCP answers, as AWS's VPC DHCP gives them. The switch hands every DHCP request of a port to
 * the router with the port's primary address written as its source (flows.ts: the request's own 0.0.0.0 or any
 * address it claims is replaced), so the socket's sender address names the port; the request's content only has
 * to agree (its chaddr must be the port's MAC, which the switch enforces as the frame's source).
 */
import type { DhcpVpcOptions, PortSpec } from '../../ports/index.js';
import { ACK, buildReply, DISCOVER, INFORM, NAK, OFFER, parseRequest, REQUEST, type DhcpLease } from './dhcp-wire.js';

/** A long lease, as AWS's (the address of an ENI never changes while it exists). */
export const LEASE_SECONDS = 86_400 * 365;

/** The reply to `message` from `port` (found by the sender address), or null when there is none to give. */
export function dhcpAnswer(message: Buffer, port: PortSpec, options: DhcpVpcOptions): Buffer | null {
  const req = parseRequest(message);
  if (!req || req.chaddr !== port.mac) return null;
  const address = port.ips[0]!;
  const lease: DhcpLease = {
    address,
    subnetCidr: port.subnetCidr,
    router: port.gateway,
    server: port.gateway,
    dnsServers: options.dnsServers,
    ntpServers: options.ntpServers,
    domainName: options.domainName,
    hostname: `ip-${address.replace(/\./g, '-')}`,
    leaseSeconds: LEASE_SECONDS,
  };
  switch (req.type) {
    case DISCOVER:
      return buildReply(req, OFFER, lease);
    case REQUEST: {
      const asked = req.requested ?? req.ciaddr;
      return buildReply(req, asked === address ? ACK : NAK, lease);
    }
    case INFORM:
      return buildReply(req, ACK, lease);
    default:
      return null; // DECLINE, RELEASE: nothing to answer (the address stays the ENI's)
  }
}
