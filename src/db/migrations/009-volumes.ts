import type { QueryInterface } from 'sequelize';

/**
 * EBS: volumes, their attachments and snapshots. A row is written in its transitional state (creating,
 * attaching, pending ...) before the storage or compute backend is touched, so reconciliation can finish or
 * undo what a crash interrupted. Deleted volumes and snapshots are kept a while in state `deleted` (the
 * volume_deleted waiter and DescribeVolumes see them go) and then purged.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    CREATE TABLE volumes (
      id                 text PRIMARY KEY,
      account_id         char(12) NOT NULL,
      availability_zone  text NOT NULL,
      size_gib           integer NOT NULL,
      volume_type        text NOT NULL,
      iops               integer,
      throughput         integer,
      snapshot_id        text,
      state              text NOT NULL,
      state_message      text,
      client_token       text,
      auto_enable_io     boolean NOT NULL DEFAULT false,
      created_at         timestamptz NOT NULL DEFAULT now(),
      updated_at         timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX volumes_client_token ON volumes (account_id, client_token) WHERE client_token IS NOT NULL;
    CREATE INDEX volumes_account_id ON volumes (account_id, id COLLATE "C");
    CREATE INDEX volumes_account_state ON volumes (account_id, state COLLATE "C", id COLLATE "C");

    -- One row per attachment; state attaching / attached / detaching (a detached one is deleted).
    CREATE TABLE volume_attachments (
      volume_id              text PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
      instance_id            text NOT NULL,
      device                 text NOT NULL,
      state                  text NOT NULL,
      delete_on_termination  boolean NOT NULL DEFAULT false,
      attached_at            timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX volume_attachments_device ON volume_attachments (instance_id, device);

    -- The latest ModifyVolume of each volume (DescribeVolumesModifications): modifying -> optimizing -> completed | failed.
    CREATE TABLE volume_modifications (
      volume_id           text PRIMARY KEY REFERENCES volumes(id) ON DELETE CASCADE,
      account_id          char(12) NOT NULL,
      state               text NOT NULL,
      status_message      text,
      original_size       integer NOT NULL,
      original_type       text NOT NULL,
      original_iops       integer,
      original_throughput integer,
      target_size         integer NOT NULL,
      target_type         text NOT NULL,
      target_iops         integer,
      target_throughput   integer,
      progress            integer NOT NULL DEFAULT 0,
      start_time          timestamptz NOT NULL DEFAULT now(),
      end_time            timestamptz
    );

    CREATE TABLE snapshots (
      id             text PRIMARY KEY,
      account_id     char(12) NOT NULL,
      volume_id      text NOT NULL,
      volume_size    integer NOT NULL,
      description    text NOT NULL DEFAULT '',
      -- CopySnapshot: the snapshot copied (its bytes, not its volume's current ones, are what the copy holds)
      source_snapshot_id text,
      state          text NOT NULL,
      state_message  text,
      progress       integer NOT NULL DEFAULT 0,
      started_at     timestamptz NOT NULL DEFAULT now(),
      completed_at   timestamptz,
      updated_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX snapshots_account_id ON snapshots (account_id, id COLLATE "C");
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP TABLE volume_modifications; DROP TABLE volume_attachments; DROP TABLE volumes; DROP TABLE snapshots');
}
