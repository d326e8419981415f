/**
 * The one Describe engine. A resource stored in PostgreSQL joins by declaring a `Resource` (./resource.ts: its
 * table or view, scope, tag type and what each filter reads in the database); `DescribeEngine` (./engine.ts)
 * answers ids, NotFound, filters, order and MaxResults/NextToken in SQL and reads only the rows of the answer,
 * a batch at a time, for `streamed` (src/protocol/serializer.ts) to write as they come. Fixed catalogues kept in
 * code use the in-memory engine (./memory.ts), which is also the SQL engine's reference in tests.
 */
export * from './memory.js';
export * from './resource.js';
export { DescribeEngine, validateRequest, BATCH, type Key, type Selection, type SelectOptions, type SqlReader } from './engine.js';
export { sql, sqlText, raw, and, or, join as joinSql, type Sql } from './sql.js';
export { parsePattern, matchAny } from './pattern.js';
