/**
 * `npm run doctor` lists what another installation left on the host (here: a Docker container and the subnet
 * network it holds, and the directory of its containers' first-boot files, made for another installation id), leaves this installation's objects out, and removes the
 * other's only when told to by name.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import Docker from 'dockerode';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { needBackend } from '../support/backends.js';
import { useTestServer } from '../support/use-server.js';
import { DescribeImagesCommand, RunInstancesCommand, TerminateInstancesCommand, waitUntilInstanceRunning, waitUntilInstanceTerminated } from '@aws-sdk/client-ec2';

/** The default THECLOUD_DOCKER_BOOT_DIR: one directory per installation id. */
const BOOT_ROOT = '/var/lib/thecloud/docker-boot';
const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n);

describe('doctor: leftovers of other installations', function () {
  this.timeout(180_000);
  const docker = new Docker();
  const other = hex(32);
  const instanceId = `i-${hex(17)}`;
  const subnetId = `subnet-${hex(17)}`;
  const otherBootDir = join(BOOT_ROOT, other);
  let ownContainer: string | undefined;

  const t = useTestServer({
    env: { COMPUTE_BACKEND: 'docker' },
    requires: (ctx) => needBackend(ctx, 'docker', () => new DockerComputeBackend().probe()),
    beforeClose: async ({ ec2 }) => {
      if (!ownContainer) return;
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [ownContainer] })).catch(() => undefined);
      await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [ownContainer] }).catch(() => undefined);
    },
  });
  before(async () => {
    const octet = 200 + (randomBytes(1)[0]! % 50);
    // What an installation of an earlier version left: a container on its subnet's Docker network (instances now
    // have no Docker network; doctor still finds and removes these).
    await docker.createNetwork({
      Name: `thecloud-${subnetId}`, Driver: 'bridge', Labels: { 'thecloud.managed': 'true', 'thecloud.subnet-id': subnetId },
      IPAM: { Config: [{ Subnet: `10.251.${octet}.0/24`, Gateway: `10.251.${octet}.1` }] },
    });
    await docker.createContainer({
      name: instanceId, Image: 'thecloud/busybox:latest', Cmd: ['sleep', '1000'],
      Labels: { 'thecloud.managed': 'true', 'thecloud.cloud-id': other, 'thecloud.instance-id': instanceId, 'thecloud.account-id': '000000000000', 'thecloud.subnet-id': subnetId },
      HostConfig: { NetworkMode: `thecloud-${subnetId}` },
    });
    // And the directory of its containers' first-boot files (src/adapters/docker/boot.ts).
    mkdirSync(join(otherBootDir, instanceId), { recursive: true });
    // This installation's own instance, which doctor must not list.
    const { ec2 } = t;
    const image = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['thecloud-busybox'] }] }))).Images![0]!;
    ownContainer = (await ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { InstanceIds: [ownContainer] });
  });
  after(async () => {
    rmSync(otherBootDir, { recursive: true, force: true });
    await docker.getContainer(instanceId).remove({ force: true }).catch(() => undefined);
    await docker.getNetwork(`thecloud-${subnetId}`).remove().catch(() => undefined);
  });

  const doctor = (...args: string[]) =>
    execa(process.execPath, ['--import', 'tsx', 'src/main.ts', 'doctor', ...args], {
      env: { DATABASE_URL: t.s.databaseUrl, COMPUTE_BACKEND: 'docker', NETWORK_BACKEND: 'noop' },
      reject: false,
    });

  it('lists the other installation\'s container and network, with the command that removes them, and not ours', async () => {
    const r = await doctor();
    assert.match(r.stdout, /WARN leftovers of other installations/);
    const block = r.stdout.slice(r.stdout.indexOf(`installation ${other}`));
    assert.ok(r.stdout.includes(`installation ${other}`), r.stdout);
    assert.match(block, new RegExp(`docker-container\\s+${instanceId}`));
    assert.match(block, new RegExp(`docker-network\\s+thecloud-${subnetId}\\s+\\(${subnetId}\\) holds 10\\.251\\.`));
    assert.match(block, new RegExp(`docker-boot-dir\\s+${other}\\s.*1 instance directory in ${otherBootDir}`));
    assert.match(r.stdout, /npm run doctor -- --remove-leftovers <installation>/);
    assert.ok(!r.stdout.includes(ownContainer!), 'this installation\'s container is not a leftover');
    assert.ok(await docker.getContainer(instanceId).inspect().then(() => true, () => false), 'listing removed nothing');
  });

  it('refuses to remove this installation\'s objects', async () => {
    const cloudId = (await t.s.db.rows<{ id: string }>('SELECT id FROM installation'))[0]!.id;
    const r = await doctor('--remove-leftovers', cloudId);
    assert.equal(r.exitCode, 2);
    assert.match(r.stdout, /is this installation/);
  });

  it('--remove-leftovers <installation> removes that installation\'s container and network', async () => {
    const r = await doctor('--remove-leftovers', other);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`removed docker-container ${instanceId}`));
    assert.match(r.stdout, new RegExp(`removed docker-network thecloud-${subnetId}`));
    assert.equal(await docker.getContainer(instanceId).inspect().then(() => true, () => false), false);
    assert.equal(await docker.getNetwork(`thecloud-${subnetId}`).inspect().then(() => true, () => false), false);
    assert.match(r.stdout, new RegExp(`removed docker-boot-dir ${other}`));
    assert.equal(existsSync(otherBootDir), false);
    assert.ok(await docker.getContainer(ownContainer!).inspect().then(() => true, () => false), 'ours is still there');
    const cloudId = (await t.s.db.rows<{ id: string }>('SELECT id FROM installation'))[0]!.id;
    assert.ok(existsSync(join(BOOT_ROOT, cloudId, ownContainer!, 'init')), 'our instance\'s first-boot files are still there');
  });
});
