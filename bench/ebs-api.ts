/**
 * EBS through the API on the real hosts (STORAGE_BACKEND=lvm; COMPUTE_BACKEND=docker for attach): how long a
 * user waits, polling DescribeVolumes/DescribeSnapshots every 50 ms, beside the raw lvcreate on the same storage
 * host in the same run. Prints numbers (median and max of N), asserts nothing.
 *
 *   flock /tmp/thecloud-host.lock npx tsx bench/ebs-api.ts [--n 5]
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand, DeleteVolumeCommand, DescribeImagesCommand,
  DescribeSnapshotsCommand, DescribeVolumesCommand, DetachVolumeCommand, RunInstancesCommand, TerminateInstancesCommand,
  waitUntilInstanceRunning, waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { startTestServer, stopCluster } from '../test/support/server.js';
import { sdk } from '../test/support/clients.js';
import { hex, testStorage } from '../test/support/storage.js';

const N = Number(process.argv[process.argv.indexOf('--n') + 1] || 5) || 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms (n=${s.length})`;
};

async function main(): Promise<void> {
  const s = await startTestServer({ COMPUTE_BACKEND: 'docker', STORAGE_BACKEND: 'lvm' });
  const ec2 = sdk(s.url);
  const c = new pg.Client({ connectionString: s.databaseUrl });
  await c.connect();
  const cloudId = (await c.query('SELECT id FROM installation')).rows[0].id as string;
  await c.end();
  const t = testStorage();
  const until = async (volumeId: string, ok: (v: any) => boolean) => {
    for (;;) {
      const v = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!;
      if (ok(v)) return;
      if (v.State === 'error') throw new Error(`${volumeId} went to error`);
      await sleep(50);
    }
  };
  let instanceId: string | undefined;
  try {
    const raw: number[] = [];
    for (let i = 0; i < N; i++) {
      const name = `bench-${hex(8)}`;
      const t0 = performance.now();
      await t.host.run('lvcreate', ['-q', '-V', '1g', '-T', `${t.vg}/thecloud-pool`, '-n', name]);
      raw.push(performance.now() - t0);
      await t.host.run('lvremove', ['-q', '-y', `${t.vg}/${name}`]);
    }
    const ami = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!.ImageId;
    const inst = (await ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    instanceId = inst.InstanceId!;
    const zone = inst.Placement!.AvailabilityZone!;
    await waitUntilInstanceRunning({ client: ec2, minDelay: 1, maxWaitTime: 120 }, { InstanceIds: [instanceId] });

    const create: number[] = [], attach: number[] = [], detach: number[] = [], snap: number[] = [], del: number[] = [];
    for (let i = 0; i < N; i++) {
      let t0 = performance.now();
      const v = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1 }))).VolumeId!;
      await until(v, (x) => x.State === 'available');
      create.push(performance.now() - t0);
      t0 = performance.now();
      await ec2.send(new AttachVolumeCommand({ VolumeId: v, InstanceId: instanceId, Device: '/dev/sdf' }));
      await until(v, (x) => x.Attachments?.[0]?.State === 'attached');
      attach.push(performance.now() - t0);
      t0 = performance.now();
      const sid = (await ec2.send(new CreateSnapshotCommand({ VolumeId: v }))).SnapshotId!;
      for (;;) {
        const st = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [sid] }))).Snapshots![0]!.State;
        if (st === 'completed') break;
        await sleep(50);
      }
      snap.push(performance.now() - t0);
      t0 = performance.now();
      await ec2.send(new DetachVolumeCommand({ VolumeId: v }));
      await until(v, (x) => x.State === 'available');
      detach.push(performance.now() - t0);
      t0 = performance.now();
      await ec2.send(new DeleteVolumeCommand({ VolumeId: v }));
      await until(v, (x) => x.State === 'deleted');
      del.push(performance.now() - t0);
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: sid }));
    }
    console.log(`raw lvcreate -V 1g -T (same storage host)   ${stats(raw)}`);
    console.log(`CreateVolume -> available (1 GiB)            ${stats(create)}`);
    console.log(`AttachVolume -> attached (Docker, NBD chain) ${stats(attach)}`);
    console.log(`CreateSnapshot -> completed (attached vol)   ${stats(snap)}`);
    console.log(`DetachVolume -> available                    ${stats(detach)}`);
    console.log(`DeleteVolume -> deleted                      ${stats(del)}`);
  } finally {
    if (instanceId) {
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })).catch(() => undefined);
      await waitUntilInstanceTerminated({ client: ec2, minDelay: 1, maxWaitTime: 120 }, { InstanceIds: [instanceId] }).catch(() => undefined);
    }
    await s.close();
    await testStorage(cloudId).cleanup();
    await stopCluster();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
