import type { Db } from '../sql.js';

export interface ImageRow {
  id: string;
  owner_id: string;
  owner_alias: string | null;
  name: string;
  description: string | null;
  backend: string;
  backend_ref: string;
  architecture: string;
  root_device_name: string;
  size_gib: number;
  state: string;
  is_public: boolean;
  source_instance_id: string | null;
  image_location: string | null;
  /** The backend object is a copy the cloud made (see BackendImageInfo.copy) */
  backend_copy: boolean;
  created_at: Date;
}

/**
 * The one rule of who sees an image and may launch it, as on AWS: its owner, every account when it is public
 * (launch permission group `all`), and the accounts it is shared with (launch permission user ids).
 * `account` is the SQL of the account asking (a placeholder such as '$1', or a column); `table` the images
 * table's name or alias in the query.
 */
export function imageVisibleTo(account: string, table = 'images'): string {
  return `(${table}.owner_id = ${account} OR ${table}.is_public OR EXISTS (
    SELECT 1 FROM image_launch_permissions p WHERE p.image_id = ${table}.id AND p.account_id = ${account}))`;
}

/** DescribeImages' Owners and ExecutableUsers, resolved by the image service. */
export interface ImageScope {
  /** Images owned by any of these accounts or owner aliases */
  owners?: { accountIds: string[]; aliases: string[] };
  /**
   * Images any of these may launch by an explicit permission: `public` the group all; `caller` the account
   * asking; `accounts` other accounts (of those, only the caller's own images tell who they are shared with).
   */
  executableBy?: { public: boolean; caller: boolean; accounts: string[] };
}

const LIVE = `images.state <> 'deregistered'`;

/**
 * Owners and ExecutableUsers as SQL conditions (ANDed), for ImageRepository.images and DescribeImages' describe
 * resource alike. `account` is the SQL of the caller's account, `param(v)` a placeholder for a value.
 */
export function imageScopeConditions(scope: ImageScope, account: string, param: (v: unknown) => string, table = 'images'): string[] {
  const where: string[] = [];
  if (scope.owners) {
    where.push(`(${table}.owner_id = ANY(${param(scope.owners.accountIds)}::text[]) OR ${table}.owner_alias = ANY(${param(scope.owners.aliases)}::text[]))`);
  }
  if (scope.executableBy) {
    const e = scope.executableBy;
    where.push(`((${param(e.public)}::boolean AND ${table}.is_public)
      OR (${param(e.caller)}::boolean AND EXISTS (SELECT 1 FROM image_launch_permissions p WHERE p.image_id = ${table}.id AND p.account_id = ${account}))
      OR (${table}.owner_id = ${account} AND EXISTS (SELECT 1 FROM image_launch_permissions p WHERE p.image_id = ${table}.id AND p.account_id = ANY(${param(e.accounts)}::text[]))))`);
  }
  return where;
}

export class ImageRepository {
  /** `backend`: the compute backend in use; sweeps only touch that backend's images. */
  constructor(
    private readonly db: Db,
    private readonly backend: string,
  ) {}

  /** The images the account sees, narrowed by `scope`. */
  images(accountId: string, scope: ImageScope = {}): Promise<ImageRow[]> {
    const bind: unknown[] = [accountId];
    const param = (v: unknown) => `$${bind.push(v)}`;
    const where = [LIVE, imageVisibleTo('$1'), ...imageScopeConditions(scope, '$1', param)];
    return this.db.rows<ImageRow>(`SELECT images.* FROM images WHERE ${where.join(' AND ')} ORDER BY images.id`, bind);
  }

  /** The image if the account may see it. */
  visibleImage(accountId: string, id: string): Promise<ImageRow | undefined> {
    return this.db.one<ImageRow>(`SELECT images.* FROM images WHERE images.id = $2 AND ${LIVE} AND ${imageVisibleTo('$1')}`, [accountId, id]);
  }

  /** The image, whoever owns it (not deregistered). */
  image(id: string): Promise<ImageRow | undefined> {
    return this.db.one<ImageRow>(`SELECT images.* FROM images WHERE images.id = $1 AND ${LIVE}`, [id]);
  }

  async nameTaken(accountId: string, name: string): Promise<boolean> {
    return (await this.db.one(`SELECT 1 AS x FROM images WHERE owner_id = $1 AND name = $2 AND ${LIVE}`, [accountId, name])) !== undefined;
  }

  async insertImage(i: Omit<ImageRow, 'created_at'>): Promise<void> {
    await this.db.exec(
      `INSERT INTO images (id, owner_id, owner_alias, name, description, backend, backend_ref, architecture, root_device_name,
         size_gib, state, is_public, source_instance_id, image_location, backend_copy)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (id) DO UPDATE SET backend_ref = EXCLUDED.backend_ref, state = EXCLUDED.state, size_gib = EXCLUDED.size_gib`,
      [i.id, i.owner_id, i.owner_alias, i.name, i.description, i.backend, i.backend_ref, i.architecture, i.root_device_name,
        i.size_gib, i.state, i.is_public, i.source_instance_id, i.image_location, i.backend_copy],
    );
  }

  async setImageState(id: string, state: string, backendRef?: string, sizeGib?: number): Promise<void> {
    await this.db.exec(
      'UPDATE images SET state = $2, backend_ref = COALESCE($3, backend_ref), size_gib = COALESCE($4, size_gib) WHERE id = $1',
      [id, state, backendRef ?? null, sizeGib ?? null],
    );
  }

  async setDescription(id: string, description: string | null): Promise<void> {
    await this.db.exec('UPDATE images SET description = $2 WHERE id = $1', [id, description]);
  }

  /**
   * Deregistered images whose backend object is the cloud's (captured by CreateImage, or a copy it imported)
   * and still there (backend_ref not cleared), and that no live image shares (imports of one file share a copy).
   */
  deregisteredCopies(): Promise<ImageRow[]> {
    return this.db.rows<ImageRow>(
      `SELECT images.* FROM images WHERE state = 'deregistered' AND (source_instance_id IS NOT NULL OR backend_copy)
         AND backend_ref <> '' AND backend = $1
         AND NOT EXISTS (SELECT 1 FROM images other WHERE other.backend_ref = images.backend_ref AND other.state <> 'deregistered')`,
      [this.backend],
    );
  }

  // ---- launch permissions

  async launchPermissions(imageId: string): Promise<string[]> {
    const rows = await this.db.rows<{ account_id: string }>(
      'SELECT account_id FROM image_launch_permissions WHERE image_id = $1 ORDER BY created_at, account_id',
      [imageId],
    );
    return rows.map((r) => r.account_id.trim());
  }

  /** Adds and removes accounts and the group all, at once. */
  async changeLaunchPermissions(imageId: string, change: { add: string[]; remove: string[]; public?: boolean }): Promise<void> {
    await this.db.tx(async (t) => {
      if (change.remove.length) {
        await this.db.exec('DELETE FROM image_launch_permissions WHERE image_id = $1 AND account_id = ANY($2::text[])', [imageId, change.remove], t);
      }
      for (const account of change.add) {
        await this.db.exec('INSERT INTO image_launch_permissions (image_id, account_id) VALUES ($1, $2) ON CONFLICT DO NOTHING', [imageId, account], t);
      }
      if (change.public !== undefined) await this.db.exec('UPDATE images SET is_public = $2 WHERE id = $1', [imageId, change.public], t);
    });
  }
}
