/**
 * The server under bench/describe.ts, in its own process so that its memory (RSS) is its own: the test server
 * (noop backends, a fresh database on an embedded PostgreSQL), with reconciliation made rare so that it does not
 * run over the rows the benchmark inserts directly.
 *
 * Prints one JSON line {"url", "databaseUrl", "pid", "accountId"} when ready; stops when stdin closes or on SIGTERM.
 */
import { startTestServer, stopCluster } from '../test/support/server.js';

const s = await startTestServer({ THECLOUD_RECONCILE_SECONDS: '3600' });
const account = await s.db.one<{ account_id: string }>("SELECT account_id FROM accounts WHERE access_key_id = 'test'");
if (!account) throw new Error("no 'test' account");
process.stdout.write(JSON.stringify({ url: s.url, databaseUrl: s.databaseUrl, pid: process.pid, accountId: account.account_id }) + '\n');

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
