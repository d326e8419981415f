/**
 * What one DescribeInstances call for one instance by id costs the machine: CPU of this process (the SDK client
 * and the in-process server together, as in bench/instances.ts), CPU of PostgreSQL, and SQL queries per call.
 * A client waiting for an instance (`aws ec2 wait`, Terraform, the launch bench's 20 ms observer) asks exactly
 * this, many times, while the instance starts on the same cores. See bench/README.md.
 *
 *   npx tsx bench/poll-cost.ts [--n 1000]
 *
 * Noop backends, a fresh database on the embedded PostgreSQL; no host backend is touched.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import pg from 'pg';
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { startTestServer } from '../test/support/server.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const N = Number(arg('--n') ?? 1000);

// Every query of every pg client in this process is counted (the server's included).
let queries = 0;
const query = pg.Client.prototype.query;
(pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown }).query = function (this: pg.Client, ...a: unknown[]) {
  queries++;
  return (query as (...x: unknown[]) => unknown).apply(this, a);
};

/** CPU ticks (user + system) of every process whose command line names postgres. */
async function postgresTicks(): Promise<number> {
  const pids = (await execa('pgrep', ['-f', 'postgres'], { reject: false })).stdout.split('\n').filter(Boolean);
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks;
}

async function main(): Promise<void> {
  const s = await startTestServer({ NETWORK_BACKEND: 'noop' });
  const ec2 = new EC2Client({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
    const id = (await ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    const describe = () => ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    for (let i = 0; i < 100; i++) await describe(); // warm-up: JIT, connections, prepared statements
    const q0 = queries;
    const pg0 = await postgresTicks();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await describe();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const pgMs = ((await postgresTicks()) - pg0) * (1000 / 100); // USER_HZ = 100
    const per = (x: number) => (x / N).toFixed(2);
    console.log(`DescribeInstances (1 instance by id), ${N} calls one after the other:`);
    console.log(`  wall ${per(wall)} ms, this process's CPU ${per((cpu.user + cpu.system) / 1000)} ms, PostgreSQL CPU ${per(pgMs)} ms, SQL queries ${per(queries - q0)} per call`);
  } finally {
    ec2.destroy();
    await s.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
