import type { Db, Transaction } from '../sql.js';

export interface TagRow {
  resource_id: string;
  resource_type: string;
  key: string;
  value: string;
}

export class TagRepository {
  constructor(private readonly db: Db) {}

  async put(accountId: string, items: { resourceId: string; resourceType: string; key: string; value: string }[], t?: Transaction): Promise<void> {
    if (!items.length) return;
    const values: string[] = [];
    const bind: unknown[] = [accountId];
    for (const it of items) {
      bind.push(it.resourceId, it.resourceType, it.key, it.value);
      const n = bind.length;
      values.push(`($1, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`);
    }
    await this.db.exec(
      `INSERT INTO tags (account_id, resource_id, resource_type, key, value) VALUES ${values.join(', ')}
       ON CONFLICT (resource_id, key) DO UPDATE SET value = EXCLUDED.value`,
      bind,
      t,
    );
  }

  /** Deletes tags; a tag given with a value is deleted only when its value matches (as DeleteTags does). */
  async remove(accountId: string, resourceIds: string[], tags: { key: string; value?: string }[] | undefined): Promise<void> {
    if (!tags?.length) {
      await this.db.exec('DELETE FROM tags WHERE account_id = $1 AND resource_id = ANY($2)', [accountId, resourceIds]);
      return;
    }
    for (const tag of tags) {
      if (tag.value === undefined) {
        await this.db.exec('DELETE FROM tags WHERE account_id = $1 AND resource_id = ANY($2) AND key = $3', [accountId, resourceIds, tag.key]);
      } else {
        await this.db.exec(
          'DELETE FROM tags WHERE account_id = $1 AND resource_id = ANY($2) AND key = $3 AND value = $4',
          [accountId, resourceIds, tag.key, tag.value],
        );
      }
    }
  }

  /** Removes every tag of resources that no longer exist. */
  removeAllFor(resourceIds: string[], t?: Transaction): Promise<number> {
    return this.db.exec('DELETE FROM tags WHERE resource_id = ANY($1)', [resourceIds], t);
  }

  /** The account's tags, narrowed in SQL by exact resource ids, keys or types where given. */
  all(accountId: string, narrow: { resourceIds?: string[]; keys?: string[]; types?: string[] } = {}): Promise<TagRow[]> {
    const where = ['account_id = $1'];
    const bind: unknown[] = [accountId];
    for (const [column, values] of [['resource_id', narrow.resourceIds], ['key', narrow.keys], ['resource_type', narrow.types]] as const) {
      if (!values) continue;
      bind.push(values);
      where.push(`${column} = ANY($${bind.length})`);
    }
    return this.db.rows<TagRow>(`SELECT resource_id, resource_type, key, value FROM tags WHERE ${where.join(' AND ')}`, bind);
  }

  /** Tags of the given resources (or of every resource of the account), grouped by resource id. */
  async byResource(accountId: string, resourceIds?: string[]): Promise<Map<string, { key: string; value: string }[]>> {
    const rows = resourceIds
      ? await this.db.rows<TagRow>('SELECT resource_id, key, value FROM tags WHERE account_id = $1 AND resource_id = ANY($2) ORDER BY key', [accountId, resourceIds])
      : await this.db.rows<TagRow>('SELECT resource_id, key, value FROM tags WHERE account_id = $1 ORDER BY key', [accountId]);
    const map = new Map<string, { key: string; value: string }[]>();
    for (const r of rows) {
      const list = map.get(r.resource_id) ?? [];
      list.push({ key: r.key, value: r.value });
      map.set(r.resource_id, list);
    }
    return map;
  }

}
