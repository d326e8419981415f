import type { QueryInterface } from 'sequelize';

/** Accounts, tags and the default network records (VPCs, subnets, security groups, IP allocations). */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE accounts (
      account_id     char(12) PRIMARY KEY,
      access_key_id  text NOT NULL UNIQUE,
      secret         text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE tags (
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      resource_id    text NOT NULL,
      resource_type  text NOT NULL,
      key            text NOT NULL,
      value          text NOT NULL DEFAULT '',
      PRIMARY KEY (resource_id, key)
    );
    CREATE INDEX tags_account ON tags (account_id, resource_id, key);
    CREATE TABLE vpcs (
      id             text PRIMARY KEY,
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      cidr_block     cidr NOT NULL,
      is_default     boolean NOT NULL DEFAULT false,
      state          text NOT NULL,
      instance_tenancy text NOT NULL DEFAULT 'default',
      created_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX vpcs_one_default ON vpcs (account_id) WHERE is_default;
    CREATE TABLE subnets (
      id             text PRIMARY KEY,
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id         text NOT NULL REFERENCES vpcs(id),
      cidr_block     cidr NOT NULL,
      availability_zone text NOT NULL,
      default_for_az boolean NOT NULL DEFAULT false,
      map_public_ip_on_launch boolean NOT NULL DEFAULT false,
      state          text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE security_groups (
      id             text PRIMARY KEY,
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      vpc_id         text NOT NULL REFERENCES vpcs(id),
      group_name     text NOT NULL,
      description    text NOT NULL,
      created_at     timestamptz NOT NULL DEFAULT now(),
      UNIQUE (vpc_id, group_name)
    );
    CREATE TABLE security_group_rules (
      id             text PRIMARY KEY,
      group_id       text NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,
      account_id     char(12) NOT NULL REFERENCES accounts(account_id),
      is_egress      boolean NOT NULL,
      ip_protocol    text NOT NULL,
      from_port      integer,
      to_port        integer,
      cidr_ipv4      cidr,
      referenced_group_id text,
      description    text
    );
    -- One row per address handed out: the primary key makes a double allocation impossible,
    -- even when two launches race.
    CREATE TABLE ip_allocations (
      subnet_id      text NOT NULL REFERENCES subnets(id),
      ip             inet NOT NULL CHECK (masklen(ip) = 32),
      owner_id       text NOT NULL,
      allocated_at   timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (subnet_id, ip)
    );
    CREATE INDEX ip_allocations_owner ON ip_allocations (owner_id);
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(
    'DROP TABLE ip_allocations, security_group_rules, security_groups, subnets, vpcs, tags, accounts',
  );
}
