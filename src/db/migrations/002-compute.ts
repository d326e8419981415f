import type { QueryInterface } from 'sequelize';

/** Images (AMIs), key pairs and instances. */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE images (
      id              text PRIMARY KEY,
      owner_id        char(12) NOT NULL,
      owner_alias     text,
      name            text NOT NULL,
      description     text,
      backend         text NOT NULL,
      backend_ref     text NOT NULL,
      architecture    text NOT NULL,
      root_device_name text NOT NULL DEFAULT '/dev/xvda',
      size_gib        integer NOT NULL DEFAULT 8,
      state           text NOT NULL,
      is_public       boolean NOT NULL DEFAULT false,
      source_instance_id text,
      image_location  text,
      created_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX images_owner_name ON images (owner_id, name) WHERE state <> 'deregistered';
    CREATE TABLE key_pairs (
      id              text PRIMARY KEY,
      account_id      char(12) NOT NULL REFERENCES accounts(account_id),
      name            text NOT NULL,
      key_type        text NOT NULL,
      fingerprint     text NOT NULL,
      public_key      text NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      UNIQUE (account_id, name)
    );
    CREATE TABLE instances (
      id              text PRIMARY KEY,
      account_id      char(12) NOT NULL REFERENCES accounts(account_id),
      reservation_id  text NOT NULL,
      launch_index    integer NOT NULL,
      image_id        text NOT NULL,
      instance_type   text NOT NULL,
      key_name        text,
      state           text NOT NULL,
      state_reason_code text,
      state_reason_message text,
      state_transition_reason text NOT NULL DEFAULT '',
      subnet_id       text NOT NULL,
      vpc_id          text NOT NULL,
      availability_zone text NOT NULL,
      private_ip      inet NOT NULL,
      mac_address     text NOT NULL,
      eni_id          text NOT NULL,
      security_group_ids text[] NOT NULL DEFAULT '{}',
      user_data       bytea,
      client_token    text,
      block_device_mappings jsonb NOT NULL DEFAULT '[]',
      disable_api_termination boolean NOT NULL DEFAULT false,
      disable_api_stop boolean NOT NULL DEFAULT false,
      shutdown_behavior text NOT NULL DEFAULT 'stop',
      backend         text NOT NULL,
      backend_id      text,
      launch_time     timestamptz NOT NULL DEFAULT now(),
      terminated_at   timestamptz,
      updated_at      timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX instances_account ON instances (account_id, id);
    CREATE INDEX instances_reservation ON instances (reservation_id);
    -- ClientToken idempotency: one launch per token and account.
    CREATE UNIQUE INDEX instances_client_token ON instances (account_id, client_token, launch_index) WHERE client_token IS NOT NULL;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE instances, key_pairs, images');
}
