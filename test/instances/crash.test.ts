/**
 * Crash safety with real backends: the server process is killed (SIGKILL) while launches are in flight, and
 * an orphan (a container or domain marked for this installation, with no record) is left on the host. After a
 * restart on the same database: every instance reaches running with exactly one backend object, the orphan is
 * removed, and the launch's ClientToken still answers with the same instances. Backend objects are counted
 * through the adapter's own list(), which the adapter tests check against `docker` and `virsh`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import pg from 'pg';
import {
  RunInstancesCommand,
  DescribeImagesCommand,
  DescribeRegionsCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from '@aws-sdk/client-ec2';
import { needBackend } from '../support/backends.js';
import { freshDatabase } from '../support/server.js';
import { sdk } from '../support/clients.js';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import type { ComputeBackend } from '../../src/ports/index.js';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface CrashCase {
  backend: 'docker' | 'libvirt';
  imageName: string;
  imageRef: string;
  count: number;
  adapter: (cloudId?: string) => ComputeBackend;
}

const CASES: CrashCase[] = [
  { backend: 'docker', imageName: 'thecloud-busybox', imageRef: 'thecloud/busybox:latest', count: 4, adapter: (cloudId) => new DockerComputeBackend({ cloudId }) },
  { backend: 'libvirt', imageName: 'thecloud-tiny-vm', imageRef: 'kernel:/var/lib/thecloud/images/thecloud-test', count: 2, adapter: (cloudId) => new LibvirtComputeBackend({ cloudId }) },
];

for (const c of CASES) describe(`crash safety on the ${c.backend} backend`, function () {
  this.timeout(300_000);
  let dbUrl: string;
  let port: number;
  let child: ResultPromise | undefined;

  const start = async () => {
    // One process (not npx, which would leave the server running when killed).
    child = execa(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: dbUrl, COMPUTE_BACKEND: c.backend, NETWORK_BACKEND: 'noop', THECLOUD_RECONCILE_SECONDS: '1' },
      reject: false,
      stdio: 'ignore',
    });
    const ec2 = sdk(`http://127.0.0.1:${port}`);
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        await ec2.send(new DescribeRegionsCommand({}));
        return ec2;
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  };

  before(async function () {
    await needBackend(this, c.backend, () => c.adapter().probe());
    dbUrl = await freshDatabase();
    port = await freePort();
  });
  after(async () => {
    child?.kill('SIGTERM');
    await child;
  });

  it('finishes interrupted launches, removes orphans and keeps ClientToken idempotent after SIGKILL', async () => {
    let ec2 = await start();
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: [c.imageName] }] }))).Images![0]!;
    const token = `crash-${Date.now()}`;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: c.count, MaxCount: c.count, InstanceType: 't3.nano', ClientToken: token }));
    child!.kill('SIGKILL'); // launches are still in flight: some containers exist, some records lack them
    await child;
    const ids = run.Instances!.map((i) => i.InstanceId!).sort();

    // An orphan: a container labelled for this installation that no record knows.
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    const cloudId = (await client.query('SELECT id FROM installation')).rows[0].id as string;
    await client.end();
    const orphanId = 'i-0000000000000000f';
    const backend = c.adapter(cloudId);
    await backend.create({ instanceId: orphanId, accountId: '000000000000', imageRef: c.imageRef, vcpus: 1, memoryMiB: 256, hostname: 'orphan', publicKeys: [] });

    ec2 = await start();
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 180, minDelay: 1, maxDelay: 2 }, { InstanceIds: ids });
    const again = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: c.count, MaxCount: c.count, InstanceType: 't3.nano', ClientToken: token }));
    assert.deepEqual(again.Instances!.map((i) => i.InstanceId!).sort(), ids, 'the ClientToken answers with the same instances');

    const deadline = Date.now() + 60_000;
    let mine = await backend.list();
    while (mine.some((o) => o.instanceId === orphanId) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      mine = await backend.list();
    }
    const perInstance = ids.map((id) => mine.filter((o) => o.instanceId === id).length);
    assert.deepEqual(perInstance, ids.map(() => 1), 'exactly one backend object per instance');
    assert.ok(!mine.some((o) => o.instanceId === orphanId), 'the orphan was removed');

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 180, minDelay: 1, maxDelay: 2 }, { InstanceIds: ids });
    assert.deepEqual(await backend.list(), [], 'nothing is leaked on terminate');
  });
});
