import type { QueryInterface } from 'sequelize';

/**
 * A change in one VPC gives the data plane that VPC's records alone (its groups, rules, ENIs, ACLs, subnets, route
 * tables, associations and public addresses), read by VPC: these indexes let those reads find the VPC's rows
 * instead of scanning the whole installation's. security_groups (UNIQUE (vpc_id, group_name)), internet_gateways
 * and nat_gateways (migrations 011, 015) have one already; rules, routes and entries are read by their parent's id.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE INDEX network_interfaces_vpc ON network_interfaces (vpc_id);
    CREATE INDEX subnets_vpc ON subnets (vpc_id);
    CREATE INDEX route_tables_vpc ON route_tables (vpc_id);
    CREATE INDEX route_table_associations_vpc ON route_table_associations (vpc_id);
    CREATE INDEX network_acls_vpc ON network_acls (vpc_id);
    CREATE INDEX addresses_network_interface ON addresses (network_interface_id) WHERE network_interface_id IS NOT NULL;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    DROP INDEX network_interfaces_vpc; DROP INDEX subnets_vpc; DROP INDEX route_tables_vpc;
    DROP INDEX route_table_associations_vpc; DROP INDEX network_acls_vpc; DROP INDEX addresses_network_interface;
  `);
}
