/**
 * Rounds of "bursts of launch / stop / start / terminate, the whole server killed (SIGKILL) at a random moment,
 * restarted at once", then the invariants a user relies on, checked against the records and the host:
 * - every instance the records call live has exactly one backend object, and every object a live record;
 * - none is still transitional (pending, stopping, shutting-down) once the bound has passed;
 * - every terminated one is gone from the host and holds no address; every live one holds its address (its ENI's);
 * - a running record runs on the host, a stopped one does not.
 * Seeded: a failure names its seed and round, and the same seed replays the same operations and kill moments.
 * Used by test/instances/crash.test.ts (a few rounds) and bench/crash-soak.ts (many).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import type { BackendInstanceInfo, ComputeBackend } from '../../src/ports/index.js';
import { prng, startChild, tail, type ChildServer } from './child-server.js';

export interface CrashOptions {
  backend: 'docker' | 'libvirt';
  imageName: string;
  dbUrl: string;
  port: number;
  logDir: string;
  seed: number;
  rounds: number;
  /** Operations per burst (at most) */
  ops: number;
  /** Live instances at most (a launch beyond becomes a terminate) */
  maxLive: number;
  /** Burst length: operations start at random moments within it, and the kill falls within it too */
  windowMs: number;
  /** The bound: how long after the restart the records may still be transitional or disagree with the host */
  boundMs: number;
  reboots: boolean;
  /** The adapter, scoped to the installation id, that lists what is on the host */
  adapter: (cloudId: string) => ComputeBackend;
  onRound?: (r: RoundReport) => void;
}

export interface RoundReport {
  round: number;
  ops: Record<string, number>;
  killedAfterMs: number;
  restartMs: number;
  settleMs: number;
  live: number;
  terminated: number;
}

interface Row {
  id: string;
  state: string;
  ips: number;
}

const TRANSITIONAL = new Set(['pending', 'stopping', 'shutting-down']);

/** What is wrong now, or undefined when records and host agree. */
export function violations(rows: Row[], objects: BackendInstanceInfo[], opts: { settled: boolean }): string | undefined {
  const problems: string[] = [];
  const byId = new Map<string, BackendInstanceInfo[]>();
  for (const o of objects) byId.set(o.instanceId, [...(byId.get(o.instanceId) ?? []), o]);
  const rowIds = new Set(rows.map((r) => r.id));
  for (const r of rows) {
    const objs = byId.get(r.id) ?? [];
    if (r.state === 'terminated') {
      if (objs.length) problems.push(`${r.id} is terminated but ${objs.length} object(s) remain on the host`);
      if (r.ips) problems.push(`${r.id} is terminated but holds ${r.ips} address(es)`);
      continue;
    }
    if (opts.settled && TRANSITIONAL.has(r.state)) problems.push(`${r.id} is still ${r.state}`);
    if (objs.length !== 1 && !(r.state === 'pending' && !opts.settled)) problems.push(`${r.id} (${r.state}) has ${objs.length} objects on the host`);
    if (r.ips !== 1) problems.push(`${r.id} (${r.state}) holds ${r.ips} addresses`);
    const host = objs[0]?.state;
    if (r.state === 'running' && host && host !== 'running') problems.push(`${r.id} is recorded running but the host shows ${host}`);
    if (r.state === 'stopped' && host && host !== 'stopped' && host !== 'pending') problems.push(`${r.id} is recorded stopped but the host shows ${host}`);
  }
  for (const [id, objs] of byId) if (!rowIds.has(id)) problems.push(`${objs.length} object(s) on the host for ${id}, which no record knows`);
  return problems.length ? problems.join('; ') : undefined;
}

async function readRows(db: pg.Client): Promise<Row[]> {
  const r = await db.query(`SELECT i.id, i.state, (SELECT count(*)::int FROM ip_allocations a WHERE a.owner_id = i.eni_id) AS ips FROM instances i`);
  return r.rows as Row[];
}

/** Waits until records and host agree with nothing transitional, up to the bound; throws what is still wrong. */
export async function settle(db: pg.Client, adapter: ComputeBackend, boundMs: number): Promise<number> {
  const t0 = Date.now();
  let last: string | undefined;
  for (;;) {
    last = violations(await readRows(db), await adapter.list(), { settled: true });
    if (!last) return Date.now() - t0;
    if (Date.now() - t0 > boundMs) throw new Error(`not settled ${boundMs} ms after the restart: ${last}`);
    await sleep(500);
  }
}

export async function crashRounds(o: CrashOptions): Promise<RoundReport[]> {
  const rand = prng(o.seed);
  const pick = <T>(a: T[]): T | undefined => (a.length ? a[Math.floor(rand() * a.length)] : undefined);
  const env = { DATABASE_URL: o.dbUrl, COMPUTE_BACKEND: o.backend, THECLOUD_RECONCILE_SECONDS: '1', LOG_LEVEL: 'info' };
  const db = new pg.Client({ connectionString: o.dbUrl });
  db.on('error', () => undefined);
  await db.connect();
  const reports: RoundReport[] = [];
  let server: ChildServer | undefined;
  let adapter: ComputeBackend | undefined;
  const logOf = (round: number) => join(o.logDir, `crash-${o.backend}-seed${o.seed}-round${round}.log`);
  try {
    server = await startChild(env, o.port, logOf(0));
    const cloudId = (await db.query('SELECT id FROM installation')).rows[0].id as string;
    adapter = o.adapter(cloudId);
    const image = (await server.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: [o.imageName] }] }))).Images![0]!;
    const known: string[] = [];

    for (let round = 1; round <= o.rounds; round++) {
      const ec2: EC2Client = server.ec2;
      const live = async () => (await readRows(db)).filter((r) => r.state !== 'terminated' && r.state !== 'shutting-down').map((r) => r.id);
      let liveNow = await live();
      if (liveNow.length < 2) {
        // Something for the burst to stop, start and terminate.
        const r = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 2, MaxCount: 2, InstanceType: 't3.nano' }));
        known.push(...(r.Instances ?? []).map((i) => i.InstanceId!));
        liveNow = await live();
      }
      const counts: Record<string, number> = {};
      let answered: { token: string; n: number; ids: string[] } | undefined;
      const op = async () => {
        let kind = pick(['launch', 'launch', 'stop', 'start', 'terminate', ...(o.reboots ? ['reboot'] : [])])!;
        if (kind === 'launch' && liveNow.length >= o.maxLive) kind = 'terminate';
        const target = pick(liveNow.length ? liveNow : known);
        counts[kind] = (counts[kind] ?? 0) + 1;
        switch (kind) {
          case 'launch': {
            const n = 1 + Math.floor(rand() * 2);
            liveNow.push('?'.repeat(n)); // counts towards the limit before the answer comes
            const token = `crash-${o.seed}-${round}-${rand()}`;
            const r = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: n, MaxCount: n, InstanceType: 't3.nano', ClientToken: token }));
            const ids = (r.Instances ?? []).map((i) => i.InstanceId!);
            known.push(...ids);
            answered = { token, n, ids };
            return;
          }
          case 'stop':
            if (target) await ec2.send(new StopInstancesCommand({ InstanceIds: [target], Force: o.backend === 'libvirt' || rand() < 0.5 }));
            return;
          case 'start':
            if (target) await ec2.send(new StartInstancesCommand({ InstanceIds: [target] }));
            return;
          case 'reboot':
            if (target) await ec2.send(new RebootInstancesCommand({ InstanceIds: [target] }));
            return;
          case 'terminate':
            if (target) await ec2.send(new TerminateInstancesCommand({ InstanceIds: [target] }));
            return;
        }
      };
      const n = 1 + Math.floor(rand() * o.ops);
      const delays = Array.from({ length: n }, () => Math.floor(rand() * o.windowMs));
      // The kill falls in the second half of the burst or just after it: with work in flight, as a rule.
      const killedAfterMs = Math.floor(o.windowMs * (0.5 + rand()));
      const t0 = Date.now();
      const inFlight = delays.map((d) => sleep(d).then(op).catch(() => undefined)); // refusals and the kill's resets are expected
      await sleep(killedAfterMs);
      server.child.kill('SIGKILL');
      await server.child;
      const tKill = Date.now();
      server = await startChild(env, o.port, logOf(round)); // at once, as a supervisor restarts it
      const restartMs = Date.now() - tKill;
      await Promise.allSettled(inFlight);
      let settleMs: number;
      try {
        settleMs = await settle(db, adapter, o.boundMs);
      } catch (e) {
        throw new Error(`seed ${o.seed}, round ${round} (killed ${killedAfterMs} ms into a burst of ${n} operations: ${JSON.stringify(counts)}): ${(e as Error).message}\n--- server log ---\n${tail(logOf(round), 30)}`);
      }
      if (answered) {
        // A launch answered before the kill answers the same after it: its ClientToken still holds.
        const again = await server.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: answered.n, MaxCount: answered.n, InstanceType: 't3.nano', ClientToken: answered.token }));
        const ids = (again.Instances ?? []).map((i) => i.InstanceId!);
        if (ids.sort().join() !== [...answered.ids].sort().join()) throw new Error(`seed ${o.seed}, round ${round}: ClientToken ${answered.token} answered ${ids.join()} after the restart, ${answered.ids.join()} before`);
      }
      const rows = await readRows(db);
      const report: RoundReport = {
        round,
        ops: counts,
        killedAfterMs: tKill - t0,
        restartMs,
        settleMs,
        live: rows.filter((r) => r.state !== 'terminated').length,
        terminated: rows.filter((r) => r.state === 'terminated').length,
      };
      reports.push(report);
      o.onRound?.(report);
    }

    // The end: everything terminated, nothing left on the host.
    const ids = (await readRows(db)).filter((r) => r.state !== 'terminated').map((r) => r.id);
    if (ids.length) await server.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await settle(db, adapter, o.boundMs);
    const left = await adapter.list();
    if (left.length) throw new Error(`seed ${o.seed}: ${left.length} object(s) left on the host after terminating everything`);
    const d = await server.ec2.send(new DescribeInstancesCommand({}));
    const notTerminated = (d.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
    if (notTerminated.length) throw new Error(`seed ${o.seed}: DescribeInstances shows ${notTerminated.length} instance(s) not terminated`);
    return reports;
  } finally {
    server?.child.kill('SIGTERM');
    await server?.child;
    await db.end();
    // After a failure: nothing of this run stays on the host.
    for (const obj of (await adapter?.list().catch(() => [])) ?? []) await adapter!.destroy(obj.backendId).catch(() => undefined);
  }
}
