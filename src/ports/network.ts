import type { Socket } from 'node:net';
import type { ProbeResult } from './compute.js';

/**
 * NetworkBackend: the data plane of VPCs. It owns every *port* (an ENI plugged into a sandbox that the compute
 * backend made) and programs the switch from the records alone: isolation per VPC, routing between the subnets
 * of a VPC through the VPC router (the subnet gateway, base + 1), and security groups (stateful).
 *
 * How the services call it (the records come first, in a transitional state, as everywhere):
 * - CreateVpc / CreateSubnet / Delete*: ensureVpc, ensureSubnet, deleteSubnet, deleteVpc (after the records say
 *   so; DependencyViolation is the service's business).
 * - launch: allocate the ENI (record: MAC, IPs, groups); a container: compute.create(spec with `nics`) returns
 *   its sandbox, then plug(port, sandbox); a VM: spec.nics[i].vm = vmInterface(port), compute.create, then
 *   plug(port, { kind: 'ovs-port', name: vmInterface(port).portName }). Undo in reverse: unplug, destroy.
 *   Then setSecurityGroups(its VPC's model, { vpcIds: [its VPC] }) when the new ENI joined groups (other ports'
 *   source-group rules see it).
 *   A container's port may be prepare(port)d while the container is made and started, so that its plug is short.
 * - start / reboot: a container's namespace is new: plug(port, await compute.sandbox(id)) for each ENI; a VM:
 *   plug(port, { kind: 'ovs-port', ... }) after the domain started.
 * - stop: unplug(eniId) for each ENI (the sandbox is gone or going); terminate: unplug, then free the ENI and
 *   setSecurityGroups(its VPC's model without its IPs, scoped to that VPC).
 * - rule or membership changes (Authorize/Revoke*, ModifySecurityGroupRules, Create/Delete groups, an ENI
 *   joining or leaving): setSecurityGroups(the VPC's model, { vpcIds: [the VPC] }); a port's own groups changing
 *   (ModifyInstanceAttribute, ModifyNetworkInterfaceAttribute): setPortSecurityGroups(eniId, groups) and
 *   setSecurityGroups(its VPC's model, scoped). A group belongs to one VPC and a rule's peer group is in the
 *   group's VPC, so a VPC's flows depend on its own groups alone: a change costs what its VPC holds, not what
 *   the installation holds. Network ACL changes likewise: setNetworkAcls(the VPC's ACLs, { vpcIds: [the VPC] }).
 * - reconcile (start-up first, then periodically or after a backend failure): sync(desired) with every VPC and
 *   subnet record, the ENIs of running instances with their sandboxes (compute.sandbox / the VM tap name) and
 *   the whole security model; it retries what failed, and throws an AggregateError naming what is still wrong.
 *
 * Contract:
 * - `sync(desired)` is the first call after a process start and the way to repair anything (a host reboot that
 *   left the switch empty, a kill in the middle of a plug): it makes the host match `desired` exactly and
 *   removes every object of this installation that `desired` does not name. Until the first sync, the calls
 *   that program ports (plug, unplug, setPortSecurityGroups, setSecurityGroups) throw NetworkNotSyncedError, so
 *   that a half-known model never rewrites the flows of ports it does not know.
 * - Every other call is idempotent and changes one object; each one that touches traffic has taken effect on
 *   the switch when it returns.
 * - Every host object carries the installation id, so another installation's objects are never touched.
 * - Bad input (an unsafe id, a bad CIDR or MAC) is refused before any host command runs (TypeError).
 */

export interface VpcSpec {
  vpcId: string;
  /** The VPC's IPv4 CIDR blocks (the primary one first). */
  cidrs: string[];
  /** The VPC's VXLAN network identifier (1..16777215), unique per installation: keys tunnels between hosts. */
  vni: number;
  /**
   * The VPC's resolver address (its primary CIDR's base + 2, as on AWS), where the router serves DNS besides
   * AMAZON_DNS_ADDRESS when serveDns is on. Absent: only AMAZON_DNS_ADDRESS.
   */
  resolver?: string;
}

export interface SubnetSpec {
  vpcId: string;
  subnetId: string;
  cidr: string;
  /** The VPC router's address in the subnet: its base + 1, as on AWS. */
  gateway: string;
}

/** An ENI as the data plane needs it. IP allocations belong to the ENI. */
export interface PortSpec {
  eniId: string;
  vpcId: string;
  subnetId: string;
  /** 02:xx:... (stable across stop/start) */
  mac: string;
  /** The primary private IPv4 address first, then the secondary ones. */
  ips: string[];
  /** The subnet's gateway (default route of device index 0). */
  gateway: string;
  subnetCidr: string;
  /** The groups enforced on this port (their rules come from setSecurityGroups). */
  securityGroupIds: string[];
  /** 0 for the primary interface (eth0 in a container), 1 for eth1 ... */
  deviceIndex: number;
  /**
   * AWS's source/destination check. Absent or true: the switch admits from the port only packets sent from its own
   * addresses. False (ModifyNetworkInterfaceAttribute / ModifyInstanceAttribute SourceDestCheck): from any address,
   * so that the instance can forward traffic that is not its own (a NAT instance, a router, a VPN endpoint).
   */
  sourceDestCheck?: boolean;
}

/**
 * What the compute backend made for a port to be plugged into:
 * - `netns`: a container started with no network; its network namespace is found from its init's pid. A new
 *   netns (every container start) needs a new plug.
 * - `ovs-port`: a VM's tap that libvirt adds to the bridge itself (see `vmInterface`); plug programs it once it
 *   is there (after every start of the domain).
 */
export type Sandbox = { kind: 'netns'; pid: number } | { kind: 'ovs-port'; name: string };

/** What a VM's domain definition must say for its interface: `<interface type='bridge'>` on `bridge` ... */
export interface VmInterface {
  bridge: string;
  /** The tap's name (`<target dev=...>`), derived from the ENI id. */
  portName: string;
  /** The `<virtualport type='openvswitch'><parameters interfaceid=...>` UUID, derived from the ENI id. */
  interfaceId: string;
  mac: string;
}

/** Where a rule's traffic comes from (ingress) or goes to (egress). */
export type RulePeer = { cidr: string } | { groupId: string };

/**
 * One security group rule, as AWS's IpPermission with one peer:
 * - protocol 'all' (AWS's -1) matches every IPv4 packet; a number matches that IP protocol;
 * - tcp/udp: `ports` is an inclusive range (absent: every port);
 * - icmp: `icmp` type and code, -1 meaning any (absent: every ICMP message).
 */
export interface SecurityRule {
  protocol: 'tcp' | 'udp' | 'icmp' | 'all' | number;
  ports?: { from: number; to: number };
  icmp?: { type: number; code: number };
  peer: RulePeer;
}

export interface SecurityGroupSpec {
  groupId: string;
  vpcId: string;
  ingress: SecurityRule[];
  egress: SecurityRule[];
  /**
   * The private IPs of every ENI in the group (on this host or another): a rule naming this group as its peer
   * matches exactly these addresses, so source-group rules follow membership.
   */
  memberIps: string[];
}

/** Every security group the plugged ports use or refer to. */
export interface SecurityModel {
  groups: SecurityGroupSpec[];
}

/**
 * The VPCs a setSecurityGroups / setNetworkAcls call is about: what it carries is exactly these VPCs' part (every
 * group or ACL in it belongs to one of them; a VPC named with nothing has none left), and only their part and their
 * flows change. Without a scope the call carries everything and replaces everything.
 */
export interface VpcScope {
  vpcIds: string[];
}

/**
 * One network ACL entry (stateless): AWS's protocol (-1 is 'all'), the peer CIDR (the source of inbound
 * traffic, the destination of outbound), the destination port range for tcp/udp (absent: every port), ICMP
 * type/code for icmp (-1: any).
 */
export interface NetworkAclEntrySpec {
  ruleNumber: number;
  egress: boolean;
  action: 'allow' | 'deny';
  protocol: 'tcp' | 'udp' | 'icmp' | 'all' | number;
  cidr: string;
  ports?: { from: number; to: number };
  icmp?: { type: number; code: number };
}

/**
 * A network ACL with the subnets associated with it. A subnet no ACL names is under its VPC's default ACL
 * (isDefault), as a new subnet is on AWS; a VPC with no ACL in the model is not filtered. Entries are evaluated
 * in rule-number order, the first match wins, and what matches none is denied (AWS's `*` rule). Traffic within
 * a subnet, and to or from the VPC router's own addresses (gateway, metadata), is not subject to ACLs.
 */
export interface NetworkAclSpec {
  aclId: string;
  vpcId: string;
  isDefault: boolean;
  subnetIds: string[];
  entries: NetworkAclEntrySpec[];
}

/** Where a route sends its destination (the router resolves the record's target to one of these). */
export type RouteTargetSpec = { kind: 'internet' } | { kind: 'address'; ip: string } | { kind: 'nat'; natGatewayId: string } | { kind: 'blackhole' };

/**
 * A VPC's routing as its router applies it: each route table with the subnets that follow it (explicitly
 * associated, or through the main table) and its routes other than `local` (the router always routes between
 * its subnets). `internet`: an internet gateway is attached, so the router has its uplink to the host with SNAT;
 * routes of kind 'internet' without it are blackholes.
 */
export interface VpcRouting {
  vpcId: string;
  internet: boolean;
  tables: { routeTableId: string; subnetIds: string[]; routes: { destination: string; target: RouteTargetSpec }[] }[];
  /** Public addresses (Elastic IPs) of the VPC's ENIs: the host routes each to the router, which maps it 1:1. */
  publicIps?: { publicIp: string; privateIp: string }[];
  /**
   * Public NAT gateways of the VPC (available ones): a route of kind 'nat' naming one goes out by the uplink with
   * its source translated to the gateway's public address; the host routes that address to the router for the
   * replies, and nothing else comes in by it.
   */
  natGateways?: { natGatewayId: string; publicIp: string }[];
}

export interface DesiredNetwork {
  /** Every VPC's routing (absent: none is applied, as before route tables existed). */
  routing?: VpcRouting[];
  vpcs: VpcSpec[];
  subnets: SubnetSpec[];
  /** The ports that must be plugged now (ENIs of running instances), each with its sandbox. */
  ports: { port: PortSpec; sandbox: Sandbox }[];
  security: SecurityModel;
  /** Every network ACL (absent: none, no subnet filtered). */
  acls?: NetworkAclSpec[];
}

/** What this installation has on the host (for reconciliation and for `doctor`). */
export interface NetworkInventory {
  vpcs: string[];
  subnets: string[];
  ports: { eniId: string; vpcId: string; kind: 'container' | 'vm'; name: string; attached: boolean }[];
}

export interface SyncReport {
  /** Host objects of this installation that were removed because `desired` does not name them. */
  removed: string[];
}

/** The instance metadata service's address, the same in every VPC (AWS's link-local one), and its port. */
export const METADATA_ADDRESS = '169.254.169.254';
export const METADATA_PORT = 80;

/**
 * Takes a connection an instance made to the metadata address, with the VPC it came from. The socket's
 * remoteAddress is the instance's own private IP as the VPC saw it: the switch admits a port's packets only with
 * that port's MAC and IPs, so (VPC, source address) names exactly one ENI and cannot be forged from another.
 */
export type MetadataAcceptor = (vpcId: string, socket: Socket) => void;

/** The DNS resolver's link-local address, the same in every VPC (AWS's Route 53 Resolver one), and DNS's port. */
export const AMAZON_DNS_ADDRESS = '169.254.169.253';
export const DNS_PORT = 53;

/**
 * Answers one DNS query (a UDP datagram) that an instance of `vpcId` sent to the VPC's resolver, or null for
 * no answer at all. As with metadata, the VPC is known from the socket the query arrived on, never from its content.
 */
export type DnsResponder = (vpcId: string, query: Buffer) => Promise<Buffer | null>;

/** DHCP's server and client ports. */
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

/** What a VPC's DHCP options set tells its instances (AWS's AmazonProvidedDNS already turned into an address). */
export interface DhcpVpcOptions {
  domainName?: string;
  dnsServers: string[];
  ntpServers: string[];
}

/** The DHCP options of a VPC's instances, or null for none (the VPC is unknown: no answer). */
export type DhcpOptionsLookup = (vpcId: string) => Promise<DhcpVpcOptions | null>;

export class NetworkNotSyncedError extends Error {
  override readonly name = 'NetworkNotSyncedError';
  constructor() {
    super('the network backend has not been synced since it started: call sync(desired) first');
  }
}

export interface NetworkBackend {
  readonly name: 'ovs' | 'noop';
  /** Makes the VPC's isolated segment and its router exist. */
  ensureVpc(vpc: VpcSpec): Promise<void>;
  /** Removes the VPC's segment, router and every port still in it. Idempotent. */
  deleteVpc(vpcId: string): Promise<void>;
  /** Gives the VPC router the subnet's gateway address. The VPC must exist. */
  ensureSubnet(subnet: SubnetSpec): Promise<void>;
  deleteSubnet(vpcId: string, subnetId: string): Promise<void>;
  /**
   * Optional: makes a container port ahead of its sandbox (while the container is made and started), everything
   * that does not need the namespace: the pair, the switch port, its flows. The plug that follows (same port)
   * then only moves it in; without a prepare, or after a sync, plug does it all. Undone by unplug. Idempotent.
   */
  prepare?(port: PortSpec): Promise<void>;
  /** Plugs the ENI into the sandbox (idempotent: a plug of the same port and sandbox changes nothing). */
  plug(port: PortSpec, sandbox: Sandbox): Promise<void>;
  /** Removes the ENI's port and its flows. Idempotent. */
  unplug(eniId: string): Promise<void>;
  /** Changes the groups enforced on a plugged port (ModifyNetworkInterfaceAttribute / ModifyInstanceAttribute). */
  setPortSecurityGroups(eniId: string, securityGroupIds: string[]): Promise<void>;
  /**
   * Replaces every group's rules and members, or with a scope those of the scope's VPCs only (a group of another
   * VPC in `model` is bad input); running ports see the change when this returns.
   */
  setSecurityGroups(model: SecurityModel, scope?: VpcScope): Promise<void>;
  /**
   * Replaces every network ACL (stateless subnet filters), or with a scope those of the scope's VPCs only (an ACL
   * of another VPC is bad input); running traffic sees the change when this returns.
   */
  setNetworkAcls(acls: NetworkAclSpec[], scope?: VpcScope): Promise<void>;
  /** What a VM's interface definition must say for this port (pure: no host command). */
  vmInterface(port: PortSpec): VmInterface;
  /**
   * Which VPCs the host reaches through their router (a link from 169.254.252.0/22 and a route to their CIDRs),
   * in a stable order (it gives each its link). Takes effect at the next ensureVpc or sync. Optional.
   */
  setHostVpcs?(vpcIds: string[]): void;
  /**
   * From now on (and for every VPC realised later, also after sync rebuilt its router) connections from a VPC's
   * instances to METADATA_ADDRESS:METADATA_PORT go to `accept`, tagged with the VPC; null stops it. The switch
   * does not filter this address by security groups (as on AWS).
   */
  serveMetadata(accept: MetadataAcceptor | null): Promise<void>;
  /**
   * From now on (and for every VPC realised later) UDP DNS queries from a VPC's instances to AMAZON_DNS_ADDRESS
   * and to the VPC's resolver address go to `respond`, and its answers go back from the address asked; null stops
   * it. Not filtered by security groups (as on AWS). Optional: a backend without it serves no DNS.
   */
  serveDns?(respond: DnsResponder | null): Promise<void>;
  /**
   * From now on (and for every VPC realised later) the VPC router answers DHCP for every plugged port as AWS's VPC
   * DHCP does: the port's primary address, the subnet's mask and router, and `lookup`'s options; null stops it.
   * Who asks is the port the request came in on (the switch enforces its MAC), never the request's content.
   * Optional: a backend without it serves no DHCP (guests then need their address configured another way).
   */
  serveDhcp?(lookup: DhcpOptionsLookup | null): Promise<void>;
  /**
   * From now until `release` is called, the router's packets to `peer` (an instance's address and source port of
   * one metadata connection in `vpcId`) leave with IP TTL `hops` (1..64): AWS's HttpPutResponseHopLimit, so that a
   * token answer goes no further than `hops` hops (a container inside the instance is one more). Optional.
   */
  limitMetadataHops?(vpcId: string, peer: { address: string; port: number }, hops: number): Promise<() => Promise<void>>;
  /** Replaces the VPC's routing (route tables, internet uplink); in effect when it returns. Optional. */
  setRouting?(routing: VpcRouting): Promise<void>;
  list(): Promise<NetworkInventory>;
  sync(desired: DesiredNetwork): Promise<SyncReport>;
  probe(): Promise<ProbeResult>;
}
