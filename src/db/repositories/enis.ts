import type { Db, Transaction } from '../sql.js';

/** An ENI record; `ips` (computed by the query) are its allocations, the primary one first. */
export interface EniRow {
  id: string;
  account_id: string;
  vpc_id: string;
  subnet_id: string;
  availability_zone: string;
  mac_address: string;
  description: string;
  source_dest_check: boolean;
  security_group_ids: string[];
  interface_type: string;
  instance_id: string | null;
  device_index: number | null;
  attachment_id: string | null;
  delete_on_termination: boolean;
  attached_at: Date | null;
  created_at: Date;
  ips: string[];
  /** A public address asked for at launch (AssociatePublicIpAddress / MapPublicIpOnLaunch); read, never inserted. */
  public_ip_on_launch?: boolean;
}

export type NewEni = Omit<EniRow, 'ips' | 'created_at' | 'attached_at' | 'interface_type' | 'description' | 'source_dest_check' | 'delete_on_termination'> &
  Partial<Pick<EniRow, 'description' | 'source_dest_check' | 'delete_on_termination'>>;

/** The ENI's columns and its addresses, lowest allocation time first (the primary address is allocated first). */
export const ENI_COLUMNS = `n.*, COALESCE((SELECT array_agg(host(a.ip) ORDER BY a.is_primary DESC, a.allocated_at, a.ip) FROM ip_allocations a WHERE a.owner_id = n.id), '{}') AS ips`;

/** An instance as the attachment rules read it (see services/network/attachments.ts). */
export interface AttachTarget {
  id: string;
  state: string;
  instance_type: string;
  availability_zone: string;
}

export class EniRepository {
  constructor(private readonly db: Db) {}

  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T> {
    return this.db.tx(fn);
  }

  async insert(e: NewEni, t?: Transaction): Promise<void> {
    await this.db.exec(
      `INSERT INTO network_interfaces (id, account_id, vpc_id, subnet_id, availability_zone, mac_address, description, source_dest_check,
         security_group_ids, instance_id, device_index, attachment_id, delete_on_termination, attached_at)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13, CASE WHEN $10::text IS NULL THEN NULL ELSE now() END)
       ON CONFLICT (id) DO NOTHING`,
      [e.id, e.account_id, e.vpc_id, e.subnet_id, e.availability_zone, e.mac_address, e.description ?? '', e.source_dest_check ?? true,
        e.security_group_ids, e.instance_id, e.device_index, e.attachment_id, e.delete_on_termination ?? true],
      t,
    );
  }

  get(id: string, t?: Transaction): Promise<EniRow | undefined> {
    return this.db.one<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.id = $1`, [id], t);
  }

  ofAccount(accountId: string, ids: string[], t?: Transaction): Promise<EniRow[]> {
    return this.db.rows<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.account_id = $1 AND n.id = ANY($2)`, [accountId, ids], t);
  }

  ofInstance(instanceId: string, t?: Transaction): Promise<EniRow[]> {
    return this.db.rows<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.instance_id = $1 ORDER BY n.device_index`, [instanceId], t);
  }

  /**
   * The account's instance as an attachment sees it; inside `t` with `lock`, its row is locked until `t` ends:
   * attachments to it and its state transitions (TerminateInstances, StopInstances update the row) wait, so the
   * rules checked under the lock still hold when the attachment is written.
   */
  attachTarget(accountId: string, instanceId: string, lock?: { t: Transaction }): Promise<AttachTarget | undefined> {
    return this.db.one<AttachTarget>(
      `SELECT id, state, instance_type, availability_zone FROM instances WHERE account_id = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [accountId, instanceId],
      lock?.t,
    );
  }

  /** The instance whose attached ENI in `vpcId` holds `ip` (any of its addresses), for the metadata service. */
  async instanceAt(vpcId: string, ip: string): Promise<string | undefined> {
    const row = await this.db.one<{ instance_id: string }>(
      `SELECT n.instance_id FROM network_interfaces n JOIN ip_allocations a ON a.owner_id = n.id
        WHERE n.vpc_id = $1 AND a.ip = $2::inet AND n.instance_id IS NOT NULL LIMIT 1`,
      [vpcId, ip],
    );
    return row?.instance_id;
  }

  /** The ENIs of these VPCs (their security model's members). */
  ofVpcs(vpcIds: string[]): Promise<EniRow[]> {
    return this.db.rows<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.vpc_id = ANY($1::text[]) ORDER BY n.id`, [vpcIds]);
  }

  /** Every ENI of the installation (the security model's members, the data plane's ports). */
  all(): Promise<EniRow[]> {
    return this.db.rows<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n ORDER BY n.id`);
  }

  /**
   * Attaches the ENI (AttachNetworkInterface, or RunInstances naming an existing ENI); false when another
   * attachment took it or the device index first. The attachment is kept at termination unless
   * `deleteOnTermination` (AWS's default for an attachment of an existing ENI is false). Inside `t` when given,
   * where a conflict throws (a failed statement ends a PostgreSQL transaction) instead of answering false.
   */
  async attach(id: string, instanceId: string, deviceIndex: number, attachmentId: string, opts: { deleteOnTermination?: boolean; t?: Transaction } = {}): Promise<boolean> {
    const update = () => this.db.exec(
      `UPDATE network_interfaces SET instance_id = $2, device_index = $3, attachment_id = $4, attached_at = now(), delete_on_termination = $5
       WHERE id = $1 AND instance_id IS NULL AND interface_type = 'interface'`,
      [id, instanceId, deviceIndex, attachmentId, opts.deleteOnTermination ?? false],
      opts.t,
    );
    if (opts.t) return (await update()) === 1;
    try {
      return (await update()) === 1;
    } catch {
      return false; // UNIQUE (instance_id, device_index)
    }
  }

  /**
   * Detaches the ENI (DetachNetworkInterface, or its instance's termination when the attachment keeps it); with
   * `attachmentId`, only that attachment (an attachment made since is left alone). Returns whether it detached.
   */
  async detach(id: string, opts: { attachmentId?: string; t?: Transaction } = {}): Promise<boolean> {
    const n = await this.db.exec(
      `UPDATE network_interfaces SET instance_id = NULL, device_index = NULL, attachment_id = NULL, attached_at = NULL
       WHERE id = $1 AND ($2::text IS NULL OR attachment_id = $2)`,
      [id, opts.attachmentId ?? null],
      opts.t,
    );
    return n > 0;
  }

  byAttachment(accountId: string, attachmentId: string, t?: Transaction): Promise<EniRow | undefined> {
    return this.db.one<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.account_id = $1 AND n.attachment_id = $2`, [accountId, attachmentId], t);
  }

  /**
   * Removes the ENI with its private addresses; the public ones on them go with it as on AWS: a public address on
   * launch back to the pool, an Elastic IP disassociated (still allocated to its account). Answers how many public
   * addresses it held (the VPC's routing then changed).
   */
  async delete(id: string): Promise<number> {
    return this.db.tx(async (t) => {
      const auto = await this.db.exec('DELETE FROM addresses WHERE network_interface_id = $1 AND auto', [id], t);
      const elastic = await this.db.exec('UPDATE addresses SET association_id = NULL, network_interface_id = NULL, private_ip = NULL WHERE network_interface_id = $1', [id], t);
      await this.db.exec('DELETE FROM ip_allocations WHERE owner_id = $1', [id], t);
      await this.db.exec('DELETE FROM network_interfaces WHERE id = $1', [id], t);
      return auto + elastic;
    });
  }

  async update(id: string, set: Partial<Pick<EniRow, 'description' | 'source_dest_check' | 'security_group_ids' | 'delete_on_termination'>>): Promise<void> {
    const cols = Object.keys(set) as (keyof typeof set)[];
    if (!cols.length) return;
    await this.db.exec(
      `UPDATE network_interfaces SET ${cols.map((c, i) => `${c} = $${i + 2}`).join(', ')} WHERE id = $1`,
      [id, ...cols.map((c) => set[c])],
    );
  }

  /** The ENIs of these groups (DependencyViolation checks). */
  inGroups(groupIds: string[]): Promise<EniRow[]> {
    return this.db.rows<EniRow>(`SELECT ${ENI_COLUMNS} FROM network_interfaces n WHERE n.security_group_ids && $1::text[]`, [groupIds]);
  }

  inSubnet(subnetId: string): Promise<{ id: string }[]> {
    return this.db.rows(`SELECT id FROM network_interfaces WHERE subnet_id = $1`, [subnetId]);
  }

  inVpc(vpcId: string): Promise<{ id: string }[]> {
    return this.db.rows(`SELECT id FROM network_interfaces WHERE vpc_id = $1`, [vpcId]);
  }
}
