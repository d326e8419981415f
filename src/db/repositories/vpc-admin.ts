/** Writes of the VPC API (VPCs, subnets, groups, rules) and the dependency counts AWS's errors need. */
import type { Db, Transaction } from '../sql.js';
import type { SecurityGroupRuleRow } from './network.js';

export class VpcAdminRepository {
  constructor(private readonly db: Db) {}

  async deleteVpc(id: string, t?: Transaction): Promise<void> {
    await this.db.exec('DELETE FROM security_group_rules WHERE group_id IN (SELECT id FROM security_groups WHERE vpc_id = $1)', [id], t);
    await this.db.exec('DELETE FROM security_groups WHERE vpc_id = $1', [id], t);
    await this.db.exec(`DELETE FROM tags WHERE resource_id = $1`, [id], t);
    // Its default network ACL goes with it (rows by cascade, tags here).
    await this.db.exec('DELETE FROM tags WHERE resource_id IN (SELECT id FROM network_acls WHERE vpc_id = $1)', [id], t);
    await this.db.exec('DELETE FROM vpcs WHERE id = $1', [id], t);
  }

  async deleteSubnet(id: string): Promise<void> {
    await this.db.exec(`DELETE FROM tags WHERE resource_id = $1`, [id]);
    await this.db.exec('DELETE FROM subnets WHERE id = $1', [id]);
  }

  async deleteGroup(id: string): Promise<void> {
    await this.db.exec(`DELETE FROM tags WHERE resource_id = $1`, [id]);
    await this.db.exec('DELETE FROM security_groups WHERE id = $1', [id]);
  }

  async setVpcAttribute(id: string, column: 'enable_dns_support' | 'enable_dns_hostnames', value: boolean): Promise<void> {
    await this.db.exec(`UPDATE vpcs SET ${column} = $2 WHERE id = $1`, [id, value]);
  }

  async setMapPublicIp(id: string, value: boolean): Promise<void> {
    await this.db.exec('UPDATE subnets SET map_public_ip_on_launch = $2 WHERE id = $1', [id, value]);
  }

  /** What still lives in a VPC (DeleteVpc's DependencyViolation). */
  async vpcDependents(id: string): Promise<{ subnets: number; groups: number; enis: number }> {
    return (await this.db.one<{ subnets: number; groups: number; enis: number }>(
      `SELECT (SELECT count(*) FROM subnets WHERE vpc_id = $1)::int AS subnets,
              (SELECT count(*) FROM security_groups WHERE vpc_id = $1 AND group_name <> 'default')::int AS groups,
              (SELECT count(*) FROM network_interfaces WHERE vpc_id = $1)::int AS enis`,
      [id],
    ))!;
  }

  /** ENIs in a subnet plus instances recorded in it that are not terminated (DeleteSubnet's DependencyViolation). */
  async subnetDependents(id: string): Promise<number> {
    return (await this.db.one<{ n: number }>(
      `SELECT ((SELECT count(*) FROM network_interfaces WHERE subnet_id = $1) +
               (SELECT count(*) FROM instances WHERE subnet_id = $1 AND state <> 'terminated'))::int AS n`,
      [id],
    ))!.n;
  }

  /** ENIs using a group, and rules of other groups naming it (DeleteSecurityGroup's DependencyViolation). */
  async groupDependents(id: string): Promise<{ enis: number; referencing: number }> {
    return (await this.db.one<{ enis: number; referencing: number }>(
      `SELECT (SELECT count(*) FROM network_interfaces WHERE $1 = ANY(security_group_ids))::int +
              (SELECT count(*) FROM instances WHERE $1 = ANY(security_group_ids) AND state <> 'terminated' AND NOT EXISTS
                 (SELECT 1 FROM network_interfaces n WHERE n.id = instances.eni_id))::int AS enis,
              (SELECT count(*) FROM security_group_rules WHERE referenced_group_id = $1 AND group_id <> $1)::int AS referencing`,
      [id],
    ))!;
  }

  groupRules(groupId: string): Promise<SecurityGroupRuleRow[]> {
    return this.db.rows<SecurityGroupRuleRow>(
      `SELECT id, group_id, account_id, is_egress, ip_protocol, from_port, to_port, cidr_ipv4::text AS cidr_ipv4, referenced_group_id, description
       FROM security_group_rules WHERE group_id = $1 ORDER BY id`,
      [groupId],
    );
  }

  /** UpdateSecurityGroupRuleDescriptions*: each rule's new description (null: none). */
  async setRuleDescriptions(changes: { id: string; description: string | null }[]): Promise<void> {
    await this.db.tx(async (t) => {
      for (const c of changes) await this.db.exec('UPDATE security_group_rules SET description = $2 WHERE id = $1', [c.id, c.description], t);
    });
  }

  /** ModifySecurityGroupRules: each rule's fields replaced (its id, group and direction stay). */
  async replaceRules(changes: { id: string; rule: Pick<SecurityGroupRuleRow, 'ip_protocol' | 'from_port' | 'to_port' | 'cidr_ipv4' | 'referenced_group_id' | 'description'> }[]): Promise<void> {
    await this.db.tx(async (t) => {
      for (const { id, rule: r } of changes) {
        await this.db.exec(
          'UPDATE security_group_rules SET ip_protocol = $2, from_port = $3, to_port = $4, cidr_ipv4 = $5, referenced_group_id = $6, description = $7 WHERE id = $1',
          [id, r.ip_protocol, r.from_port, r.to_port, r.cidr_ipv4, r.referenced_group_id, r.description],
          t,
        );
      }
    });
  }

  async deleteRules(ids: string[]): Promise<void> {
    await this.db.exec('DELETE FROM security_group_rules WHERE id = ANY($1)', [ids]);
  }

  /** The group's ENIs changed groups (ModifyNetworkInterfaceAttribute / ModifyInstanceAttribute GroupId). */
  async setInstanceGroups(instanceId: string, groups: string[]): Promise<void> {
    await this.db.exec('UPDATE instances SET security_group_ids = $2 WHERE id = $1', [instanceId, groups]);
  }
}
