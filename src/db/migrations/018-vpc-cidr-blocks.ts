import type { QueryInterface } from 'sequelize';

/**
 * A VPC's IPv4 CIDR blocks (AssociateVpcCidrBlock / DisassociateVpcCidrBlock): one row per association, the
 * primary block (vpcs.cidr_block, made with the VPC) included, so DescribeVpcs and its
 * cidr-block-association.* filters read one table. The primary association keeps the id the API showed before
 * this table existed (vpc-cidr-assoc- + the VPC id's digits). A disassociated block stays visible for a while,
 * as on AWS; the rows go with their VPC.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE vpc_cidr_blocks (
      association_id text PRIMARY KEY,
      vpc_id         text NOT NULL REFERENCES vpcs(id) ON DELETE CASCADE,
      cidr_block     cidr NOT NULL,
      is_primary     boolean NOT NULL DEFAULT false,
      state          text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at     timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE INDEX vpc_cidr_blocks_vpc ON vpc_cidr_blocks (vpc_id);
    CREATE UNIQUE INDEX vpc_cidr_blocks_one_primary ON vpc_cidr_blocks (vpc_id) WHERE is_primary;
    INSERT INTO vpc_cidr_blocks (association_id, vpc_id, cidr_block, is_primary, state, created_at)
      SELECT 'vpc-cidr-assoc-' || substr(id, 5), id, cidr_block, true, 'associated', created_at FROM vpcs;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE vpc_cidr_blocks');
}
