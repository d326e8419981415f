import type { ProbeResult } from './compute.js';

/**
 * NetworkBackend: VPC isolation on the host (an Open vSwitch bridge or VXLAN key per VPC) and security groups
 * as OpenFlow rules. The compute backend creates the instance; this port plugs it into its VPC.
 */
export interface SecurityRule {
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'all';
  fromPort?: number;
  toPort?: number;
  cidr: string;
}

export interface NetworkBackend {
  readonly name: 'ovs' | 'noop';
  ensureVpc(vpcId: string, cidr: string): Promise<void>;
  deleteVpc(vpcId: string): Promise<void>;
  ensureSubnet(vpcId: string, subnetId: string, cidr: string): Promise<void>;
  deleteSubnet(subnetId: string): Promise<void>;
  /** Applies the union of the given rules to one interface (replacing what it had). */
  applySecurityRules(interfaceId: string, rules: SecurityRule[]): Promise<void>;
  probe(): Promise<ProbeResult>;
}
