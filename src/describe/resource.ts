/**
 * What a resource declares to join the describe engine (./engine.ts): where its rows are (a table, or a SQL
 * view written as `(SELECT ...)`), which rows a caller may see, its tag resource type, and for every filter
 * name what that filter reads in the database. The engine turns a request into SQL from this: id selection and
 * NotFound, every filter, the order and MaxResults/NextToken keyset paging all run in PostgreSQL, on indexes
 * (migration 006), and only the page's rows are read and rendered.
 *
 * A new Describe* action, e.g. DescribeVolumes:
 *
 *   export const volumeResource: Resource<VolumeRow & { tags: Tag[] }> = {
 *     from: 'volumes',                                       // or '(SELECT v.*, ... FROM volumes v)'
 *     id: 'id',
 *     scope: (c) => sql`r.account_id = ${c.accountId}`,     // the rows this caller may see
 *     tags: { type: 'volume' },                              // tag:Key, tag-key, tag-value; rows get `tags`
 *     filters: {
 *       'volume-id': column('id'),
 *       status: column('state'),
 *       size: text('r.size_gib::text'),                     // any SQL text expression over `r`
 *       'create-time': text(isoTime('r.created_at')),
 *       'attachment.instance-id': join('volume_attachments a', 'a.volume_id = r.id', 'a.instance_id'),
 *       encrypted: constant('false'),
 *     },
 *     notFound: (ids) => notFound('InvalidVolume', 'volume', ids),
 *     maxResults: { min: 5, max: 500 },
 *   };
 *
 *   // the action (src/api/volumes/index.ts; src/api/describe-action.ts for what else it can declare)
 *   export const describeVolumes = describeAction('DescribeVolumes', {
 *     resource: volumeResource, idKind: 'volume', ids: (i) => i.VolumeIds, list: 'Volumes', render: toVolume,
 *   });
 *
 * and, in a migration, an index on (account_id, id COLLATE "C") for the order, plus one on (account_id,
 * <column> COLLATE "C", id COLLATE "C") for each filter that is often used alone with paging (state, vpc-id...).
 * Filters compare in the "C" collation, so an index serves them only if its columns are "C" too. Filter values
 * are always bound, never pasted; the SQL text in a declaration is written in code. A handler with more to say
 * before ids are checked (DescribeImages' Owners) passes `where`; one whose rows come in groups (instances in
 * reservations) passes `groupBy`. test/describe/reference.test.ts shows how to hold a declaration to the
 * in-memory semantics on random data: add the new resource's case there.
 */
import type { Ec2Error } from '../errors/index.js';
import { raw, type Sql } from './sql.js';
import type { FieldValue } from './memory.js';

/** What every describe call knows about its caller. */
export interface DescribeContext {
  accountId: string;
  region: string;
}

/** A text expression over the row alias `r`, fixed or made for the caller (e.g. from its region). */
export type Expr<C> = Sql | ((ctx: C) => Sql);

export type Filter<Row, C> =
  /** A text expression over `r`: the filter matches when it matches one of the values. */
  | { kind: 'value'; expr: Expr<C> }
  /** A text[] expression over `r`: matches when any element matches. */
  | { kind: 'list'; expr: Expr<C> }
  /** Rows of another table joined to `r`: matches when one of them has a matching `value`. */
  | { kind: 'join'; from: string; on: string; value: string }
  /** A jsonb column and a JSON path: matches when one of the values the path yields matches. */
  | { kind: 'json'; column: string; path: string }
  /** The same value for every row (e.g. `hypervisor` is always xen): decided before any query. */
  | { kind: 'constant'; value: FieldValue | FieldValue[] }
  /**
   * The exception: a filter that cannot be written in SQL, tested on loaded rows. The engine applies it only to
   * rows the SQL part selected, read a bounded chunk at a time (never the whole account at once), and `why`
   * says why it is not SQL. Avoid it: every filter of the resources declared today is SQL.
   */
  | { kind: 'memory'; why: string; value: (row: Row) => FieldValue | FieldValue[] };

export const column = <Row = never, C = DescribeContext>(name: string): Filter<Row, C> => ({ kind: 'value', expr: raw(`r.${name}`) });
export const text = <Row = never, C = DescribeContext>(expr: string | ((ctx: C) => Sql)): Filter<Row, C> => ({
  kind: 'value',
  expr: typeof expr === 'string' ? raw(expr) : expr,
});
export const list = <Row = never, C = DescribeContext>(name: string): Filter<Row, C> => ({ kind: 'list', expr: raw(`r.${name}`) });
export const join = <Row = never, C = DescribeContext>(from: string, on: string, value: string): Filter<Row, C> => ({ kind: 'join', from, on, value });
export const jsonPath = <Row = never, C = DescribeContext>(columnName: string, path: string): Filter<Row, C> => ({ kind: 'json', column: columnName, path });
export const constant = <Row = never, C = DescribeContext>(value: FieldValue | FieldValue[]): Filter<Row, C> => ({ kind: 'constant', value });
export const inMemory = <Row, C = DescribeContext>(why: string, value: (row: Row) => FieldValue | FieldValue[]): Filter<Row, C> => ({ kind: 'memory', why, value });

/** A timestamp column as JavaScript's toISOString writes it (2026-01-31T12:00:00.000Z). */
export const isoTime = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export interface Resource<Row, C extends DescribeContext = DescribeContext> {
  /** A table, or a SQL view as `(SELECT ...)`; read as alias `r`. */
  from: string;
  /** The column holding the id that requests select by (and NotFound names); absent when there is no id list. */
  id?: string;
  /** Columns (text) that order rows and name a page position; by default the id. Unique within the scope. */
  order?: string[];
  /** The rows this caller may see (its account's, public ones ...). */
  scope: (ctx: C) => Sql;
  /** The select list a row is read with (default `r.*`); may use subqueries over `r`. */
  columns?: string;
  /**
   * Tags: enables `tag:Key`, `tag-key` and `tag-value` and gives each row its `tags` (the caller's tags of the
   * resource, by key). `type` is the resource type tags are stored with; `resourceId` the column tags are on
   * (default the id); `attach: false` filters without attaching.
   */
  tags?: { type?: string; resourceId?: string; attach?: boolean };
  filters: Record<string, Filter<Row, C>>;
  notFound: (ids: string[]) => Ec2Error;
  /** Bounds AWS puts on MaxResults for this action. */
  maxResults?: { min: number; max: number };
  /** The wire name of the id list, where AWS refuses it together with MaxResults (e.g. instancesSet). */
  idsExcludeMaxResults?: string;
}

export const orderOf = (r: Resource<unknown, never>): string[] => {
  const o = r.order ?? (r.id ? [r.id] : []);
  if (!o.length) throw new Error('a describe resource needs an id or an order');
  return o;
};
