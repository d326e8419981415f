/**
 * Crash safety with real containers: the server process is killed (SIGKILL) while launches are in flight, and
 * an orphan container is left labelled for this installation with no record. After a restart on the same
 * database: every instance reaches running with exactly one container, the orphan is removed, and the
 * launch's ClientToken still answers with the same instances.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import Docker from 'dockerode';
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

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

describe('crash safety on the docker backend', function () {
  this.timeout(240_000);
  let dbUrl: string;
  let port: number;
  let child: ResultPromise | undefined;

  const start = async () => {
    // One process (not npx, which would leave the server running when killed).
    child = execa(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: dbUrl, COMPUTE_BACKEND: 'docker', NETWORK_BACKEND: 'noop', THECLOUD_RECONCILE_SECONDS: '1' },
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
    await needBackend(this, 'docker', () => new DockerComputeBackend().probe());
    dbUrl = await freshDatabase();
    port = await freePort();
  });
  after(async () => {
    child?.kill('SIGTERM');
    await child;
  });

  it('finishes interrupted launches, removes orphans and keeps ClientToken idempotent after SIGKILL', async () => {
    let ec2 = await start();
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    const token = `crash-${Date.now()}`;
    const run = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 4, MaxCount: 4, InstanceType: 't3.nano', ClientToken: token }));
    child!.kill('SIGKILL'); // launches are still in flight: some containers exist, some records lack them
    await child;
    const ids = run.Instances!.map((i) => i.InstanceId!).sort();

    // An orphan: a container labelled for this installation that no record knows.
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    const cloudId = (await client.query('SELECT id FROM installation')).rows[0].id as string;
    await client.end();
    const orphanId = 'i-0000000000000000f';
    const backend = new DockerComputeBackend({ cloudId });
    await backend.create({ instanceId: orphanId, accountId: '000000000000', imageRef: 'thecloud/busybox:latest', vcpus: 1, memoryMiB: 128, hostname: 'orphan', publicKeys: [] });

    ec2 = await start();
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 90, minDelay: 1, maxDelay: 2 }, { InstanceIds: ids });
    const again = await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 4, MaxCount: 4, InstanceType: 't3.nano', ClientToken: token }));
    assert.deepEqual(again.Instances!.map((i) => i.InstanceId!).sort(), ids, 'the ClientToken answers with the same instances');

    const docker = new Docker();
    const deadline = Date.now() + 30_000;
    let mine: Docker.ContainerInfo[] = [];
    for (;;) {
      mine = await docker.listContainers({ all: true, filters: { label: [`thecloud.cloud-id=${cloudId}`] } });
      if (!mine.some((c) => c.Labels['thecloud.instance-id'] === orphanId) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const perInstance = ids.map((id) => mine.filter((c) => c.Labels['thecloud.instance-id'] === id).length);
    assert.deepEqual(perInstance, [1, 1, 1, 1], 'exactly one container per instance');
    assert.ok(!mine.some((c) => c.Labels['thecloud.instance-id'] === orphanId), 'the orphan container was removed');

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 90, minDelay: 1, maxDelay: 2 }, { InstanceIds: ids });
    const left = await docker.listContainers({ all: true, filters: { label: [`thecloud.cloud-id=${cloudId}`] } });
    assert.equal(left.length, 0, 'nothing is leaked on terminate');
  });
});
