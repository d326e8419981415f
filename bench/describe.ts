/**
 * Describe at scale (issue 12): what a page of DescribeInstances costs with 1,000, 10,000 and 100,000 instances
 * stored, and what the server's memory does while it answers. See bench/README.md ("Describe at scale").
 *
 *   npx tsx bench/describe.ts [--sizes 1000,10000,100000] [--requests 5] [--all-requests 2] [--only page,state,...]
 *                             [--explain]
 *
 * It starts bench/describe-server.ts in a child process (noop backends, fresh database on an embedded
 * PostgreSQL), inserts instances and tags straight into its database (growing from one size to the next in
 * one run), and sends SigV4-signed POSTs one at a time. It prints numbers and asserts nothing about them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import pg from 'pg';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SIZES = (arg('--sizes') ?? '1000,10000,100000').split(',').map(Number);
const REQUESTS = Number(arg('--requests') ?? 5);
const ALL_REQUESTS = Number(arg('--all-requests') ?? 2);
const ONLY = arg('--only')?.split(',');
const EXPLAIN = process.argv.includes('--explain');
/** Tags on other (synthetic) resources, so that the tag table holds at least this many rows at every size. */
const FILLER_TAGS = Number(arg('--filler-tags') ?? 100_000);
if (SIZES.some((n) => !Number.isInteger(n) || n < 1) || SIZES.some((n, i) => i > 0 && n <= SIZES[i - 1]!)) {
  throw new Error('--sizes wants growing whole numbers, e.g. 1000,10000,100000');
}

// --- the server process and its memory ----------------------------------------------------------------------------

interface ServerInfo {
  url: string;
  databaseUrl: string;
  pid: number;
  accountId: string;
}

async function startServerProcess(): Promise<{ child: ChildProcess; info: ServerInfo }> {
  const script = fileURLToPath(new URL('./describe-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/describe-server.ts exited (${code}) before it was ready`)));
  });
  return { child, info: JSON.parse(ready) as ServerInfo };
}

const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const kib = (pid: number, field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status(pid))?.[1] ?? NaN);

/** Peak RSS of the server over a piece of work: the kernel's high-water mark reset before it, and 10 ms samples. */
async function peakRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; peakMiB: number }> {
  let hwmReset = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmReset = false;
  }
  let sampled = kib(pid, 'VmRSS');
  const timer = setInterval(() => {
    sampled = Math.max(sampled, kib(pid, 'VmRSS'));
  }, 10);
  try {
    const result = await work();
    const peak = hwmReset ? Math.max(kib(pid, 'VmHWM'), sampled) : sampled;
    return { result, peakMiB: peak / 1024 };
  } finally {
    clearInterval(timer);
  }
}

// --- data ------------------------------------------------------------------------------------------------------------

interface Fixture {
  imageId: string;
  subnets: { id: string; vpc_id: string; availability_zone: string }[];
  groupId: string;
}

async function fixture(db: pg.Client, accountId: string): Promise<Fixture> {
  const image = await db.query<{ id: string }>(`SELECT id FROM images WHERE name = 'thecloud-noop'`);
  const subnets = await db.query<Fixture['subnets'][number]>(
    'SELECT id, vpc_id, availability_zone FROM subnets WHERE account_id = $1 ORDER BY availability_zone',
    [accountId],
  );
  const group = await db.query<{ id: string }>(`SELECT id FROM security_groups WHERE account_id = $1 AND group_name = 'default'`, [accountId]);
  return { imageId: image.rows[0]!.id, subnets: subnets.rows, groupId: group.rows[0]!.id };
}

/** Instances number `from` .. `to - 1`: ids from md5 (so id order is not insertion order), five per reservation. */
async function insertInstances(db: pg.Client, accountId: string, f: Fixture, from: number, to: number): Promise<void> {
  for (let lo = from; lo < to; lo += 20_000) {
    const hi = Math.min(to, lo + 20_000) - 1;
    await db.query(
      `INSERT INTO instances (id, account_id, reservation_id, launch_index, image_id, instance_type, key_name, state,
         subnet_id, vpc_id, availability_zone, private_ip, mac_address, eni_id, security_group_ids, backend, backend_id, launch_time)
       SELECT 'i-' || substr(md5('bench-i-' || g), 1, 17), $1, 'r-' || substr(md5('bench-r-' || (g / 5)), 1, 17), g % 5, $2,
              't3.micro', NULL,
              CASE WHEN g % 10 = 3 THEN 'stopped' WHEN g % 50 = 7 THEN 'terminated' ELSE 'running' END,
              ($3::text[])[1 + g % 3], ($4::text[])[1 + g % 3], ($5::text[])[1 + g % 3],
              ('10.' || ((g >> 16) & 255) || '.' || ((g >> 8) & 255) || '.' || (g & 255))::inet,
              '02:00:' || lpad(to_hex(g), 8, '0'), 'eni-' || substr(md5('bench-e-' || g), 1, 17), ARRAY[$6],
              'bench', 'bench-' || g, now() - g * interval '1 second'
       FROM generate_series($7::int, $8::int) AS g`,
      [accountId, f.imageId, f.subnets.map((s) => s.id), f.subnets.map((s) => s.vpc_id), f.subnets.map((s) => s.availability_zone),
        f.groupId, lo, hi],
    );
    // Two tags each: Name=web-<n> (unique) and team=t<n % 20> (5% of instances per team).
    await db.query(
      `INSERT INTO tags (account_id, resource_id, resource_type, key, value)
       SELECT $1, 'i-' || substr(md5('bench-i-' || g), 1, 17), 'instance', k.key, CASE k.key WHEN 'Name' THEN 'web-' || g ELSE 't' || (g % 20) END
       FROM generate_series($2::int, $3::int) AS g, (VALUES ('Name'), ('team')) AS k(key)`,
      [accountId, lo, hi],
    );
  }
}

async function insertFillerTags(db: pg.Client, accountId: string, n: number): Promise<void> {
  await db.query(
    `INSERT INTO tags (account_id, resource_id, resource_type, key, value)
     SELECT $1, 'vpc-0be4c' || lpad(to_hex(g / 50), 12, '0'), 'vpc', 'bench-' || lpad((g % 50)::text, 2, '0'), 'value-' || g
     FROM generate_series(0, $2::int - 1) AS g`,
    [accountId, n],
  );
}

// --- requests --------------------------------------------------------------------------------------------------------

const signer = new SignatureV4({ service: 'ec2', region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, sha256: Sha256 });

/** Sends one signed POST and reads the body as it comes, counting bytes and occurrences of `marker`. */
async function send(url: string, params: Record<string, string>, marker: string): Promise<{ ms: number; bytes: number; items: number; head: string }> {
  const body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
  const u = new URL(url);
  const signed = await signer.sign({
    method: 'POST', protocol: u.protocol, hostname: u.hostname, port: Number(u.port) || undefined, path: '/',
    headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body,
  });
  const t0 = performance.now();
  const res = await fetch(`${url}/`, { method: 'POST', headers: signed.headers as Record<string, string>, body });
  const decoder = new TextDecoder();
  let bytes = 0;
  let items = 0;
  let tail = '';
  let head = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    const decoded = decoder.decode(chunk, { stream: true });
    if (head.length < 4000) head += decoded.slice(0, 4000);
    // A marker cut in two by a chunk boundary is counted once: the tail kept is one character shorter than it.
    const text = tail + decoded;
    items += text.split(marker).length - 1;
    tail = text.slice(-(marker.length - 1));
  }
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${head.slice(0, 500)}`);
  return { ms, bytes, items, head };
}

interface Scenario {
  key: string;
  title: string;
  params: (size: number) => Record<string, string>;
  marker: string;
  all?: boolean;
}

const instanceId = (g: number) => createHash('md5').update(`bench-i-${g}`).digest('hex').slice(0, 17);

function scenarios(f: Fixture, firstToken: () => string): Scenario[] {
  const di = (extra: Record<string, string>) => () => ({ Action: 'DescribeInstances', ...extra });
  const m = '<instanceId>';
  const list: Scenario[] = [
    { key: 'page', title: 'MaxResults=50', params: di({ MaxResults: '50' }), marker: m },
    { key: 'next', title: 'MaxResults=50, second page (NextToken)', params: () => ({ Action: 'DescribeInstances', MaxResults: '50', NextToken: firstToken() }), marker: m },
    { key: 'state', title: 'instance-state-name=stopped, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'instance-state-name', 'Filter.1.Value.1': 'stopped' }), marker: m },
    { key: 'tag', title: 'tag:team=t7, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'tag:team', 'Filter.1.Value.1': 't7' }), marker: m },
    { key: 'subnet', title: 'subnet-id=<2nd subnet>, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'subnet-id', 'Filter.1.Value.1': f.subnets[1]!.id }), marker: m },
    { key: 'wildcard', title: 'tag:Name=web-1*, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'tag:Name', 'Filter.1.Value.1': 'web-1*' }), marker: m },
    { key: 'infix', title: 'tag:Name=*77?, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'tag:Name', 'Filter.1.Value.1': '*77?' }), marker: m },
    { key: 'trigram', title: 'tag:Name=*-777*, 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'tag:Name', 'Filter.1.Value.1': '*-777*' }), marker: m },
    { key: 'rare', title: 'tag:Name=web-42 (1 hit), 50', params: di({ MaxResults: '50', 'Filter.1.Name': 'tag:Name', 'Filter.1.Value.1': 'web-42' }), marker: m },
    { key: 'id', title: 'InstanceId.1=<one>', params: (size) => ({ Action: 'DescribeInstances', 'InstanceId.1': 'i-' + instanceId(size - 1) }), marker: m },
    { key: 'tags', title: 'DescribeTags MaxResults=50', params: () => ({ Action: 'DescribeTags', MaxResults: '50' }), marker: '<resourceId>' },
    { key: 'all', title: 'all in one answer', params: di({}), marker: m, all: true },
  ];
  return list.filter((s) => !ONLY || ONLY.includes(s.key));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  size: number;
  title: string;
  items: number;
  kib: number;
  p50: number;
  max: number;
  peakMiB: number;
}

function table(rows: Row[]): string {
  const head = ['stored', 'request', 'items', 'KiB', 'median ms', 'max ms', 'peak RSS MiB'];
  const cells = rows.map((r) => [String(r.size), r.title, String(r.items), r.kib.toFixed(0), r.p50.toFixed(1), r.max.toFixed(1), r.peakMiB.toFixed(0)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 1 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  process.stderr.write(`load: ${readFileSync('/proc/loadavg', 'utf8')}`);
  const { child, info } = await startServerProcess();
  const db = new pg.Client({ connectionString: info.databaseUrl });
  await db.connect();
  const rows: Row[] = [];
  try {
    const f = await fixture(db, info.accountId);
    if (FILLER_TAGS) await insertFillerTags(db, info.accountId, FILLER_TAGS);
    let stored = 0;
    for (const size of SIZES) {
      const t0 = performance.now();
      await insertInstances(db, info.accountId, f, stored, size);
      stored = size;
      // What autovacuum would have done by now on a server that had these rows: statistics, and the visibility
      // map that lets an index walk skip the table (index-only scans).
      await db.query('VACUUM ANALYZE');
      const tagCount = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tags')).rows[0]!.n;
      process.stderr.write(`${size} instances stored, ${tagCount} tags (${((performance.now() - t0) / 1000).toFixed(1)} s to insert); server RSS ${(kib(info.pid, 'VmRSS') / 1024).toFixed(0)} MiB\n`);
      // Warm-up, not measured: the server's JIT and PostgreSQL's caches after the inserts.
      let first = await send(info.url, { Action: 'DescribeInstances', MaxResults: '50' }, '<instanceId>');
      for (let i = 0; i < 20; i++) first = await send(info.url, { Action: 'DescribeInstances', MaxResults: '50' }, '<instanceId>');
      const token = /<nextToken>([^<]+)<\/nextToken>/.exec(first.head)?.[1] ?? '';
      for (const s of scenarios(f, () => token)) {
        const params = s.params(size);
        const n = s.all ? ALL_REQUESTS : REQUESTS;
        const warm = await send(info.url, params, s.marker); // not measured: JIT, caches, and a look at the answer
        const { result: times, peakMiB } = await peakRss(info.pid, async () => {
          const ms: number[] = [];
          for (let i = 0; i < n; i++) ms.push((await send(info.url, params, s.marker)).ms);
          return ms;
        });
        const row = { size, title: s.title, items: warm.items, kib: warm.bytes / 1024, p50: median(times), max: Math.max(...times), peakMiB };
        rows.push(row);
        process.stderr.write(`  ${s.title}: ${row.items} items, ${row.kib.toFixed(0)} KiB, median ${row.p50.toFixed(1)} ms, peak RSS ${peakMiB.toFixed(0)} MiB\n`);
      }
      if (EXPLAIN) {
        const f1 = (name: string, value: string) => [{ Name: name, Values: [value] }];
        const { explainInstances } = await import('./explain.js'); // only here: the script also runs on older trees
        const plans = await explainInstances(db, info.accountId, [
          { title: `${size}: MaxResults=50`, req: { maxResults: 50 } },
          { title: `${size}: MaxResults=50 after a token`, req: { maxResults: 50, nextToken: token } },
          { title: `${size}: instance-state-name=stopped`, req: { maxResults: 50, filters: f1('instance-state-name', 'stopped') } },
          { title: `${size}: tag:team=t7`, req: { maxResults: 50, filters: f1('tag:team', 't7') } },
          { title: `${size}: subnet-id`, req: { maxResults: 50, filters: f1('subnet-id', f.subnets[1]!.id) } },
          { title: `${size}: tag:Name=web-1*`, req: { maxResults: 50, filters: f1('tag:Name', 'web-1*') } },
          { title: `${size}: tag:Name=*77?`, req: { maxResults: 50, filters: f1('tag:Name', '*77?') } },
          { title: `${size}: tag:Name=*-777*`, req: { maxResults: 50, filters: f1('tag:Name', '*-777*') } },
          { title: `${size}: tag:Name=web-42`, req: { maxResults: 50, filters: f1('tag:Name', 'web-42') } },
          { title: `${size}: InstanceId`, req: { ids: ['i-' + instanceId(size - 1)] } },
          { title: `${size}: all (keys)`, req: {} },
        ]);
        process.stdout.write(`\n${plans}\n\n`);
      }
    }
    process.stdout.write(table(rows) + '\n');
    process.stderr.write(`load: ${readFileSync('/proc/loadavg', 'utf8')}`);
  } finally {
    await db.end();
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin?.end();
    await exited;
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
