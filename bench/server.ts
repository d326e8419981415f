/**
 * The server under benchmark, in its own process so that the load generator (bench/api.ts) does not share
 * its event loop: the test server (noop backends, a fresh database on an embedded PostgreSQL), with
 * `--tags N` synthetic tag rows inserted straight into the database for the `test` account.
 *
 * Prints one JSON line {"url", "tags", "sampleResourceId"} when ready; stops when stdin closes or on SIGTERM.
 */
import { startTestServer, stopCluster } from '../test/support/server.js';

/** Resource ids of the synthetic tags: vpc- and 17 hex digits, 50 tags on each, like a full tagged VPC. */
const SYNTHETIC_PREFIX = 'vpc-0be4c';
const TAGS_PER_RESOURCE = 50;
const syntheticResourceId = (i: number) => `${SYNTHETIC_PREFIX}${i.toString(16).padStart(12, '0')}`;

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};

const tags = Number(arg('--tags', '10000'));
const s = await startTestServer();
const account = await s.db.one<{ account_id: string }>("SELECT account_id FROM accounts WHERE access_key_id = 'test'");
if (!account) throw new Error("no 'test' account");
if (tags > 0) {
  // CreateTags only tags resources that exist (at most 5 in a fresh account, 50 tags each), so the rows
  // are written directly: the tag table is what DescribeTags reads.
  await s.db.exec(
    `INSERT INTO tags (account_id, resource_id, resource_type, key, value)
     SELECT $1, $2 || lpad(to_hex(g / ${TAGS_PER_RESOURCE}), 12, '0'), 'vpc',
            'bench-' || lpad((g % ${TAGS_PER_RESOURCE})::text, 2, '0'), 'value-' || g
     FROM generate_series(0, $3::int - 1) AS g`,
    [account.account_id, SYNTHETIC_PREFIX, tags],
  );
}
process.stdout.write(JSON.stringify({ url: s.url, tags, sampleResourceId: syntheticResourceId(0) }) + '\n');

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await s.close();
  await stopCluster();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
