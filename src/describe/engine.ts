/**
 * The describe engine over PostgreSQL. From a resource's declaration (./resource.ts) a request becomes one
 * keyset query: scope, ids, every filter, the position of NextToken, the order and MaxResults + 1, all in SQL,
 * so an index walk stops after the page. Ids that are not there answer the resource's NotFound first (one more
 * query, only when ids are given).
 *   - A page (MaxResults, or an id list) is read with its rows and tags in that one query.
 *   - A whole answer selects the keys first, then reads the rows by key BATCH at a time, as the serializer
 *     asks for them while it writes (src/protocol/serializer.ts `streamed`), so it is never whole in memory.
 * Results, NotFound and page tokens are those of the in-memory engine (./memory.ts), which a test holds it to
 * (test/describe/reference.test.ts).
 */
import { encodeToken, type DescribeRequest } from './memory.js';
import { compileFilters, ordered, positionOf, TOKEN_SEPARATOR, validateRequest } from './compile.js';
import { orderOf, type DescribeContext, type Resource } from './resource.js';
import { and, join as joinSql, raw, render, sql, type Sql } from './sql.js';

export { validateRequest };

/** What the engine needs of the database: parameterised reads (src/db/sql.ts's Db is one). */
export interface SqlReader {
  rows<T extends object>(sql: string, bind?: unknown[]): Promise<T[]>;
}

/** A selected row: its order key (the token is made of it) and any extra columns asked for. */
export interface Key {
  key: string[];
  extra: Record<string, unknown>;
}

export interface Selection {
  keys: Key[];
  nextToken?: string;
}

export interface SelectOptions {
  /** More conditions on `r` from the request (e.g. DescribeImages' Owners), applied before ids are checked. */
  where?: Sql;
  /** Columns of `r` to return with each key (e.g. reservation_id, to group instances). */
  extra?: string[];
  /** false: the caller has checked the ids itself (or wants no NotFound). */
  checkIds?: boolean;
  /**
   * A column of `r` whose rows belong together in the answer (instances of one reservation): `page` then gives
   * each group's rows one after the other, groups in order of their first row, and never splits a group
   * between batches.
   */
  groupBy?: string;
}

/** How many rows are read (and rendered) at a time. */
export const BATCH = 500;
/** How many rows a memory filter (the named exception) looks at per query. */
const MEMORY_CHUNK = 500;

export class DescribeEngine {
  private readonly batch: number;
  private readonly memoryChunk: number;

  /** `sizes` are for tests: smaller batches and chunks show their seams on little data. */
  constructor(
    private readonly db: SqlReader,
    sizes: { batch?: number; memoryChunk?: number } = {},
  ) {
    this.batch = sizes.batch ?? BATCH;
    this.memoryChunk = sizes.memoryChunk ?? MEMORY_CHUNK;
  }

  private async query<T extends object>(q: Sql): Promise<T[]> {
    const { text, bind } = render(q);
    return this.db.rows<T>(text, bind);
  }

  /** Those of `values` that no visible row has in `column` (default the id), in the order asked, once each. */
  async missing<Row, C extends DescribeContext>(resource: Resource<Row, C>, values: string[], ctx: C, opts: { column?: string; where?: Sql } = {}): Promise<string[]> {
    const col = opts.column ?? resource.id!;
    const wanted = [...new Set(values)];
    const found = await this.query<{ v: string }>(
      sql`SELECT r.${raw(col)} AS v FROM ${raw(resource.from)} r WHERE ${and([resource.scope(ctx), ...(opts.where ? [opts.where] : [])])} AND r.${raw(col)} = ANY(${wanted}::text[])`,
    );
    const have = new Set(found.map((f) => f.v));
    return wanted.filter((v) => !have.has(v));
  }

  /** Everything a request asks, checked and compiled; NotFound for ids that are not there. */
  private async prepare<Row, C extends DescribeContext>(resource: Resource<Row, C>, req: DescribeRequest, ctx: C, opts: SelectOptions) {
    validateRequest(resource, req);
    const ids = req.ids?.length ? req.ids : undefined;
    if (ids && opts.checkIds !== false) {
      const missing = await this.missing(resource, ids, ctx, { where: opts.where });
      if (missing.length) throw resource.notFound(missing);
    }
    const compiled = compileFilters(resource, req.filters ?? [], ctx);
    const conds: Sql[] = [resource.scope(ctx)];
    if (opts.where) conds.push(opts.where);
    if (ids) conds.push(sql`r.${raw(resource.id!)} = ANY(${ids}::text[])`);
    conds.push(...compiled.where);
    return {
      conds,
      memory: compiled.memory,
      order: orderOf(resource as Resource<unknown, never>),
      limit: req.maxResults !== undefined ? req.maxResults + 1 : undefined,
      after: req.nextToken ? positionOf(resource as Resource<unknown, never>, req.nextToken) : undefined,
      extra: [...new Set([...(opts.extra ?? []), ...(opts.groupBy ? [opts.groupBy] : [])])],
    };
  }

  /** The keyset query: keys (k0..) and extra columns of the rows after `after`, in order, at most `limit`. */
  private keysSql(resource: Resource<unknown, never>, p: { conds: Sql[]; order: string[]; extra: string[] }, after: string[] | undefined, limit: number | undefined): Sql {
    const conds = [...p.conds];
    if (after) conds.push(sql`(${joinSql(ordered(p.order), ', ')}) > (${joinSql(after.map((v) => sql`${v}`), ', ')})`);
    const keys = raw([...p.order.map((c, i) => `r.${c} AS __k${i}`), ...p.extra.map((c) => `r.${c} AS ${c}`)].join(', '));
    return sql`SELECT ${keys} FROM ${raw(resource.from)} r WHERE ${and(conds)}
      ORDER BY ${joinSql(ordered(p.order), ', ')}${limit !== undefined ? sql` LIMIT ${limit}` : raw('')}`;
  }

  /** The select list of a whole row: the resource's columns and, when it has them, its tags. */
  private rowColumns<Row, C extends DescribeContext>(resource: Resource<Row, C>, ctx: C): Sql {
    const t = resource.tags;
    const tags =
      t && t.attach !== false
        ? sql`, COALESCE((SELECT json_agg(json_build_object('key', t.key, 'value', t.value) ORDER BY t.key) FROM tags t
            WHERE t.account_id = ${ctx.accountId} AND t.resource_id = r.${raw(t.resourceId ?? resource.id!)}), '[]') AS tags`
        : raw('');
    return sql`${raw(resource.columns ?? 'r.*')}${tags}`;
  }

  /** Step 1: the keys of the answer (or of this page of it) in order, and the token of the next page. */
  async select<Row, C extends DescribeContext>(resource: Resource<Row, C>, req: DescribeRequest, ctx: C, opts: SelectOptions = {}): Promise<Selection> {
    const p = await this.prepare(resource, req, ctx, opts);
    const R = resource as Resource<unknown, never>;
    const toKey = (r: Record<string, unknown>): Key => ({
      key: p.order.map((_, i) => String(r[`__k${i}`])),
      extra: Object.fromEntries(p.extra.map((c) => [c, r[c]])),
    });
    let keys: Key[];
    if (!p.memory.length) {
      keys = (await this.query<Record<string, unknown>>(this.keysSql(R, p, p.after, p.limit))).map(toKey);
    } else {
      // The named exception: SQL narrows and orders; the memory filters look at a bounded chunk at a time.
      keys = [];
      let after = p.after;
      for (;;) {
        const chunk = (await this.query<Record<string, unknown>>(this.keysSql(R, p, after, this.memoryChunk))).map(toKey);
        if (!chunk.length) break;
        const rows = await this.load(resource, chunk.map((k) => k.key), ctx);
        const pass = new Set(rows.filter((row) => p.memory.every((m) => m(row))).map(keyOfRow));
        for (const k of chunk) if (pass.has(k.key.join(TOKEN_SEPARATOR))) keys.push(k);
        if ((p.limit !== undefined && keys.length >= p.limit) || chunk.length < this.memoryChunk) break;
        after = chunk[chunk.length - 1]!.key;
      }
      if (p.limit !== undefined) keys = keys.slice(0, p.limit);
    }
    return trim(keys, req.maxResults, (k) => k.key);
  }

  /** Step 2: rows by key, in the order of `keys` (a key whose row went away since is skipped), with their tags. */
  async load<Row, C extends DescribeContext>(resource: Resource<Row, C>, keys: string[][], ctx: C): Promise<Row[]> {
    if (!keys.length) return [];
    const order = orderOf(resource as Resource<unknown, never>);
    const byKey =
      order.length === 1
        ? sql`r.${raw(order[0]!)} = ANY(${keys.map((k) => k[0]!)}::text[])`
        : sql`(${raw(order.map((c) => `r.${c}`).join(', '))}) IN (SELECT * FROM unnest(${joinSql(order.map((_, i) => sql`${keys.map((k) => k[i]!)}::text[]`), ', ')}))`;
    const keyCols = raw(order.map((c, i) => `r.${c} AS __k${i}`).join(', '));
    const found = await this.query<Record<string, unknown>>(
      sql`SELECT ${this.rowColumns(resource, ctx)}, ${keyCols} FROM ${raw(resource.from)} r WHERE ${resource.scope(ctx)} AND ${byKey}`,
    );
    const map = new Map(found.map((row) => [takeKey(row, order.length), row]));
    return keys.map((k) => map.get(k.join(TOKEN_SEPARATOR))).filter((r) => r !== undefined) as Row[];
  }

  /**
   * The answer's rows and the next page's token: what a handler asks. A page (MaxResults, or an id list) is
   * read with its rows in one query; a whole answer is selected by key first, then read a batch at a time.
   */
  async page<Row, C extends DescribeContext>(resource: Resource<Row, C>, req: DescribeRequest, ctx: C, opts: SelectOptions = {}): Promise<{ rows: AsyncIterable<Row[]>; nextToken?: string }> {
    const bounded = req.maxResults !== undefined || !!req.ids?.length;
    if (!bounded || (req.filters ?? []).some((f) => resource.filters[f.Name ?? '']?.kind === 'memory')) {
      const sel = await this.select(resource, req, ctx, opts);
      const groups = opts.groupBy ? grouped(sel.keys, opts.groupBy) : [sel.keys];
      return { rows: this.batches(resource, groups, !opts.groupBy, ctx), nextToken: sel.nextToken };
    }
    // Ids are checked after the page is read, and only those it lacks (a filter or MaxResults may have left out
    // one that exists): asking for instances by id that are there, as a client waiting on them does, is one query.
    const checkIds = !!req.ids?.length && opts.checkIds !== false && !!resource.id;
    const p = await this.prepare(resource, req, ctx, checkIds ? { ...opts, checkIds: false } : opts);
    // One query. The keys are found by an index walk that reads no row it does not keep (an index-only scan
    // when it can); each kept key's row is then read by a LATERAL lookup (its LIMIT 1 keeps PostgreSQL from
    // flattening it into a join it might hash), so columns, subqueries and tags are computed for the page only.
    const on = and([resource.scope(ctx), ...p.order.map((c, i) => raw(`r.${c} = k.__k${i}`))]);
    const found = await this.query<Record<string, unknown>>(
      sql`SELECT x.* FROM (${this.keysSql(resource as Resource<unknown, never>, { ...p, extra: [] }, p.after, p.limit)}) k,
          LATERAL (SELECT ${this.rowColumns(resource, ctx)}, ${raw(p.order.map((_, i) => `k.__k${i}`).join(', '))}
                   FROM ${raw(resource.from)} r WHERE ${on} LIMIT 1) x
          ORDER BY ${joinSql(p.order.map((_, i) => raw(`k.__k${i} COLLATE "C"`)), ', ')}`,
    );
    if (checkIds) {
      const seen = new Set(found.map((row) => row[resource.id!]));
      const unseen = req.ids!.filter((id) => !seen.has(id));
      if (unseen.length) {
        const missing = await this.missing(resource, unseen, ctx, { where: opts.where });
        if (missing.length) throw resource.notFound(missing);
      }
    }
    const keyed = found.map((row) => ({ row, key: takeKey(row, p.order.length).split(TOKEN_SEPARATOR) }));
    const page = trim(keyed, req.maxResults, (x) => x.key);
    let rows = page.keys.map((x) => x.row);
    if (opts.groupBy) rows = grouped(rows.map((row) => ({ row, extra: row })), opts.groupBy).flat().map((x) => x.row);
    return { rows: once(rows as Row[]), nextToken: page.nextToken };
  }

  /** Reads groups of keys BATCH rows at a time; a group is split between batches only when `split`. */
  private async *batches<Row, C extends DescribeContext>(resource: Resource<Row, C>, groups: Key[][], split: boolean, ctx: C): AsyncGenerator<Row[]> {
    let batch: string[][] = [];
    for (const g of groups) {
      for (const k of g) {
        batch.push(k.key);
        if (split && batch.length >= this.batch) {
          yield await this.load(resource, batch, ctx);
          batch = [];
        }
      }
      if (batch.length >= this.batch) {
        yield await this.load(resource, batch, ctx);
        batch = [];
      }
    }
    if (batch.length) yield await this.load(resource, batch, ctx);
  }
}

/** Cuts a selection of MaxResults + 1 to MaxResults, with the token of the last one kept. */
function trim<T>(items: T[], maxResults: number | undefined, keyOf: (t: T) => string[]): { keys: T[]; nextToken?: string } {
  if (maxResults !== undefined && items.length > maxResults) {
    const kept = items.slice(0, maxResults);
    return { keys: kept, nextToken: encodeToken(keyOf(kept[kept.length - 1]!).join(TOKEN_SEPARATOR)) };
  }
  return { keys: items };
}

/** Items grouped by `column` of their extra columns, groups in order of their first item. */
function grouped<T extends { extra: Record<string, unknown> }>(items: T[], column: string): T[][] {
  const groups = new Map<unknown, T[]>();
  for (const it of items) {
    const g = it.extra[column];
    const list = groups.get(g);
    if (list) list.push(it);
    else groups.set(g, [it]);
  }
  return [...groups.values()];
}

/** Removes the __k0.. key columns of a read row; answers its key (parts joined as in a token). */
function takeKey(row: Record<string, unknown>, n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    parts.push(String(row[`__k${i}`]));
    delete row[`__k${i}`];
  }
  const key = parts.join(TOKEN_SEPARATOR);
  Object.defineProperty(row, KEY, { value: key, enumerable: false });
  return key;
}

const KEY = Symbol('describe key');
const keyOfRow = (row: unknown) => (row as Record<symbol, string>)[KEY]!;

async function* once<T>(rows: T[]): AsyncGenerator<T[]> {
  yield rows;
}
