import type { QueryInterface } from 'sequelize';

/**
 * The journal of an instance's launch and boot steps (steps_done: the names of the steps whose effect is
 * recorded as done), and the activity in flight that keeps its EC2 state (a reboot, an image capture), so that
 * reconciliation can tell from the records how far a transition got before a crash.
 *
 * Existing rows get what their state and backend object imply: the address was allocated with the record, the
 * backend object exists once backend_id is set, and it was started if the instance is (or was going) running.
 */
export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query(`
    ALTER TABLE instances ADD COLUMN steps_done text[] NOT NULL DEFAULT '{}', ADD COLUMN activity text;
    UPDATE instances SET steps_done = CASE
      WHEN state = 'terminated' THEN '{}'::text[]
      WHEN backend_id IS NULL THEN ARRAY['address']
      WHEN state IN ('running', 'stopping') THEN ARRAY['address', 'backend', 'power']
      ELSE ARRAY['address', 'backend']
    END;
  `);
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('ALTER TABLE instances DROP COLUMN steps_done, DROP COLUMN activity');
}
