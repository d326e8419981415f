/**
 * How long the life cycle of a VM instance takes on the libvirt backend (QEMU; TCG where there is no KVM, so
 * seconds). See bench/README.md ("Instance benchmarks").
 *
 *   npx tsx bench/vms.ts [--n 3] [--type t3.nano]
 *
 * For each of N instances, one after the other: RunInstances -> running, -> the user-data marker on the console,
 * -> "boot finished" on the console; StopInstances -> stopped; StartInstances -> running, -> the second boot's
 * "boot finished"; TerminateInstances -> terminated. Everything is local: an in-process server on loopback
 * (test/support/server.ts, fresh database on an embedded PostgreSQL), the local libvirtd and the built-in image
 * thecloud-tiny-vm. Every instance is terminated before it exits, also on failure or Ctrl-C. It prints numbers
 * and asserts nothing about them.
 */
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import {
  EC2Client,
  RunInstancesCommand,
  DescribeInstancesCommand,
  DescribeImagesCommand,
  GetConsoleOutputCommand,
  StopInstancesCommand,
  StartInstancesCommand,
  TerminateInstancesCommand,
  type _InstanceType,
} from '@aws-sdk/client-ec2';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const N = Number(arg('--n') ?? 3);
if (!Number.isInteger(N) || N < 1 || N > 20) throw new Error(`--n wants a whole number from 1 to 20`);
const TYPE = (arg('--type') ?? 't3.nano') as _InstanceType;

const STATE_POLL_MS = 100;
const CONSOLE_POLL_MS = 500;
const WAIT_MS = 240_000;

// The test harness puts its embedded PostgreSQL under os.tmpdir(): give it a directory of our own, removed at the end.
const scratch = mkdtempSync(join(tmpdir(), 'thecloud-bench-'));
chmodSync(scratch, 0o755); // PostgreSQL runs as the 'postgres' user when we are root
process.env.TMPDIR = scratch;
const { startTestServer, stopCluster } = await import('../test/support/server.js');
type TestServer = Awaited<ReturnType<typeof startTestServer>>;
const { sdk } = await import('../test/support/clients.js');
const { LibvirtComputeBackend } = await import('../src/adapters/libvirt/index.js');

// --- statistics and printing ----------------------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const sec = (x: number) => (x / 1000).toFixed(2);
function row(label: string, xs: number[]): void {
  if (!xs.length) return console.log(`  ${label.padEnd(48)} (no sample)`);
  console.log(`  ${label.padEnd(48)} n=${xs.length}  median ${sec(median(xs)).padStart(7)}  min ${sec(Math.min(...xs)).padStart(7)}  max ${sec(Math.max(...xs)).padStart(7)}  s`);
}

// --- polling --------------------------------------------------------------------------------------------------------

async function poll(what: string, check: () => Promise<boolean>, everyMs: number, timeoutMs = WAIT_MS): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const t = performance.now();
    if (await check()) return;
    if (performance.now() > end) throw new Error(`${what}: not done after ${timeoutMs / 1000} s`);
    await sleep(Math.max(0, everyMs - (performance.now() - t)));
  }
}

async function stateOf(ec2: EC2Client, id: string): Promise<{ name?: string; reason?: string }> {
  const i = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0];
  return { name: i?.State?.Name, reason: i?.StateReason ? `${i.StateReason.Code}: ${i.StateReason.Message}` : undefined };
}

/** ms from t0 until DescribeInstances (polled every 100 ms) shows `target`. */
async function until(ec2: EC2Client, id: string, target: string, t0: number): Promise<number> {
  let at = 0;
  await poll(`${id} to be ${target}`, async () => {
    const st = await stateOf(ec2, id);
    if (st.name === target) {
      at = performance.now() - t0;
      return true;
    }
    if (st.name === 'terminated') throw new Error(`${id} became terminated while waiting for ${target} (${st.reason})`);
    return false;
  }, STATE_POLL_MS);
  return at;
}

async function consoleText(ec2: EC2Client, id: string): Promise<string> {
  const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
  return Buffer.from(out.Output ?? '', 'base64').toString('utf8');
}

/** ms from t0 until each of `needles` is on the console (GetConsoleOutput polled every 500 ms). */
async function consoleShows(ec2: EC2Client, id: string, needles: string[], t0: number): Promise<number[]> {
  const at = new Map<string, number>();
  let last = '';
  await poll(`${id}: console to show ${needles.join(', ')}`, async () => {
    last = await consoleText(ec2, id);
    const now = performance.now() - t0;
    for (const n of needles) if (!at.has(n) && last.includes(n)) at.set(n, now);
    return at.size === needles.length;
  }, CONSOLE_POLL_MS).catch((e) => {
    throw new Error(`${(e as Error).message}; console tail:\n${last.slice(-1500)}`);
  });
  return needles.map((n) => at.get(n)!);
}

// --- cleanup --------------------------------------------------------------------------------------------------------

const created = new Set<string>();
let server: TestServer | undefined;
let ec2: EC2Client | undefined;

async function terminateAndWait(id: string): Promise<number> {
  const t0 = performance.now();
  await ec2!.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  return until(ec2!, id, 'terminated', t0);
}

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    if (ec2) {
      for (const id of created) {
        const st = await stateOf(ec2, id).catch(() => ({ name: undefined }));
        if (st.name && st.name !== 'terminated') {
          console.log(`  cleanup: terminating ${id} (${st.name})`);
          await terminateAndWait(id).catch((e) => console.error(`  cleanup: ${id}: ${(e as Error).message}`));
        }
      }
    }
    if (server) await server.close().catch((e) => console.error(`  cleanup: closing server: ${(e as Error).message}`));
    await stopCluster().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
    if (created.size) {
      const left = await execa('virsh', ['-c', process.env.LIBVIRT_URI ?? 'qemu:///system', 'list', '--all', '--name'], { reject: false });
      const ours = left.stdout.split('\n').map((l) => l.trim()).filter((n) => created.has(n));
      console.log(`  libvirt domains of this run left behind: ${ours.length ? ours.join(', ') : 'none'}`);
    }
  })();
  return cleaning;
}
process.on('SIGINT', () => {
  console.error('\ninterrupted: cleaning up');
  void cleanup().finally(() => process.exit(130));
});

// --- main -----------------------------------------------------------------------------------------------------------

const results = {
  runCall: [] as number[],
  running: [] as number[],
  marker: [] as number[],
  booted: [] as number[],
  stopped: [] as number[],
  startRunning: [] as number[],
  startBooted: [] as number[],
  terminated: [] as number[],
};

let failed = false;
try {
  console.log(`load before: ${(await execa('uptime')).stdout.trim()}`);
  const probe = await new LibvirtComputeBackend().probe();
  if (!probe.ok) throw new Error(`libvirt is not usable (run scripts/setup-libvirt.sh): ${probe.detail}`);
  console.log(probe.detail);
  server = await startTestServer({ COMPUTE_BACKEND: 'libvirt' });
  ec2 = sdk(server.url);
  const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-tiny-vm'] }] }))).Images?.[0]?.ImageId;
  if (!image) throw new Error('built-in image thecloud-tiny-vm is not registered');
  console.log(`server ${server.url}, image ${image}, ${N} x ${TYPE}, one after the other`);
  console.log(`DescribeInstances polled every ${STATE_POLL_MS} ms, GetConsoleOutput every ${CONSOLE_POLL_MS} ms`);

  for (let i = 0; i < N; i++) {
    const marker = `bench-marker-${i}-${randomBytes(4).toString('hex')}`;
    let t0 = performance.now();
    const r = await ec2.send(new RunInstancesCommand({
      ImageId: image, MinCount: 1, MaxCount: 1, InstanceType: TYPE,
      UserData: Buffer.from(`#!/bin/sh\necho ${marker}\n`).toString('base64'),
    }));
    const id = r.Instances![0]!.InstanceId!;
    created.add(id);
    results.runCall.push(performance.now() - t0);
    const [running, [marked, booted]] = await Promise.all([
      until(ec2, id, 'running', t0),
      consoleShows(ec2, id, [marker, 'thecloud: boot finished'], t0),
    ]);
    results.running.push(running);
    results.marker.push(marked!);
    results.booted.push(booted!);

    t0 = performance.now();
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    results.stopped.push(await until(ec2, id, 'stopped', t0));

    // The user-data script runs once per instance: the second boot says so instead of echoing the marker.
    const again = `user-data script already ran for ${id}`;
    if ((await consoleText(ec2, id)).includes(again)) throw new Error(`${id}: the console shows "${again}" before the second boot`);
    t0 = performance.now();
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    const [startRunning, [startBooted]] = await Promise.all([until(ec2, id, 'running', t0), consoleShows(ec2, id, [again], t0)]);
    results.startRunning.push(startRunning);
    results.startBooted.push(startBooted!);

    results.terminated.push(await terminateAndWait(id));
    console.log(`  ${id}: running ${sec(running)} s, marker ${sec(marked!)} s, boot finished ${sec(booted!)} s, stop ${sec(results.stopped.at(-1)!)} s, start->running ${sec(startRunning)} s, start->booted ${sec(startBooted!)} s, terminate ${sec(results.terminated.at(-1)!)} s`);
  }

  console.log('\n== libvirt backend: results');
  row('RunInstances call (answer: pending)', results.runCall);
  row('RunInstances -> running', results.running);
  row('RunInstances -> user-data marker on console', results.marker);
  row('RunInstances -> "boot finished" on console', results.booted);
  row('StopInstances -> stopped', results.stopped);
  row('StartInstances -> running', results.startRunning);
  row('StartInstances -> second boot on console', results.startBooted);
  row('TerminateInstances -> terminated', results.terminated);
  const logs = ((server as unknown as { logs?: string[] }).logs ?? []).filter((l) => /"level":"(error|warn)"/.test(l));
  if (logs.length) console.log(`  server logged ${logs.length} warning/error line(s):\n    ${logs.slice(0, 10).join('\n    ')}`);
} catch (e) {
  failed = true;
  console.error(`\nbenchmark failed: ${(e as Error).stack ?? e}`);
  const logs = ((server as unknown as { logs?: string[] } | undefined)?.logs ?? []).filter((l) => /"level":"(error|warn)"/.test(l));
  if (logs.length) console.error(`server log (warnings/errors):\n  ${logs.slice(-20).join('\n  ')}`);
} finally {
  await cleanup();
  console.log(`load after: ${(await execa('uptime')).stdout.trim()}`);
}
process.exit(failed ? 1 : 0);
