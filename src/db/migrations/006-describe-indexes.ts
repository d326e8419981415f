import type { QueryInterface } from 'sequelize';

/**
 * Indexes for the describe engine (src/describe): each Describe* orders and pages by (account, id) in the "C"
 * collation (byte order, the order of page tokens), and the filters used most with paging have an index that
 * gives their rows already in that order, so a page of 50 reads about 50 index entries however many rows the
 * account has. Filters compare in "C" too (equality is the same in any collation, and LIKE can use a "C" index
 * for its prefix), but for the tag key of `tag:Key`, compared in the database's collation like the primary key
 * (resource_id, key): a tag filter either starts from tags_key_value (account, key, value) or, walking the
 * resource in order, probes that primary key with both columns; an infix
 * wildcard (`*web*`) uses a trigram index where the pg_trgm extension can be had (it ships with PostgreSQL,
 * but a database user without the right to create it simply goes without).
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    DROP INDEX IF EXISTS instances_account;
    CREATE INDEX instances_account_id ON instances (account_id, id COLLATE "C");
    CREATE INDEX instances_account_state ON instances (account_id, state COLLATE "C", id COLLATE "C");
    CREATE INDEX instances_account_subnet ON instances (account_id, subnet_id COLLATE "C", id COLLATE "C");
    CREATE INDEX instances_account_vpc ON instances (account_id, vpc_id COLLATE "C", id COLLATE "C");
    CREATE INDEX instances_account_image ON instances (account_id, image_id COLLATE "C", id COLLATE "C");
    CREATE INDEX instances_account_ip ON instances (account_id, (host(private_ip)) COLLATE "C");

    DROP INDEX IF EXISTS tags_account;
    CREATE INDEX tags_account_resource ON tags (account_id, resource_id COLLATE "C", key COLLATE "C");
    CREATE INDEX tags_key_value ON tags (account_id, key, value COLLATE "C") INCLUDE (resource_id, resource_type);
    CREATE INDEX tags_value ON tags (account_id, value COLLATE "C") INCLUDE (resource_id, resource_type);

    CREATE INDEX key_pairs_account_name ON key_pairs (account_id, name COLLATE "C");
    CREATE INDEX vpcs_account_id ON vpcs (account_id, id COLLATE "C");
    CREATE INDEX subnets_account_id ON subnets (account_id, id COLLATE "C");
    CREATE INDEX security_groups_account_id ON security_groups (account_id, id COLLATE "C");
    CREATE INDEX security_group_rules_group ON security_group_rules (group_id);

    -- A page is a short index walk; starting parallel workers for it costs more than it saves (tens of ms).
    ALTER TABLE instances SET (parallel_workers = 0);
    ALTER TABLE tags SET (parallel_workers = 0);

    DO $$ BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE 'pg_trgm is not available (%): infix wildcards on tag values go without an index', SQLERRM;
    END $$;
    DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX tags_value_trgm ON tags USING gin (value COLLATE "C" gin_trgm_ops);
      END IF;
    END $$;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    ALTER TABLE instances RESET (parallel_workers);
    ALTER TABLE tags RESET (parallel_workers);
    DROP INDEX IF EXISTS tags_value_trgm;
    DROP INDEX security_group_rules_group, security_groups_account_id, subnets_account_id, vpcs_account_id, key_pairs_account_name;
    DROP INDEX tags_value, tags_key_value, tags_account_resource;
    CREATE INDEX tags_account ON tags (account_id, resource_id, key);
    DROP INDEX instances_account_ip, instances_account_image, instances_account_vpc, instances_account_subnet, instances_account_state, instances_account_id;
    CREATE INDEX instances_account ON instances (account_id, id);
  `);
}
