/**
 * The in-memory describe engine: the same semantics as the SQL engine (./engine.ts), over rows already in
 * memory. It serves fixed catalogues that live in code, not in the database (regions, zones, instance types),
 * and it is the reference the SQL engine is tested against (test/describe/reference.test.ts). A resource kept in
 * PostgreSQL never loads its rows to come here: it declares a `Resource` (./resource.ts) instead.
 *
 * Semantics: id selection, `...NotFound` for ids that are not there, filters (wildcards `*` and `?`, `\`
 * escapes, `tag:Key`, `tag-key`, `tag-value`), a stable order, and MaxResults/NextToken paging whose token
 * names a position (the last key returned), so resources created between pages cause neither duplicates nor gaps.
 */
import {
  Ec2Error,
  invalidFilter,
  invalidPaginationToken,
  invalidParameterCombination,
  invalidParameterValue,
} from '../errors/index.js';

export interface Tag {
  key: string;
  value: string;
}

export type FieldValue = string | number | boolean | null | undefined;
export type FilterField<T> = (row: T) => FieldValue | FieldValue[];

export interface DescribeSpec<T> {
  /** The id of a row, used for id selection. */
  id: (row: T) => string;
  /** The key that orders rows and names a page position; defaults to the id. */
  sortKey?: (row: T) => string;
  tags?: (row: T) => Tag[];
  filters: Record<string, FilterField<T>>;
  notFound: (missing: string[]) => Ec2Error;
  /** Bounds AWS puts on MaxResults for this action. */
  maxResults?: { min: number; max: number };
  /** The wire name of the id list, where AWS refuses it together with MaxResults (e.g. InstanceId). */
  idsExcludeMaxResults?: string;
}

export interface FilterInput {
  Name?: string;
  Values?: string[];
}

export interface DescribeRequest {
  ids?: string[];
  filters?: FilterInput[];
  maxResults?: number;
  nextToken?: string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** Compiles an EC2 filter value ('*' any run, '?' any one character, '\' escapes) into a RegExp. */
export function wildcard(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '*') re += '[\\s\\S]*';
    else if (c === '?') re += '[\\s\\S]';
    else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}
const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function asStrings(v: FieldValue | FieldValue[]): string[] {
  const arr = Array.isArray(v) ? v : [v];
  return arr.filter((x) => x !== undefined && x !== null).map((x) => String(x));
}

type Predicate<T> = (row: T) => boolean;

function compileFilter<T>(spec: DescribeSpec<T>, f: FilterInput): Predicate<T> {
  const name = f.Name ?? '';
  const patterns = (f.Values ?? []).map(wildcard);
  const anyMatch = (values: string[]) => values.some((v) => patterns.some((p) => p.test(v)));
  if (name.startsWith('tag:') && spec.tags) {
    const key = name.slice(4);
    return (row) => anyMatch(spec.tags!(row).filter((t) => t.key === key).map((t) => t.value));
  }
  if (name === 'tag-key' && spec.tags) return (row) => anyMatch(spec.tags!(row).map((t) => t.key));
  if (name === 'tag-value' && spec.tags) return (row) => anyMatch(spec.tags!(row).map((t) => t.value));
  const field = spec.filters[name];
  if (!field) throw invalidFilter(name);
  return (row) => anyMatch(asStrings(field(row)));
}

export function encodeToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key }), 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof v?.after === 'string') return v.after;
  } catch {
    /* fall through */
  }
  throw invalidPaginationToken(token);
}

/** Checks the request's shape before any rows are loaded (so a bad request costs no query). */
export function validateDescribe<T>(spec: DescribeSpec<T>, req: DescribeRequest): void {
  if (req.maxResults !== undefined) {
    if (spec.idsExcludeMaxResults && req.ids?.length) {
      throw invalidParameterCombination(
        `The parameter ${spec.idsExcludeMaxResults} cannot be used with the parameter maxResults`,
      );
    }
    const b = spec.maxResults ?? { min: 1, max: 1000 };
    if (req.maxResults < b.min || req.maxResults > b.max) {
      throw invalidParameterValue('MaxResults', req.maxResults, `It must be between ${b.min} and ${b.max}.`);
    }
  }
  for (const f of req.filters ?? []) compileFilter(spec, f);
  if (req.nextToken) decodeToken(req.nextToken);
}

export function describe<T>(spec: DescribeSpec<T>, rows: T[], req: DescribeRequest): Page<T> {
  validateDescribe(spec, req);
  let selected = rows;
  if (req.ids?.length) {
    const wanted = new Set(req.ids);
    selected = rows.filter((r) => wanted.has(spec.id(r)));
    const found = new Set(selected.map(spec.id));
    const missing = [...wanted].filter((id) => !found.has(id));
    if (missing.length) throw spec.notFound(missing);
  }
  const predicates = (req.filters ?? []).map((f) => compileFilter(spec, f));
  selected = selected.filter((r) => predicates.every((p) => p(r)));
  const key = spec.sortKey ?? spec.id;
  selected = [...selected].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  if (req.nextToken) {
    const after = decodeToken(req.nextToken);
    selected = selected.filter((r) => key(r) > after);
  }
  if (req.maxResults !== undefined && selected.length > req.maxResults) {
    const items = selected.slice(0, req.maxResults);
    return { items, nextToken: encodeToken(key(items[items.length - 1]!)) };
  }
  return { items: selected };
}
