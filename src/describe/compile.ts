/**
 * From a request to SQL conditions, for the describe engine (./engine.ts): each filter as its declaration
 * says (./resource.ts), tag filters as an EXISTS over the caller's tags, and page tokens as keyset positions.
 */
import { invalidFilter, invalidPaginationToken } from '../errors/index.js';
import { decodeToken, validateDescribe, wildcard, type DescribeRequest, type FieldValue, type FilterInput } from './memory.js';
import { matchAny } from './pattern.js';
import { orderOf, type DescribeContext, type Filter, type Resource } from './resource.js';
import { raw, sql, type Sql } from './sql.js';

/** Between the parts of a token of a resource ordered by several columns (tags: resource id, key). */
export const TOKEN_SEPARATOR = '\u0000';

/** Request checks made before anything is read (the dispatcher's validate step), as the in-memory engine makes them. */
export function validateRequest<Row, C extends DescribeContext>(resource: Resource<Row, C>, req: DescribeRequest): void {
  validateDescribe(
    { id: () => '', tags: resource.tags ? () => [] : undefined, filters: filterNamesOf(resource), notFound: resource.notFound, maxResults: resource.maxResults, idsExcludeMaxResults: resource.idsExcludeMaxResults },
    req,
  );
  if (req.nextToken) positionOf(resource as Resource<unknown, never>, req.nextToken);
}

function filterNamesOf<Row, C extends DescribeContext>(resource: Resource<Row, C>): Record<string, () => undefined> {
  return Object.fromEntries(Object.keys(resource.filters).map((n) => [n, () => undefined]));
}

/** The order key a token names; a token of another resource (wrong number of parts) is refused. */
export function positionOf(resource: Resource<unknown, never>, token: string): string[] {
  const after = decodeToken(token);
  const n = orderOf(resource).length;
  if (n === 1) return [after];
  const parts = after.split(TOKEN_SEPARATOR);
  if (parts.length !== n) throw invalidPaginationToken(token);
  return parts;
}

/** The order columns, compared as bytes (the order of page tokens, and of the describe indexes). */
export const ordered = (cols: string[]) => cols.map((c) => raw(`(r.${c}) COLLATE "C"`));

export interface Compiled<Row> {
  where: Sql[];
  /** Filters of the named exception, tested on loaded rows. */
  memory: ((row: Row) => boolean)[];
}

function asStrings(v: FieldValue | FieldValue[]): string[] {
  return (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined && x !== null).map((x) => String(x));
}

export function compileFilters<Row, C extends DescribeContext>(resource: Resource<Row, C>, filters: FilterInput[], ctx: C): Compiled<Row> {
  const where: Sql[] = [];
  const memory: ((row: Row) => boolean)[] = [];
  for (const f of filters) {
    const name = f.Name ?? '';
    const values = f.Values ?? [];
    const tagCond = tagFilter(resource, name, values, ctx);
    if (tagCond) {
      where.push(tagCond);
      continue;
    }
    const filter = resource.filters[name];
    if (!filter) throw invalidFilter(name);
    if (filter.kind === 'memory') {
      const patterns = values.map(wildcard);
      memory.push((row) => asStrings(filter.value(row)).some((v) => patterns.some((p) => p.test(v))));
    } else {
      where.push(filterSql(filter, values, ctx));
    }
  }
  return { where, memory };
}

function filterSql<Row, C>(f: Exclude<Filter<Row, C>, { kind: 'memory' }>, values: string[], ctx: C): Sql {
  const expr = (e: Sql | ((c: C) => Sql)) => (typeof e === 'function' ? e(ctx) : e);
  switch (f.kind) {
    case 'value':
      return matchAny(expr(f.expr), values);
    case 'list': {
      const arr = expr(f.expr);
      return sql`EXISTS (SELECT 1 FROM unnest(${arr}) AS x(v) WHERE ${matchAny(raw('x.v'), values)})`;
    }
    case 'join':
      return sql`EXISTS (SELECT 1 FROM ${raw(f.from)} WHERE ${raw(f.on)} AND ${matchAny(raw(f.value), values)})`;
    case 'json':
      return sql`EXISTS (SELECT 1 FROM jsonb_path_query(r.${raw(f.column)}, ${f.path}::jsonpath) AS j(v) WHERE ${matchAny(raw(`j.v #>> '{}'`), values)})`;
    case 'constant': {
      const patterns = values.map(wildcard);
      return raw(asStrings(f.value).some((v) => patterns.some((p) => p.test(v))) ? 'TRUE' : 'FALSE');
    }
  }
}

/** `tag:Key`, `tag-key`, `tag-value`: an EXISTS over the caller's tags of the row's resource (index tags_key_value). */
function tagFilter<Row, C extends DescribeContext>(resource: Resource<Row, C>, name: string, values: string[], ctx: C): Sql | undefined {
  const t = resource.tags;
  if (!t) return undefined;
  let cond: Sql;
  // The key in the database's collation (equality is the same in all), as the primary key (resource_id, key) and
  // tags_key_value have it: a probe from a resource's row reads its one tag, not all of them.
  if (name.startsWith('tag:')) cond = sql`t.key = ${name.slice(4)} AND ${matchAny(raw('t.value'), values)}`;
  else if (name === 'tag-key') cond = matchAny(raw('t.key'), values);
  else if (name === 'tag-value') cond = matchAny(raw('t.value'), values);
  else return undefined;
  const rid = raw(`r.${t.resourceId ?? resource.id}`);
  const type = t.type ? sql` AND t.resource_type = ${t.type}` : raw('');
  return sql`EXISTS (SELECT 1 FROM tags t WHERE t.account_id = ${ctx.accountId} AND t.resource_id = ${rid}${type} AND ${cond})`;
}

