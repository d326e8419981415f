import type { Db } from '../sql.js';

/** What the VPC resolver asks of the records (src/services/dns). */
export class DnsRepository {
  constructor(private readonly db: Db) {}

  /** The VPC's enableDnsSupport and whether `ip` is allocated to something in one of its subnets; undefined: no such VPC. */
  async vpc(vpcId: string, ip?: string): Promise<{ enableDnsSupport: boolean; known: boolean } | undefined> {
    const row = await this.db.one<{ enable_dns_support: boolean; known: boolean }>(
      `SELECT v.enable_dns_support,
              ($2::inet IS NOT NULL AND EXISTS (SELECT 1 FROM ip_allocations a JOIN subnets s ON s.id = a.subnet_id WHERE s.vpc_id = v.id AND a.ip = $2::inet)) AS known
         FROM vpcs v WHERE v.id = $1`,
      [vpcId, ip ?? null],
    );
    return row ? { enableDnsSupport: row.enable_dns_support, known: row.known } : undefined;
  }
}
