import type { QueryInterface } from 'sequelize';

/**
 * Route tables and internet gateways (issue 10). A route table belongs to a VPC; its associations tie it to
 * subnets, or (main = true, no subnet) make it the VPC's main table, which every subnet without an explicit
 * association follows. Routes are keyed by destination within a table; exactly one target column is set, the
 * `local` route has gateway_id 'local'. Every existing VPC gets its main table with the local route, and each
 * default VPC an attached internet gateway with 0.0.0.0/0 to it, as AWS makes them.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE internet_gateways (
      id         text PRIMARY KEY,
      account_id char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id     text REFERENCES vpcs(id),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX internet_gateways_account ON internet_gateways (account_id, id COLLATE "C");
    CREATE UNIQUE INDEX internet_gateways_one_per_vpc ON internet_gateways (vpc_id) WHERE vpc_id IS NOT NULL;
    CREATE TABLE route_tables (
      id         text PRIMARY KEY,
      account_id char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id     text NOT NULL REFERENCES vpcs(id),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX route_tables_account ON route_tables (account_id, id COLLATE "C");
    CREATE TABLE route_table_associations (
      id             text PRIMARY KEY,
      route_table_id text NOT NULL REFERENCES route_tables(id),
      vpc_id         text NOT NULL REFERENCES vpcs(id),
      subnet_id      text UNIQUE REFERENCES subnets(id) ON DELETE CASCADE,
      main           boolean NOT NULL DEFAULT false,
      CHECK (main = (subnet_id IS NULL))
    );
    CREATE UNIQUE INDEX route_table_associations_one_main ON route_table_associations (vpc_id) WHERE main;
    CREATE INDEX route_table_associations_table ON route_table_associations (route_table_id);
    CREATE TABLE routes (
      route_table_id       text NOT NULL REFERENCES route_tables(id) ON DELETE CASCADE,
      destination          cidr NOT NULL,
      gateway_id           text,
      nat_gateway_id       text,
      network_interface_id text,
      instance_id          text,
      origin               text NOT NULL DEFAULT 'CreateRoute',
      PRIMARY KEY (route_table_id, destination)
    );
    CREATE INDEX routes_gateway ON routes (gateway_id) WHERE gateway_id IS NOT NULL;
    -- Elastic IPs: an address of the operator's pool, associated (or not) with an ENI's private address.
    CREATE TABLE addresses (
      id                   text PRIMARY KEY,
      account_id           char(12) NOT NULL REFERENCES accounts(account_id),
      public_ip            inet NOT NULL UNIQUE,
      association_id       text UNIQUE,
      network_interface_id text,
      private_ip           inet,
      created_at           timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX addresses_account ON addresses (account_id, id COLLATE "C");

    CREATE TEMP TABLE m011 ON COMMIT DROP AS
      SELECT v.id AS vpc_id, v.account_id, v.cidr_block, v.is_default,
             'rtb-' || substr(md5(random()::text || v.id), 1, 17) AS rtb,
             'rtbassoc-' || substr(md5(random()::text || v.id || 'a'), 1, 17) AS assoc,
             'igw-' || substr(md5(random()::text || v.id || 'g'), 1, 17) AS igw
      FROM vpcs v;
    INSERT INTO route_tables (id, account_id, vpc_id) SELECT rtb, account_id, vpc_id FROM m011;
    INSERT INTO route_table_associations (id, route_table_id, vpc_id, main) SELECT assoc, rtb, vpc_id, true FROM m011;
    INSERT INTO routes (route_table_id, destination, gateway_id, origin) SELECT rtb, cidr_block, 'local', 'CreateRouteTable' FROM m011;
    INSERT INTO internet_gateways (id, account_id, vpc_id) SELECT igw, account_id, vpc_id FROM m011 WHERE is_default;
    INSERT INTO routes (route_table_id, destination, gateway_id, origin) SELECT rtb, '0.0.0.0/0', igw, 'CreateRoute' FROM m011 WHERE is_default;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    DELETE FROM tags WHERE resource_id IN (SELECT id FROM route_tables UNION ALL SELECT id FROM internet_gateways);
    DROP TABLE addresses; DROP TABLE routes; DROP TABLE route_table_associations; DROP TABLE route_tables; DROP TABLE internet_gateways;
  `);
}
