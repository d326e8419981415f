/**
 * DHCP options sets as AWS has them: each account's default set (domain-name ec2.internal in us-east-1, else
 * <region>.compute.internal; domain-name-servers AmazonProvidedDNS) that new VPCs use, sets users make, and
 * AssociateDhcpOptions (the word `default` associates a VPC with no options). The VPC router's DHCP server
 * (NetworkBackend.serveDhcp) asks `dhcpOptionsLookup` what a VPC's set tells its instances.
 */
import { Ec2Error } from '../../errors/index.js';
import { newId } from '../../ids/index.js';
import type { NetworkRepository, VpcRow } from '../../db/repositories/network.js';
import { vpcResolverAddress } from '../../domain/dns.js';
import type { DhcpOptionsLookup } from '../../ports/index.js';
import { defaultDhcpOptionsId, type DhcpConfigurationRow, type DhcpOptionsRow, type DhcpRepository } from '../../db/repositories/dhcp.js';

const KEYS = new Set(['domain-name', 'domain-name-servers', 'ntp-servers', 'netbios-name-servers', 'netbios-node-type', 'ipv6-address-preferred-lease-time']);

/** AWS's default set for a region. */
export function defaultConfigurations(region: string): DhcpConfigurationRow[] {
  return [
    { key: 'domain-name', values: [region === 'us-east-1' ? 'ec2.internal' : `${region}.compute.internal`] },
    { key: 'domain-name-servers', values: ['AmazonProvidedDNS'] },
  ];
}

/** Checks CreateDhcpOptions' configurations as AWS does (known keys, at least one value, AWS's limits). */
export function checkConfigurations(input: { Key?: string; Values?: string[] }[] | undefined): DhcpConfigurationRow[] {
  if (!input?.length) throw new Ec2Error('MissingParameter', 'The request must contain the parameter dhcpConfiguration');
  const out: DhcpConfigurationRow[] = [];
  for (const c of input) {
    const key = c.Key ?? '';
    if (!KEYS.has(key)) throw new Ec2Error('InvalidParameterValue', `Value (${key}) for parameter name is invalid. Unrecognized option name`);
    const values = c.Values ?? [];
    if (!values.length) throw new Ec2Error('InvalidParameterValue', `Value for parameter ${key} is invalid. At least one value is required.`);
    if ((key === 'domain-name-servers' || key === 'ntp-servers' || key === 'netbios-name-servers') && values.length > 4) {
      throw new Ec2Error('InvalidParameterValue', `Value for parameter ${key} is invalid. At most four values are allowed.`);
    }
    if (key === 'netbios-node-type' && !values.every((v) => ['1', '2', '4', '8'].includes(v))) {
      throw new Ec2Error('InvalidParameterValue', `Value (${values.join(',')}) for parameter netbios-node-type is invalid.`);
    }
    if (out.some((o) => o.key === key)) throw new Ec2Error('InvalidParameterValue', `Value (${key}) for parameter name is invalid. Duplicate option name`);
    out.push({ key, values });
  }
  return out;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * What each VPC's DHCP answers carry, from its effective options set: domain-name, domain-name-servers
 * (AmazonProvidedDNS is the VPC's resolver, its base + 2) and ntp-servers; names that are not addresses are left
 * out (a DHCP option carries addresses only). Read per request, so an AssociateDhcpOptions shows at the next lease.
 */
export function dhcpOptionsLookup(repo: DhcpRepository, region: string): DhcpOptionsLookup {
  return async (vpcId) => {
    const row = await repo.ofVpc(vpcId);
    if (!row) return null;
    const configurations = row.configurations ?? defaultConfigurations(region);
    const values = (key: string) => configurations.find((c) => c.key === key)?.values ?? [];
    const resolver = vpcResolverAddress(row.cidr_block);
    const dnsServers = values('domain-name-servers').map((v) => (v === 'AmazonProvidedDNS' ? resolver : v)).filter((v) => IPV4.test(v));
    const domain = values('domain-name').join(' ');
    return { domainName: /^[A-Za-z0-9.\- ]{1,255}$/.test(domain) ? domain : undefined, dnsServers: [...new Set(dnsServers)], ntpServers: values('ntp-servers').filter((v) => IPV4.test(v)) };
  };
}

export class DhcpAdmin {
  constructor(private readonly network: NetworkRepository) {}

  private get repo(): DhcpRepository {
    return this.network.dhcp;
  }

  /** Makes the account's default set's row exist (idempotent). */
  async ensureDefault(accountId: string, region: string): Promise<void> {
    await this.repo.insert({ id: defaultDhcpOptionsId(accountId), account_id: accountId, is_default: true, configurations: defaultConfigurations(region) });
  }

  async options(accountId: string, id: string, region: string): Promise<DhcpOptionsRow> {
    if (id === defaultDhcpOptionsId(accountId)) await this.ensureDefault(accountId, region);
    const d = await this.repo.one(accountId, id);
    if (!d) throw new Ec2Error('InvalidDhcpOptionID.NotFound', `The dhcpOption ID '${id}' does not exist`);
    return d;
  }

  async create(accountId: string, configurations: DhcpConfigurationRow[]): Promise<string> {
    const id = newId('dhcpOptions');
    await this.repo.insert({ id, account_id: accountId, is_default: false, configurations });
    return id;
  }

  async checkDelete(accountId: string, id: string, region: string): Promise<DhcpOptionsRow> {
    const d = await this.options(accountId, id, region);
    if (await this.repo.users(accountId, id)) throw new Ec2Error('DependencyViolation', `The dhcpOptions '${id}' has dependencies and cannot be deleted.`);
    return d;
  }

  delete(d: DhcpOptionsRow): Promise<void> {
    return this.repo.delete(d.id);
  }

  /** AssociateDhcpOptions: the VPC and the set (or `default`: none) must exist. */
  async checkAssociate(accountId: string, vpcId: string, id: string, region: string): Promise<VpcRow> {
    const vpc = (await this.network.vpcs(accountId)).find((v) => v.id === vpcId);
    if (!vpc) throw new Ec2Error('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`);
    if (id !== 'default') await this.options(accountId, id, region);
    return vpc;
  }

  associate(vpc: VpcRow, id: string): Promise<void> {
    return this.repo.associate(vpc.id, id);
  }
}
