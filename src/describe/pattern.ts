/**
 * EC2 filter values in SQL. A value is a pattern: `*` any run of characters, `?` exactly one, `\` makes the
 * next character literal (a `\` at the very end is itself literal). A value without wildcards is an exact value
 * (compared with `=`, which an index answers); one with wildcards becomes a `LIKE` pattern (`%`, `_`, with `\`
 * escaping the literal `%`, `_` and `\`), which is exact for these semantics: LIKE matches the whole string,
 * case-sensitively, and `%`/`_` cross line breaks. One difference with the in-memory matcher (./memory.ts), in
 * favour of SQL: `?` is one character for PostgreSQL, while JavaScript's RegExp counts a character outside the
 * Basic Multilingual Plane (an emoji) as two.
 */
import { or, sql, type Sql } from './sql.js';

export type Pattern = { exact: string } | { like: string };

export function parsePattern(value: string): Pattern {
  let exact = '';
  let like = '';
  let wild = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      const next = value[++i]!;
      exact += next;
      like += likeLiteral(next);
    } else if (c === '*' || c === '?') {
      wild = true;
      like += c === '*' ? '%' : '_';
    } else {
      exact += c;
      like += likeLiteral(c);
    }
  }
  return wild ? { like } : { exact };
}

const likeLiteral = (c: string) => (c === '%' || c === '_' || c === '\\' ? '\\' + c : c);

/**
 * The condition "expr matches one of values". `expr` is a text expression; it is compared in the "C" collation
 * (bytes, the order and equality JavaScript strings have), the collation the describe indexes are built with.
 */
export function matchAny(expr: Sql, values: string[]): Sql {
  const c = sql`(${expr}) COLLATE "C"`;
  const patterns = values.map(parsePattern);
  const exact = [...new Set(patterns.flatMap((p) => ('exact' in p ? [p.exact] : [])))];
  const likes = [...new Set(patterns.flatMap((p) => ('like' in p ? [p.like] : [])))];
  const parts: Sql[] = [];
  if (exact.length === 1) parts.push(sql`${c} = ${exact[0]}`);
  else if (exact.length > 1) parts.push(sql`${c} = ANY(${exact}::text[])`);
  for (const l of likes) parts.push(sql`${c} LIKE ${l}`);
  return or(parts);
}
