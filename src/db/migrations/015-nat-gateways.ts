import type { QueryInterface } from 'sequelize';

/**
 * NAT gateways (issue 10). A NAT gateway lives in a subnet with an ENI of type `nat_gateway` (its private
 * address is an allocation of that subnet, as for any ENI) and, when public, an Elastic IP associated with that
 * ENI. Its addresses are copied here as well: a deleted or failed gateway stays visible (AWS: about an hour)
 * with the addresses it had, after its ENI and association are gone. No foreign keys to the VPC or subnet for
 * the same reason.
 *
 * Public IPv4 addresses on launch (MapPublicIpOnLaunch, AssociatePublicIpAddress): the primary ENI records that it
 * wants one (`public_ip_on_launch`), and while its instance runs it holds an address of the operator's pool as a
 * row of `addresses` marked `auto` (not an Elastic IP: DescribeAddresses does not show it), which the routers map
 * 1:1 exactly as an Elastic IP.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE nat_gateways (
      id                   text PRIMARY KEY,
      account_id           char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id               text NOT NULL,
      subnet_id            text NOT NULL,
      connectivity_type    text NOT NULL DEFAULT 'public',
      state                text NOT NULL,
      allocation_id        text,
      association_id       text,
      public_ip            inet,
      network_interface_id text,
      private_ip           inet,
      failure_code         text,
      failure_message      text,
      client_token         text,
      created_at           timestamptz NOT NULL DEFAULT now(),
      deleted_at           timestamptz
    );
    CREATE INDEX nat_gateways_account ON nat_gateways (account_id, id COLLATE "C");
    CREATE INDEX nat_gateways_vpc ON nat_gateways (vpc_id) WHERE deleted_at IS NULL;
    CREATE UNIQUE INDEX nat_gateways_client_token ON nat_gateways (account_id, client_token) WHERE client_token IS NOT NULL;
    ALTER TABLE network_interfaces ADD COLUMN public_ip_on_launch boolean NOT NULL DEFAULT false;
    ALTER TABLE addresses ADD COLUMN auto boolean NOT NULL DEFAULT false;
    -- An Elastic IP's reverse DNS name (ModifyAddressAttribute DomainName); NULL: AWS's default ec2-… name.
    ALTER TABLE addresses ADD COLUMN ptr_record text;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    DELETE FROM addresses WHERE auto; ALTER TABLE addresses DROP COLUMN auto; ALTER TABLE addresses DROP COLUMN ptr_record; ALTER TABLE network_interfaces DROP COLUMN public_ip_on_launch;
    DELETE FROM tags WHERE resource_id IN (SELECT id FROM nat_gateways); DROP TABLE nat_gateways;
  `);
}
