import type { QueryInterface } from 'sequelize';

/**
 * Network ACLs (issue 9): each VPC's default ACL (rules 100 allow all, in and out; the `*` deny is implied and
 * never stored), ACLs users make, their entries, and explicit subnet associations. A subnet with no association
 * row is associated with its VPC's default ACL (so CreateSubnet needs no write here); its association id is then
 * derived from the subnet id. Existing VPCs get their default ACL now.
 *
 * DHCP options sets: a VPC's dhcp_options_id is NULL while it uses its account's default set (whose id is derived
 * from the account id, its row made on first use, see src/services/network/dhcp.ts), 'default' when associated
 * with no options (AssociateDhcpOptions default, as on AWS), else the id of a set.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE network_acls (
      id          text PRIMARY KEY,
      account_id  char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id      text NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE,
      is_default  boolean NOT NULL DEFAULT false,
      created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX network_acls_default ON network_acls (vpc_id) WHERE is_default;
    CREATE INDEX network_acls_account ON network_acls (account_id, id COLLATE "C");
    CREATE TABLE network_acl_entries (
      acl_id      text NOT NULL REFERENCES network_acls(id) ON DELETE CASCADE,
      egress      boolean NOT NULL,
      rule_number integer NOT NULL,
      protocol    text NOT NULL,
      rule_action text NOT NULL,
      cidr_block  cidr NOT NULL,
      from_port   integer,
      to_port     integer,
      icmp_type   integer,
      icmp_code   integer,
      PRIMARY KEY (acl_id, egress, rule_number)
    );
    CREATE TABLE network_acl_associations (
      id          text PRIMARY KEY,
      subnet_id   text NOT NULL UNIQUE REFERENCES subnets(id) ON DELETE CASCADE,
      acl_id      text NOT NULL REFERENCES network_acls(id)
    );
    INSERT INTO network_acls (id, account_id, vpc_id, is_default)
      SELECT 'acl-' || substr(md5(random()::text || id), 1, 17), account_id, id, true FROM vpcs;
    INSERT INTO network_acl_entries (acl_id, egress, rule_number, protocol, rule_action, cidr_block)
      SELECT a.id, e.egress, 100, '-1', 'allow', '0.0.0.0/0' FROM network_acls a, (VALUES (true), (false)) AS e(egress);
    CREATE TABLE dhcp_options (
      id             text PRIMARY KEY,
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      is_default     boolean NOT NULL DEFAULT false,
      -- [{"key": "domain-name", "values": ["ec2.internal"]}, ...] in the order given
      configurations jsonb NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX dhcp_options_account ON dhcp_options (account_id, id COLLATE "C");
    ALTER TABLE vpcs ADD COLUMN dhcp_options_id text;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    DROP TABLE network_acl_associations;
    DROP TABLE network_acl_entries;
    DROP TABLE network_acls;
    ALTER TABLE vpcs DROP COLUMN dhcp_options_id;
    DROP TABLE dhcp_options;
  `);
}
