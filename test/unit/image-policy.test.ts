/**
 * The image policy without a backend: Docker names as the policy sees them, bind mounts as mountinfo tells,
 * launch permission changes, and ImagePolicy itself on a scratch tree of real files and symbolic links
 * (with the libvirt adapter's location grammar; nothing of libvirt is called).
 */
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ec2Error } from '../../src/errors/index.js';
import { dockerImageSource, exactReference, parseReference } from '../../src/adapters/docker/reference.js';
import { LibvirtComputeBackend } from '../../src/adapters/libvirt/index.js';
import { LocalHostFiles, locate, parseMountInfo } from '../../src/adapters/host/files.js';
import { ImagePolicy, dockerPattern } from '../../src/services/images/policy.js';
import { describeScope, launchPermissionChange } from '../../src/services/images/sharing.js';
import type { ComputeBackend, HostFiles } from '../../src/ports/index.js';
import { loadConfig, ConfigError } from '../../src/config/index.js';

const ec2Code = (code: string) => (e: unknown) => e instanceof Ec2Error && e.code === code;

describe('image policy: Docker names', () => {
  it('normalizes references as Docker does, and always looks one up by tag or digest', () => {
    const cases: [string, string, string][] = [
      ['busybox', 'docker.io/library/busybox', 'docker.io/library/busybox:latest'],
      ['busybox:1.36', 'docker.io/library/busybox', 'docker.io/library/busybox:1.36'],
      ['thecloud/busybox:latest', 'docker.io/thecloud/busybox', 'docker.io/thecloud/busybox:latest'],
      ['index.docker.io/library/alpine:3', 'docker.io/library/alpine', 'docker.io/library/alpine:3'],
      ['127.0.0.1:5000/thecloud/busybox', '127.0.0.1:5000/thecloud/busybox', '127.0.0.1:5000/thecloud/busybox:latest'],
      ['localhost/team/web:1', 'localhost/team/web', 'localhost/team/web:1'],
      [`alpine@sha256:${'a'.repeat(64)}`, 'docker.io/library/alpine', `docker.io/library/alpine@sha256:${'a'.repeat(64)}`],
      // A bare hexadecimal name would be read by Docker as an image id prefix: with a tag it no longer is.
      ['2ab1e0cd3bc4', 'docker.io/library/2ab1e0cd3bc4', 'docker.io/library/2ab1e0cd3bc4:latest'],
    ];
    for (const [ref, name, exact] of cases) {
      assert.equal(parseReference(ref).name, name, ref);
      assert.equal(exactReference(parseReference(ref)), exact, ref);
    }
  });

  it('tells registry images from captured images and image ids', () => {
    assert.deepEqual(dockerImageSource('docker:busybox'), { kind: 'registry', name: 'docker.io/library/busybox', location: 'docker.io/library/busybox:latest' });
    for (const captured of ['thecloud/ami:ami-0123456789abcdef0', 'docker:docker.io/thecloud/ami:ami-0123456789abcdef0', 'index.docker.io/thecloud/ami']) {
      assert.equal(dockerImageSource(captured).kind, 'backend-image', captured);
    }
    assert.equal(dockerImageSource(`sha256:${'b'.repeat(64)}`).kind, 'host-image');
    assert.throws(() => dockerImageSource('/etc/shadow'), TypeError);
  });

  it('matches patterns: * within a path component, ** across, a bare registry for all of it', () => {
    const p = (pattern: string, name: string) => dockerPattern(pattern).test(name);
    assert.ok(p('docker.io/library/*', 'docker.io/library/busybox'));
    assert.ok(!p('docker.io/library/*', 'docker.io/library/x/y'));
    assert.ok(!p('docker.io/library/*', 'docker.io/thecloud/ami'));
    assert.ok(p('127.0.0.1:5000', '127.0.0.1:5000/thecloud/busybox'));
    assert.ok(!p('127.0.0.1:5000', '127.0.0.1:50000/thecloud/busybox'));
    assert.ok(p('registry.example/team/**', 'registry.example/team/a/b'));
    assert.ok(!p('registry.example/team/**', 'registry.example/teams/a'));
    assert.ok(!p('docker.io/library/*', 'evil.io/docker.io/library/x'));
  });
});

describe('image policy: bind mounts', () => {
  const mountinfo = [
    '22 27 0:21 / /proc rw,relatime - proc proc rw',
    '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
    '47 27 254:0 /var/lib/thecloud/pool /srv/images/bound rw,relatime - ext4 /dev/vda rw',
    '48 27 254:16 / /srv/images/disk2 rw - ext4 /dev/vdb rw',
    '49 27 254:0 /var/lib/my\\040dir /mnt/spaced rw - ext4 /dev/vda rw',
  ].join('\n');
  const mounts = parseMountInfo(mountinfo);

  it('names a path by its filesystem and the path inside it, whichever mount it is reached through', () => {
    assert.deepEqual(locate('/srv/images/bound/import-1.qcow2', mounts), { device: '254:0', fsPath: '/var/lib/thecloud/pool/import-1.qcow2' });
    assert.deepEqual(locate('/srv/images/bound', mounts), { device: '254:0', fsPath: '/var/lib/thecloud/pool' });
    assert.deepEqual(locate('/var/lib/thecloud/pool/x', mounts), { device: '254:0', fsPath: '/var/lib/thecloud/pool/x' });
    assert.deepEqual(locate('/srv/images/disk2/a.qcow2', mounts), { device: '254:16', fsPath: '/a.qcow2' });
    assert.deepEqual(locate('/srv/images/bounded', mounts), { device: '254:0', fsPath: '/srv/images/bounded' });
    assert.deepEqual(locate('/mnt/spaced/f', mounts), { device: '254:0', fsPath: '/var/lib/my dir/f' });
    assert.deepEqual(locate('/proc/self/environ', mounts), { device: '0:21', fsPath: '/self/environ' });
  });
});

describe('image policy: launch permissions and DescribeImages selections', () => {
  it('nets out a change and checks its items as AWS does', () => {
    assert.deepEqual(launchPermissionChange([{ UserId: '111111111111' }, { Group: 'all' }], []), { add: ['111111111111'], remove: [], public: true });
    assert.deepEqual(launchPermissionChange([{ UserId: '111111111111' }], [{ UserId: '111111111111' }, { Group: 'all' }]), { add: [], remove: ['111111111111'], public: false });
    assert.throws(() => launchPermissionChange([{ UserId: '1234' }], []), ec2Code('InvalidAMIAttributeItemValue'));
    assert.throws(() => launchPermissionChange([{ Group: 'everyone' }], []), ec2Code('InvalidAMIAttributeItemValue'));
    assert.throws(() => launchPermissionChange([{ OrganizationArn: 'arn:aws:organizations::1:organization/o-1' }], []), ec2Code('UnsupportedOperation'));
  });

  it('reads Owners and ExecutableUsers', () => {
    assert.deepEqual(describeScope('000000000000', ['self', '111111111111', 'amazon']), {
      owners: { accountIds: ['000000000000', '111111111111'], aliases: ['amazon', 'thecloud'] },
    });
    assert.deepEqual(describeScope('000000000000', undefined, ['self', 'all', '111111111111']), {
      executableBy: { public: true, caller: true, accounts: ['111111111111'] },
    });
    assert.throws(() => describeScope('000000000000', undefined, ['everyone']), ec2Code('InvalidUserID.Malformed'));
  });
});

describe('image policy: configuration', () => {
  it('defaults to the built-in image directory, official Docker Hub images and no admin', () => {
    assert.deepEqual(loadConfig({}).imagePolicy, { directories: ['/var/lib/thecloud/images'], dockerImages: ['docker.io/library/*'], adminAccountId: undefined });
    assert.deepEqual(loadConfig({ THECLOUD_IMAGE_DIRS: 'none', THECLOUD_DOCKER_IMAGES: 'none' }).imagePolicy.directories, []);
  });

  it('refuses relative directories and an admin that is not a configured account', () => {
    assert.throws(() => loadConfig({ THECLOUD_IMAGE_DIRS: 'images' }), (e: unknown) => e instanceof ConfigError && /THECLOUD_IMAGE_DIRS entry "images"/.test((e as Error).message));
    assert.throws(() => loadConfig({ THECLOUD_ADMIN_ACCOUNT: '123456789012' }), (e: unknown) => e instanceof ConfigError && /THECLOUD_ADMIN_ACCOUNT/.test((e as Error).message));
    assert.equal(loadConfig({ THECLOUD_ACCOUNTS: '123456789012:ak:sk', THECLOUD_ADMIN_ACCOUNT: '123456789012' }).imagePolicy.adminAccountId, '123456789012');
  });
});

describe('image policy: host paths', () => {
  const ACCOUNT = '111111111111';
  const ADMIN = '222222222222';
  let root: string;
  let allowed: string;
  let data: string;
  let pool: string;
  let elsewhere: string;
  const libvirt = new LibvirtComputeBackend();
  let policy: (files?: HostFiles) => ImagePolicy;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'thecloud-policy-'));
    [allowed, data, pool, elsewhere] = ['images', 'data', 'pool', 'elsewhere'].map((d) => join(root, d)) as [string, string, string, string];
    for (const d of [allowed, data, pool, elsewhere, join(allowed, 'kernel'), join(allowed, 'sneaky-kernel')]) await mkdir(d, { recursive: true });
    await writeFile(join(allowed, 'disk.qcow2'), 'not really a disk');
    await writeFile(join(elsewhere, 'secret'), 'secret');
    await writeFile(join(data, 'pg_control'), 'db');
    await writeFile(join(pool, 'i-0123456789abcdef0-root.qcow2'), 'someone else disk');
    await symlink(join(elsewhere, 'secret'), join(allowed, 'link-out'));
    await symlink(pool, join(allowed, 'pool-link'));
    await symlink(data, join(allowed, 'data-link'));
    for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(allowed, 'kernel', f), f);
    await writeFile(join(allowed, 'sneaky-kernel', 'vmlinuz'), 'k');
    await symlink(join(elsewhere, 'secret'), join(allowed, 'sneaky-kernel', 'initrd.img'));
    const compute = {
      parseImageLocation: (l: string) => libvirt.parseImageLocation(l),
      ownDirectories: async () => [pool],
    } as unknown as ComputeBackend;
    policy = (files = new LocalHostFiles()) =>
      new ImagePolicy({ config: { directories: [allowed], dockerImages: [], adminAccountId: ADMIN }, dataDir: data, compute, files });
  });
  after(async () => rm(root, { recursive: true, force: true }));

  const refused = async (p: ImagePolicy, account: string, location: string, code = 'InvalidParameterValue', message?: RegExp) =>
    assert.rejects(p.admit(account, location), (e: unknown) => e instanceof Ec2Error && e.code === code && (!message || message.test(e.message)), location);

  it('admits files and kernel directories in the allowed directories, resolved', async () => {
    assert.equal(await policy().admit(ACCOUNT, join(allowed, 'disk.qcow2')), join(allowed, 'disk.qcow2'));
    assert.equal(await policy().admit(ACCOUNT, `kernel:${join(allowed, 'kernel')}`), join(allowed, 'kernel'));
    assert.equal(await policy().admit(ACCOUNT, join(allowed, 'kernel', '..', 'disk.qcow2')), join(allowed, 'disk.qcow2'));
  });

  it('refuses paths outside them, whatever route they take: as written, through .., through a symbolic link', async () => {
    await refused(policy(), ACCOUNT, '/etc/shadow', 'InvalidParameterValue', /only from the operator's image directories/);
    await refused(policy(), ACCOUNT, join(allowed, '..', 'elsewhere', 'secret'));
    await refused(policy(), ACCOUNT, join(allowed, 'link-out'), 'InvalidParameterValue', /only from the operator's image directories/);
    await refused(policy(), ACCOUNT, `kernel:${join(allowed, 'sneaky-kernel')}`, 'InvalidParameterValue', /only from/);
    await refused(policy(), ACCOUNT, `kernel:${join(allowed, 'disk.qcow2')}`, 'InvalidParameterValue', /names a directory/);
    await refused(policy(), ACCOUNT, join(allowed, 'nothing-here'), 'InvalidParameterValue', /no such file/);
  });

  it("never admits the cloud's own files, not even to the admin, not even inside an allowed directory", async () => {
    for (const account of [ACCOUNT, ADMIN]) {
      await refused(policy(), account, join(allowed, 'pool-link', 'i-0123456789abcdef0-root.qcow2'), 'InvalidParameterValue', /never importable/);
      await refused(policy(), account, join(allowed, 'data-link', 'pg_control'), 'InvalidParameterValue', /never importable/);
      await refused(policy(), account, '/proc/self/environ', 'InvalidParameterValue', account === ADMIN ? /never importable/ : /only from/);
    }
    await refused(policy(), ADMIN, join(pool, 'i-0123456789abcdef0-root.qcow2'), 'InvalidParameterValue', /never importable/);
    await refused(policy(), ADMIN, join(data, 'pg_control'), 'InvalidParameterValue', /never importable/);
  });

  it('sees through a bind mount of the data directory into an allowed one', async () => {
    // What LocalHostFiles reports when <allowed>/bound is a bind mount of the data directory.
    const real = new LocalHostFiles();
    const files: HostFiles = {
      async resolve(path) {
        const r = await real.resolve(path);
        if (path === data || path.startsWith(data + '/')) return r && { ...r, device: '9:9', fsPath: `/srv${path.slice(root.length)}` };
        const bound = join(allowed, 'bound');
        if (path.startsWith(bound)) return { real: path, kind: 'file', device: '9:9', fsPath: `/srv/data${path.slice(bound.length)}` };
        return r;
      },
    };
    await refused(policy(files), ACCOUNT, join(allowed, 'bound', 'pg_control'), 'InvalidParameterValue', /never importable/);
  });

  it("refuses backend names of images and volumes (another account's capture, an instance's disk) with AuthFailure", async () => {
    for (const account of [ACCOUNT, ADMIN]) {
      await refused(policy(), account, 'disk:img-ami-0123456789abcdef0.qcow2', 'AuthFailure');
      await refused(policy(), account, 'disk:i-0123456789abcdef0-root.qcow2', 'AuthFailure');
      await refused(policy(), account, `kernel:${join(allowed, 'kernel')}:img-ami-0123456789abcdef0.qcow2`, 'AuthFailure');
    }
  });

  it('lets the admin register host files outside the allowed directories', async () => {
    assert.equal(await policy().admit(ADMIN, join(elsewhere, 'secret')), join(elsewhere, 'secret'));
    await refused(policy(), ACCOUNT, join(elsewhere, 'secret'));
  });
});
