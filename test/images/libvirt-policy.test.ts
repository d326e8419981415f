/**
 * The image policy on the libvirt backend, as a second account meets it: host files outside the operator's
 * image directory (/etc/shadow, the data directory, the storage pool), reached directly, through `..`, a
 * symbolic link or a bind mount; a kernel directory outside it or with a file linked out of it; a disk image
 * that names other files (backing file, external data file, VMDK extents); another account's image by its
 * pool volume name. All refused with AWS's codes, the pool unchanged. Then imported
 * copies: one file imported twice shares one copy, which stays while an image or an instance uses it and
 * goes after the last DeregisterImage and the instance's end.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeregisterImageCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { run } from '../../src/adapters/exec/index.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { needBackend } from '../support/backends.js';
import { startTestServer, SECOND_ACCOUNT, type TestServer } from '../support/server.js';
import { sdk } from '../support/clients.js';
import { eventually } from '../support/eventually.js';

const URI = process.env.LIBVIRT_URI ?? 'qemu:///system';
const BUILTIN_KERNEL_DIR = '/var/lib/thecloud/images/thecloud-test';

describe('image policy on libvirt: what a second account may register', function () {
  this.timeout(300_000);
  let s: TestServer;
  let owner: EC2Client;
  let other: EC2Client;
  let root: string;
  let allowed: string;
  let data: string;
  let pool: string;
  let bound: string | undefined;
  const instances: string[] = [];
  const poolFiles = async () => (await readdir(pool)).sort();

  before(async function () {
    await needBackend(this, 'libvirt', () => new LibvirtComputeBackend().probe());
    root = await mkdtemp(join(tmpdir(), 'thecloud-libvirt-policy-'));
    allowed = join(root, 'images');
    data = join(root, 'data');
    await mkdir(join(data, 'postgres', 'global'), { recursive: true });
    await writeFile(join(data, 'postgres', 'global', 'pg_control'), 'the database');
    await mkdir(join(allowed, 'kernel-sneaky'), { recursive: true });
    await mkdir(join(allowed, 'bound'));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', join(allowed, 'user.qcow2'), '64M']);
    // Images that would make the copy read other files: a backing file, an external data file, VMDK extents.
    await run('qemu-img', ['create', '-q', '-u', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', join(allowed, 'backed.qcow2'), '1M']);
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${join(data, 'external.raw')}`, join(allowed, 'data-file.qcow2'), '1M']);
    await run('qemu-img', ['create', '-q', '-f', 'vmdk', join(allowed, 'disk.vmdk'), '1M']);
    await symlink('/etc/shadow', join(allowed, 'shadow-link'));
    await symlink(join(BUILTIN_KERNEL_DIR, 'vmlinuz'), join(allowed, 'kernel-sneaky', 'vmlinuz'));
    await symlink('/etc/shadow', join(allowed, 'kernel-sneaky', 'initrd.img'));
    s = await startTestServer({ COMPUTE_BACKEND: 'libvirt', THECLOUD_IMAGE_DIRS: allowed, THECLOUD_DATA_DIR: data, THECLOUD_RECONCILE_SECONDS: '1' });
    owner = sdk(s.url);
    other = sdk(s.url, SECOND_ACCOUNT);
    const xml = (await run('virsh', ['-c', URI, 'pool-dumpxml', 'thecloud'])).stdout;
    pool = /<path>([^<]+)<\/path>/.exec(xml)![1]!;
    await symlink(pool, join(allowed, 'pool-link'));
  });
  after(async () => {
    for (const id of instances) await other.send(new TerminateInstancesCommand({ InstanceIds: [id] })).catch(() => undefined);
    if (instances.length) await waitUntilInstanceTerminated({ client: other, maxWaitTime: 120, minDelay: 1, maxDelay: 2 }, { InstanceIds: instances }).catch(() => undefined);
    if (bound) await run('umount', [bound], { allowFailure: true });
    await s?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const register = async (ec2: EC2Client, name: string, location: string) =>
    (await ec2.send(new RegisterImageCommand({ Name: name, ImageLocation: location }))).ImageId!;
  const refused = (location: string, code: string, message: RegExp) =>
    assert.rejects(register(other, `try-${Math.random().toString(36).slice(2, 8)}`, location), (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, code, `${location}: ${e.message}`);
      assert.equal(e.$metadata?.httpStatusCode, 400);
      assert.match(e.message, message, location);
      return true;
    });
  let ownerImage: string;
  let importVolume: string;

  it('refuses host files, kernel directories and pool volumes outside the policy, and copies nothing', async () => {
    const poolBefore = await poolFiles();
    ownerImage = await register(owner, 'owner-disk', join(allowed, 'user.qcow2'));
    const added = (await poolFiles()).filter((f) => !poolBefore.includes(f));
    assert.equal(added.length, 1, `one copy imported: ${added.join(', ')}`);
    importVolume = added[0]!;
    assert.match(importVolume, /^import-[0-9a-f]+\.qcow2$/);
    const poolAfterImport = await poolFiles();

    const outside = /Images may be registered only from the operator's image directories/;
    const ours = /never importable/;
    await refused('/etc/shadow', 'InvalidParameterValue', outside);
    await refused(join(allowed, 'shadow-link'), 'InvalidParameterValue', ours);
    await refused(join(data, 'postgres', 'global', 'pg_control'), 'InvalidParameterValue', outside);
    await refused(`${allowed}/../data/postgres/global/pg_control`, 'InvalidParameterValue', outside);
    await refused(join(pool, importVolume), 'InvalidParameterValue', outside);
    await refused(join(allowed, 'pool-link', importVolume), 'InvalidParameterValue', ours);
    await refused(`kernel:${BUILTIN_KERNEL_DIR}`, 'InvalidParameterValue', outside);
    await refused(BUILTIN_KERNEL_DIR, 'InvalidParameterValue', outside);
    await refused(`kernel:${join(allowed, 'kernel-sneaky')}`, 'InvalidParameterValue', /only from|never importable/);
    // Another account's images by their pool volume names: its import, a capture's name, an instance's disk.
    await refused(`disk:${importVolume}`, 'AuthFailure', /Not authorized for image location/);
    await refused(`disk:img-${ownerImage}.qcow2`, 'AuthFailure', /Not authorized/);
    await refused(`kernel:${BUILTIN_KERNEL_DIR}:img-${ownerImage}.qcow2`, 'AuthFailure', /Not authorized/);
    await refused('disk:i-0123456789abcdef0-root.qcow2', 'AuthFailure', /Not authorized/);

    // Allowed files that name other files: the copy would read those.
    await refused(join(allowed, 'backed.qcow2'), 'InvalidParameterValue', /has a backing file/);
    await refused(join(allowed, 'data-file.qcow2'), 'InvalidParameterValue', /external file/);
    await refused(join(allowed, 'disk.vmdk'), 'InvalidParameterValue', /is a vmdk image/);

    // The data directory bind-mounted into the allowed one: the same files, still refused.
    bound = join(allowed, 'bound');
    await run('mount', ['--bind', data, bound]);
    try {
      await refused(join(bound, 'postgres', 'global', 'pg_control'), 'InvalidParameterValue', ours);
    } finally {
      await run('umount', [bound]);
      bound = undefined;
    }

    assert.deepEqual(await poolFiles(), poolAfterImport, 'the pool is unchanged');
  });

  it('keeps a shared imported copy while an image or an instance uses it, and removes it after', async () => {
    const poolBefore = await poolFiles();
    const mine = await register(other, 'mine', join(allowed, 'user.qcow2'));
    assert.deepEqual(await poolFiles(), poolBefore, 'the same file imported again reuses its copy');
    await owner.send(new DeregisterImageCommand({ ImageId: ownerImage }));
    assert.ok((await poolFiles()).includes(importVolume), "the copy stays: the second account's image uses it");

    const id = (await other.send(new RunInstancesCommand({ ImageId: mine, MinCount: 1, MaxCount: 1, InstanceType: 't2.micro' }))).Instances![0]!.InstanceId!;
    instances.push(id);
    await waitUntilInstanceRunning({ client: other, maxWaitTime: 180, minDelay: 1, maxDelay: 2 }, { InstanceIds: [id] });
    await other.send(new DeregisterImageCommand({ ImageId: mine }));
    assert.ok((await poolFiles()).includes(importVolume), 'the copy stays: an instance still runs on it');

    await other.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: other, maxWaitTime: 180, minDelay: 1, maxDelay: 2 }, { InstanceIds: [id] });
    await eventually('the imported copy to go', async () => !(await poolFiles()).includes(importVolume), 60_000);
    assert.ok(!(await poolFiles()).some((f) => f.startsWith(id)), "the instance's own volumes are gone too");
  });
});
