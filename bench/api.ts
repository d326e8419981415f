/**
 * Throughput and latency of the Query API over loopback, as a client sees them. See bench/README.md.
 *
 *   npx tsx bench/api.ts [--endpoint URL] [--access-key test --secret test] [--duration 10] [--concurrency 16]
 *                        [--max-requests 100000] [--tags 10000] [--only regions,tags-one,tags-page,tags-all]
 *
 * Without --endpoint it starts bench/server.ts in a child process (fresh database, --tags synthetic tag rows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';

interface Options {
  endpoint?: string;
  accessKeyId: string;
  secretAccessKey: string;
  durationSec: number;
  concurrency: number;
  maxRequests: number;
  tags: number;
  only?: string[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, fallback: number) => {
    const v = get(name);
    const n = v === undefined ? fallback : Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} wants a number, not ${v}`);
    return n;
  };
  return {
    endpoint: get('--endpoint')?.replace(/\/$/, ''),
    accessKeyId: get('--access-key') ?? 'test',
    secretAccessKey: get('--secret') ?? 'test',
    durationSec: num('--duration', 10),
    concurrency: Math.max(1, num('--concurrency', 16)),
    maxRequests: num('--max-requests', 100_000),
    tags: num('--tags', 10_000),
    only: get('--only')?.split(','),
  };
}

/** A POST of form parameters, signed with SigV4 and re-signed every minute (a signature is good for 5). */
class SignedPost {
  private signedAt = 0;
  private headers: Record<string, string> = {};
  readonly body: string;
  private readonly signer: SignatureV4;

  constructor(
    readonly url: string,
    creds: { accessKeyId: string; secretAccessKey: string },
    params: Record<string, string>,
  ) {
    this.body = new URLSearchParams({ Version: '2016-11-15', ...params }).toString();
    this.signer = new SignatureV4({ service: 'ec2', region: 'us-east-1', credentials: creds, sha256: Sha256 });
  }

  async currentHeaders(): Promise<Record<string, string>> {
    if (Date.now() - this.signedAt > 60_000) {
      const u = new URL(this.url);
      const signed = await this.signer.sign({
        method: 'POST',
        protocol: u.protocol,
        hostname: u.hostname,
        port: Number(u.port) || undefined,
        path: '/',
        headers: { host: u.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
        body: this.body,
      });
      this.headers = signed.headers as Record<string, string>;
      this.signedAt = Date.now();
    }
    return this.headers;
  }

  async send(): Promise<{ status: number; text: string }> {
    const res = await fetch(`${this.url}/`, { method: 'POST', headers: await this.currentHeaders(), body: this.body });
    return { status: res.status, text: await res.text() };
  }
}

interface Scenario {
  key: string;
  title: string;
  params: Record<string, string>;
}

interface Result {
  scenario: Scenario;
  requests: number;
  errors: number;
  firstError?: string;
  seconds: number;
  latencies: number[];
  itemsPerResponse: number;
  bytesPerResponse: number;
}

const countItems = (xml: string) => xml.split('<item>').length - 1;

async function run(s: Scenario, opts: Options, endpoint: string): Promise<Result> {
  const req = new SignedPost(endpoint, opts, s.params);
  // Warm-up (not measured): connections, JIT, caches; and one look at what a response holds.
  const first = await req.send();
  if (first.status !== 200) throw new Error(`${s.title}: HTTP ${first.status}: ${first.text.slice(0, 500)}`);
  const warmEnd = performance.now() + Math.min(1000, opts.durationSec * 100);
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < warmEnd) await req.send();
    }),
  );

  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + opts.durationSec * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (performance.now() < end && issued < opts.maxRequests) {
        issued++;
        const t0 = performance.now();
        try {
          const r = await req.send();
          if (r.status === 200) latencies.push(performance.now() - t0);
          else {
            errors++;
            firstError ??= `HTTP ${r.status}: ${r.text.slice(0, 300)}`;
          }
        } catch (e) {
          errors++;
          firstError ??= String(e);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    scenario: s,
    requests: latencies.length,
    errors,
    firstError,
    seconds,
    latencies: latencies.sort((a, b) => a - b),
    itemsPerResponse: countItems(first.text),
    bytesPerResponse: Buffer.byteLength(first.text),
  };
}

function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function table(results: Result[]): string {
  const head = ['scenario', 'items/resp', 'KiB/resp', 'requests', 'errors', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms'];
  const rows = results.map((r) => [
    r.scenario.title,
    String(r.itemsPerResponse),
    (r.bytesPerResponse / 1024).toFixed(1),
    String(r.requests),
    String(r.errors),
    (r.requests / r.seconds).toFixed(1),
    ...[0.5, 0.9, 0.99, 1].map((q) => percentile(r.latencies, q).toFixed(1)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Starts bench/server.ts in a child process and waits for its ready line. */
async function startServerProcess(tags: number): Promise<{ child: ChildProcess; url: string; sampleResourceId: string }> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--tags', String(tags)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench/server.ts exited (${code}) before it was ready`)));
  });
  const info = JSON.parse(ready) as { url: string; sampleResourceId: string };
  return { child, url: info.url, sampleResourceId: info.sampleResourceId };
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  let child: ChildProcess | undefined;
  let endpoint = opts.endpoint;
  let oneResource: string | undefined;
  if (!endpoint) {
    process.stderr.write(`starting a server with ${opts.tags} synthetic tags...\n`);
    const started = await startServerProcess(opts.tags);
    child = started.child;
    endpoint = started.url;
    oneResource = started.sampleResourceId;
  }
  try {
    const u = new URL(endpoint);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) {
      process.stderr.write(`note: ${u.hostname} is not loopback; the numbers include the network\n`);
    }
    if (!oneResource) {
      // Against a given endpoint: the first tagged resource, if any.
      const probe = await new SignedPost(endpoint, opts, { Action: 'DescribeTags', MaxResults: '5' }).send();
      oneResource = /<resourceId>([^<]+)<\/resourceId>/.exec(probe.text)?.[1] ?? 'vpc-00000000000000000';
    }
    const all: Scenario[] = [
      { key: 'regions', title: 'DescribeRegions', params: { Action: 'DescribeRegions' } },
      {
        key: 'tags-one',
        title: 'DescribeTags resource-id=<one resource>',
        params: { Action: 'DescribeTags', 'Filter.1.Name': 'resource-id', 'Filter.1.Value.1': oneResource },
      },
      { key: 'tags-page', title: 'DescribeTags MaxResults=1000 (page 1)', params: { Action: 'DescribeTags', MaxResults: '1000' } },
      { key: 'tags-all', title: 'DescribeTags, every tag in one response', params: { Action: 'DescribeTags' } },
    ];
    const scenarios = all.filter((s) => !opts.only || opts.only.includes(s.key));

    process.stderr.write(
      `endpoint ${endpoint}; ${opts.concurrency} requests in flight; ${opts.durationSec} s or ${opts.maxRequests} requests per scenario\n`,
    );
    const results: Result[] = [];
    for (const s of scenarios) {
      process.stderr.write(`  ${s.title}...\n`);
      results.push(await run(s, opts, endpoint));
    }
    process.stdout.write(table(results) + '\n');
    for (const r of results) if (r.firstError) process.stdout.write(`first error of ${r.scenario.title}: ${r.firstError}\n`);
  } finally {
    if (child) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.stdin?.end();
      await exited;
    }
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
