import type { Db, Transaction } from '../sql.js';

// Images live in ./images.ts; the type stays importable from here.
export type { ImageRow } from './images.js';

export interface KeyPairRow {
  id: string;
  account_id: string;
  name: string;
  key_type: string;
  fingerprint: string;
  public_key: string;
  created_at: Date;
}

export interface InstanceRow {
  id: string;
  account_id: string;
  reservation_id: string;
  launch_index: number;
  image_id: string;
  instance_type: string;
  key_name: string | null;
  state: string;
  state_reason_code: string | null;
  state_reason_message: string | null;
  state_transition_reason: string;
  subnet_id: string;
  vpc_id: string;
  availability_zone: string;
  private_ip: string;
  mac_address: string;
  eni_id: string;
  security_group_ids: string[];
  user_data: Buffer | null;
  client_token: string | null;
  launch_fingerprint: string | null;
  block_device_mappings: unknown[];
  disable_api_termination: boolean;
  disable_api_stop: boolean;
  shutdown_behavior: string;
  backend: string;
  backend_id: string | null;
  /** The instance service's launch/boot steps whose effect is recorded as done (migration 005). */
  steps_done: string[];
  /** A reboot or image capture in flight, which keeps the EC2 state (migration 005). */
  activity: string | null;
  /** Metadata options that differ from AWS's defaults (migration 010; services/metadata/options.ts). */
  metadata_options: Record<string, unknown>;
  launch_time: Date;
  terminated_at: Date | null;
  updated_at: Date;
}

/** Every column of an instance as InstanceRow has it (the describe engine reads rows with it too). */
export const INSTANCE_COLUMNS = `id, account_id, reservation_id, launch_index, image_id, instance_type, key_name, state, state_reason_code,
  state_reason_message, state_transition_reason, subnet_id, vpc_id, availability_zone, host(private_ip) AS private_ip, mac_address,
  eni_id, security_group_ids, user_data, client_token, launch_fingerprint, block_device_mappings, disable_api_termination, disable_api_stop,
  shutdown_behavior, backend, backend_id, steps_done, activity, metadata_options, launch_time, terminated_at, updated_at`;

export class ComputeRepository {
  constructor(private readonly db: Db) {}

  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.tx(fn);
  }

  // ---- key pairs
  keyPairs(accountId: string): Promise<KeyPairRow[]> {
    return this.db.rows<KeyPairRow>('SELECT * FROM key_pairs WHERE account_id = $1', [accountId]);
  }
  keyPairByName(accountId: string, name: string): Promise<KeyPairRow | undefined> {
    return this.db.one<KeyPairRow>('SELECT * FROM key_pairs WHERE account_id = $1 AND name = $2', [accountId, name]);
  }
  /** Returns false when the name is taken (the unique constraint decides, also under concurrency). */
  async insertKeyPair(k: Omit<KeyPairRow, 'created_at'>): Promise<boolean> {
    const n = await this.db.exec(
      `INSERT INTO key_pairs (id, account_id, name, key_type, fingerprint, public_key) VALUES ($1,$2,$3,$4,$5,$6)
       ON CONFLICT (account_id, name) DO NOTHING`,
      [k.id, k.account_id, k.name, k.key_type, k.fingerprint, k.public_key],
    );
    return n > 0;
  }
  async deleteKeyPair(accountId: string, id: string): Promise<void> {
    await this.db.exec('DELETE FROM key_pairs WHERE account_id = $1 AND id = $2', [accountId, id]);
  }

  // ---- instances
  instances(accountId: string): Promise<InstanceRow[]> {
    return this.db.rows<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE account_id = $1`, [accountId]);
  }
  instancesByIds(accountId: string, ids: string[]): Promise<InstanceRow[]> {
    return this.db.rows<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE account_id = $1 AND id = ANY($2)`, [accountId, ids]);
  }
  async liveCount(accountId: string): Promise<number> {
    const r = await this.db.one<{ n: number }>(`SELECT count(*)::int AS n FROM instances WHERE account_id = $1 AND state <> 'terminated'`, [accountId]);
    return r?.n ?? 0;
  }

  instance(id: string, t?: Transaction): Promise<InstanceRow | undefined> {
    return this.db.one<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE id = $1`, [id], t);
  }
  /** Every instance that is not terminated, across accounts: what reconciliation looks at. */
  liveInstances(): Promise<InstanceRow[]> {
    return this.db.rows<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE state <> 'terminated'`);
  }
  byClientToken(accountId: string, token: string): Promise<InstanceRow[]> {
    return this.db.rows<InstanceRow>(
      `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE account_id = $1 AND client_token = $2 ORDER BY launch_index`,
      [accountId, token],
    );
  }
  async insertInstance(i: Omit<InstanceRow, 'launch_time' | 'terminated_at' | 'updated_at' | 'activity' | 'metadata_options'> & { metadata_options?: Record<string, unknown> }, t: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, key_name, state,
         state_reason_code, state_reason_message, state_transition_reason, subnet_id, vpc_id, availability_zone, private_ip,
         mac_address, eni_id, security_group_ids, user_data, client_token, block_device_mappings, disable_api_termination,
         disable_api_stop, shutdown_behavior, backend, backend_id, launch_fingerprint, steps_done, metadata_options)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25,$26,$27,$28,$29)`,
      [i.id, i.account_id, i.reservation_id, i.launch_index, i.image_id, i.instance_type, i.key_name, i.state,
        i.state_reason_code, i.state_reason_message, i.state_transition_reason, i.subnet_id, i.vpc_id, i.availability_zone,
        i.private_ip, i.mac_address, i.eni_id, i.security_group_ids, i.user_data, i.client_token,
        JSON.stringify(i.block_device_mappings), i.disable_api_termination, i.disable_api_stop, i.shutdown_behavior, i.backend, i.backend_id,
        i.launch_fingerprint, i.steps_done, JSON.stringify(i.metadata_options ?? {})],
      t,
    );
  }

  /**
   * Moves an instance to a new state only if it is still in one of `from` (a compare-and-set, so two
   * requests racing on one instance cannot both win). Returns whether it moved.
   */
  async transition(
    id: string,
    from: string[],
    to: string,
    extra: {
      reasonCode?: string | null;
      reasonMessage?: string | null;
      transitionReason?: string;
      backendId?: string | null;
      /** The activity (reboot, capture) in flight: null clears it. Left as is when undefined. */
      activity?: string | null;
      stepsDone?: string[];
    } = {},
  ): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE instances SET state = $3,
         state_reason_code = CASE WHEN $4::boolean THEN $5 ELSE state_reason_code END,
         state_reason_message = CASE WHEN $4::boolean THEN $6 ELSE state_reason_message END,
         state_transition_reason = COALESCE($7, state_transition_reason),
         backend_id = CASE WHEN $8::boolean THEN $9 ELSE backend_id END,
         activity = CASE WHEN $10::boolean THEN $11 ELSE activity END,
         steps_done = COALESCE($12::text[], steps_done),
         terminated_at = CASE WHEN $3 = 'terminated' THEN now() ELSE terminated_at END,
         launch_time = CASE WHEN $3 = 'pending' AND state = 'stopped' THEN now() ELSE launch_time END,
         updated_at = clock_timestamp()
       WHERE id = $1 AND state = ANY($2)`,
      [id, from, to, extra.reasonCode !== undefined, extra.reasonCode ?? null, extra.reasonMessage ?? null,
        extra.transitionReason ?? null, extra.backendId !== undefined, extra.backendId ?? null,
        extra.activity !== undefined, extra.activity ?? null, extra.stepsDone ?? null],
    );
    return n > 0;
  }

  /**
   * Journals steps: marks them done (appended, in order) or undone (removed), with the backend id the last one
   * made or removed, in one write, so that "the backend object was made" and "its id is recorded" can never
   * disagree.
   */
  async markSteps(id: string, steps: string[], done: boolean, patch: { backendId?: string | null } = {}): Promise<void> {
    await this.db.exec(
      `UPDATE instances SET
         steps_done = ARRAY(SELECT s FROM unnest(steps_done) s WHERE s <> ALL($2::text[])) || CASE WHEN $3::boolean THEN $2::text[] ELSE '{}'::text[] END,
         backend_id = CASE WHEN $4::boolean THEN $5 ELSE backend_id END,
         updated_at = clock_timestamp()
       WHERE id = $1`,
      [id, steps, done, patch.backendId !== undefined, patch.backendId ?? null],
    );
  }

  /** Sets the activity in flight if the instance is in one of `states` (a compare-and-set); returns whether it did. */
  async setActivity(id: string, activity: string | null, states: string[], expected?: string | null): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE instances SET activity = $2, updated_at = clock_timestamp()
       WHERE id = $1 AND state = ANY($3) AND ($4::boolean IS FALSE OR activity IS NOT DISTINCT FROM $5)`,
      [id, activity, states, expected !== undefined, expected ?? null],
    );
    return n > 0;
  }

  async updateAttributes(id: string, attrs: Partial<Pick<InstanceRow, 'instance_type' | 'user_data' | 'disable_api_termination' | 'disable_api_stop' | 'shutdown_behavior'>>): Promise<void> {
    const cols = Object.keys(attrs);
    if (!cols.length) return;
    const sets = cols.map((c, i) => `${c} = $${i + 2}`).join(', ');
    await this.db.exec(`UPDATE instances SET ${sets}, updated_at = clock_timestamp() WHERE id = $1`, [id, ...cols.map((c) => (attrs as Record<string, unknown>)[c])]);
  }

  /** Merges metadata options into the stored ones (ModifyInstanceMetadataOptions). */
  async updateMetadataOptions(id: string, changes: Record<string, unknown>): Promise<void> {
    await this.db.exec(`UPDATE instances SET metadata_options = metadata_options || $2::jsonb, updated_at = clock_timestamp() WHERE id = $1`, [id, JSON.stringify(changes)]);
  }

  /**
   * The live instance whose network interface has `ip` in `vpcId`: who asks the metadata service. (The ENI is
   * the instance's own row today; when ENIs get their table, this joins through it.)
   */
  byVpcAddress(vpcId: string, ip: string): Promise<InstanceRow | undefined> {
    return this.db.one<InstanceRow>(
      `SELECT ${INSTANCE_COLUMNS} FROM instances WHERE vpc_id = $1 AND private_ip = $2::inet AND state IN ('pending', 'running', 'stopping') LIMIT 1`,
      [vpcId, ip],
    );
  }

  /** Removes terminated instances older than the cut-off; returns their ids. */
  async purgeTerminated(before: Date): Promise<string[]> {
    const rows = await this.db.rows<{ id: string }>(
      `DELETE FROM instances WHERE state = 'terminated' AND terminated_at < $1 RETURNING id`,
      [before],
    );
    return rows.map((r) => r.id);
  }
}
