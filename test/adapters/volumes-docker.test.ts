/**
 * The EBS data path into Docker containers, end to end on the real hosts: a volume on the storage host (LVM),
 * exported over NBD, hot-attached to a running container as /dev/sdf (and /dev/xvdf), written there, kept across
 * stop/start and detach/attach, snapshotted, the volume deleted, restored into a new volume, attached to another
 * container and read back equal (checksums). Detach leaves no loop device, FUSE mount or daemon behind.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import Docker from 'dockerode';
import { DockerComputeBackend } from '../../src/adapters/docker/index.js';
import { demuxLogs } from '../../src/adapters/docker/logs.js';
import { run } from '../../src/adapters/exec/index.js';
import type { InstanceSpec } from '../../src/ports/index.js';
import { needBackend } from '../support/backends.js';
import { hex, snapId, testStorage, volId } from '../support/storage.js';

const BASE = 'thecloud/busybox:latest';
const VOLUME_DIR = `/run/thecloud/test-volumes-${hex(8)}`;

describe('EBS volumes in Docker containers (real LVM + Docker)', function () {
  const docker = new Docker();
  const compute = new DockerComputeBackend({ volumeDir: VOLUME_DIR });
  const t = testStorage();
  const storage = t.backend;
  const containers: string[] = [];

  before(async function () {
    await needBackend(this, 'lvm', () => storage.probe());
    await needBackend(this, 'docker', () => compute.probe());
  });
  after(async () => {
    for (const id of containers) await compute.destroy(id).catch(() => undefined);
    await t.cleanup();
    await rm(VOLUME_DIR, { recursive: true, force: true });
  });

  async function launch(): Promise<string> {
    const spec: InstanceSpec = { instanceId: `i-${hex(17)}`, accountId: '000000000000', imageRef: BASE, vcpus: 1, memoryMiB: 128, hostname: `ip-${hex(6)}`, publicKeys: [] };
    const { backendId } = await compute.create(spec);
    containers.push(backendId);
    await compute.start(backendId); // create makes, start runs
    return backendId;
  }

  /** Runs a shell command inside the container; returns its output (stdout and stderr). */
  async function sh(id: string, script: string): Promise<{ out: string; code: number }> {
    const exec = await docker.getContainer(id).exec({ Cmd: ['/bin/sh', '-c', script], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({});
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    return { out: demuxLogs(Buffer.concat(chunks)), code: (await exec.inspect()).ExitCode ?? -1 };
  }

  /** Nothing of the volume's local chain is left on this host. */
  async function assertReleased(volumeId: string): Promise<void> {
    const loops = (await run('losetup', ['-a'])).stdout;
    assert.ok(!loops.includes(volumeId), `a loop device is left for ${volumeId}: ${loops}`);
    assert.ok(!(await readFile('/proc/self/mountinfo', 'utf8')).includes(volumeId), 'a FUSE mount is left');
    const daemons = (await run('ps', ['-eo', 'args'])).stdout.split('\n').filter((l) => l.includes('qemu-storage-daemon') && l.includes(volumeId));
    assert.deepEqual(daemons, [], 'a qemu-storage-daemon is left');
  }

  it('writes through an attached volume, keeps it across stop/start, and reads it back after snapshot + restore elsewhere', async () => {
    const vol = volId();
    await storage.createVolume(vol, 1);
    const first = await launch();
    const exp = await storage.export(vol, 'compute-1');
    await compute.attachVolume(first, { volumeId: vol, deviceName: '/dev/sdf', export: exp });

    const nodes = await sh(first, 'ls -l /dev/sdf /dev/xvdf');
    assert.match(nodes.out, /^b.* \/dev\/sdf$/m, nodes.out);
    assert.match(nodes.out, /^b.* \/dev\/xvdf$/m, nodes.out);
    const write = await sh(first, 'dd if=/dev/urandom of=/tmp/data bs=1M count=2 2>/dev/null && dd if=/tmp/data of=/dev/xvdf bs=1M conv=fsync 2>/dev/null && md5sum </tmp/data');
    assert.equal(write.code, 0, write.out);
    const written = write.out.trim().split(/\s+/)[0]!;
    const readBack = async (id: string, dev: string) => (await sh(id, `dd if=${dev} bs=1M count=2 2>/dev/null | md5sum`)).out.trim().split(/\s+/)[0];
    assert.equal(await readBack(first, '/dev/sdf'), written);

    // Stop/start: a new container process, plugged again; the bytes are still there.
    await compute.stop(first, { force: true });
    await compute.start(first);
    assert.equal(await readBack(first, '/dev/sdf'), written, 'the data did not survive stop/start');

    // Detach: the device goes away inside the running container, and nothing is left on the host.
    await compute.detachVolume(first, vol);
    assert.notEqual((await sh(first, 'test -b /dev/sdf')).code, 0, '/dev/sdf is still in the container');
    await assertReleased(vol);

    // Snapshot, delete the volume, restore into a new one, attach it to another running container.
    await storage.unexport(vol);
    const snap = snapId();
    await storage.createSnapshot(vol, snap);
    await storage.deleteVolume(vol);
    const restored = volId();
    await storage.createVolume(restored, 1, { snapshotId: snap });
    const second = await launch();
    await compute.attachVolume(second, { volumeId: restored, deviceName: '/dev/xvdg', export: await storage.export(restored, 'compute-1') });
    assert.equal(await readBack(second, '/dev/xvdg'), written, 'the restored volume does not hold the bytes written');
    assert.equal(await readBack(second, '/dev/sdg'), written);
    // The first container cannot reach it.
    assert.notEqual((await sh(first, 'test -b /dev/sdg || test -b /dev/xvdg')).code, 0);

    // Destroying the container releases what it held.
    await compute.destroy(second);
    await assertReleased(restored);
    await storage.unexport(restored);
  });
});
