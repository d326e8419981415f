/**
 * EXPLAIN ANALYZE of the queries the describe engine runs for a few DescribeInstances requests, for
 * bench/describe.ts --explain. The engine is given a reader that only records the SQL; the plans are then
 * asked of the benchmark's database. Prints each plan's node lines (indexes used, rows, times).
 */
import type pg from 'pg';
import { DescribeEngine, type DescribeRequest, type SqlReader } from '../src/describe/index.js';
import { instanceResource } from '../src/api/instances/filters.js';

class Recorder implements SqlReader {
  readonly queries: { text: string; bind: unknown[] }[] = [];
  async rows<T extends object>(text: string, bind: unknown[] = []): Promise<T[]> {
    this.queries.push({ text, bind });
    return [];
  }
}

export async function explainInstances(db: pg.Client, accountId: string, requests: { title: string; req: DescribeRequest }[]): Promise<string> {
  const out: string[] = [];
  for (const { title, req } of requests) {
    const rec = new Recorder();
    const engine = new DescribeEngine(rec);
    const page = await engine.page(instanceResource, req, { accountId, region: 'us-east-1' }, { groupBy: 'reservation_id', checkIds: false });
    for await (const _ of page.rows) break; // a whole answer reads its first batch only when asked
    for (const q of rec.queries) {
      const plan = await db.query(`EXPLAIN (ANALYZE, COSTS OFF) ${q.text}`, q.bind);
      const lines = plan.rows.map((r) => String(r['QUERY PLAN']));
      out.push(`-- ${title}\n${lines.filter((l) => !/^\s*(Sort Method|Buckets|Heap Blocks|Worker)/.test(l)).join('\n')}`);
    }
  }
  return out.join('\n\n');
}
