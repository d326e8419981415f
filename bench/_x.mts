import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { DescribeImagesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { startTestServer } from '../test/support/server.js';
let queries: string[] = [];
const query = pg.Client.prototype.query;
(pg.Client.prototype as any).query = function (this: pg.Client, ...a: any[]) {
  const q = a[0]; queries.push(typeof q === 'string' ? q : q?.text ?? q?.name ?? '?');
  return (query as any).apply(this, a);
};
const s = await startTestServer({ NETWORK_BACKEND: 'noop', COMPUTE_BACKEND: 'noop' });
const ec2 = new EC2Client({ endpoint: s.url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0]!.ImageId!;
const times: number[] = [];
for (let i = 0; i < 30; i++) {
  await new Promise((r) => setTimeout(r, 150));
  queries = [];
  const t0 = performance.now();
  const id = (await ec2.send(new RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
  times.push(performance.now() - t0);
  const n = queries.length;
  if (i === 29) { console.log(queries.map((q) => q.replace(/\s+/g, ' ').slice(0, 150)).join('\n')); }
  if (i >= 25) console.log('run', times.at(-1)!.toFixed(1), 'ms; queries during call', n);
  await new Promise((r) => setTimeout(r, 300));
  if (i === 29) console.log('queries incl. after (300ms)', queries.length);
}
times.sort((a, b) => a - b); console.log('median', times[15]!.toFixed(1));
ec2.destroy(); await s.close(); process.exit(0);
