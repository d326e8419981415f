import assert from 'node:assert/strict';
import { execa } from 'execa';
import { loadConfig, ConfigError } from '../../src/config/index.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.computeBackend, 'docker');
    assert.equal(c.storageBackend, 'noop');
    assert.equal(c.networkBackend, 'ovs');
    assert.deepEqual(c.hostVpcs, ['default'], 'the host reaches the default VPC of the first account unless told otherwise');
    assert.deepEqual(loadConfig({ THECLOUD_HOST_VPCS: 'none' }).hostVpcs, []);
    assert.deepEqual(loadConfig({ THECLOUD_HOST_VPCS: ' vpc-0123456789abcdef0, vpc-01234567' }).hostVpcs, ['vpc-0123456789abcdef0', 'vpc-01234567']);
    assert.equal(c.authEnabled, true);
    assert.deepEqual(c.accounts[0], { accountId: '000000000000', accessKeyId: 'test', secretAccessKey: 'test' });
  });

  it('points storage at the storage-host guest by default, and at a real host when told', () => {
    const d = loadConfig({}).storage;
    assert.equal(d.volumeGroup, 'thecloud-vg');
    assert.equal(d.host, 'ssh://root@127.0.0.1:10022');
    assert.equal(d.nbdAddress, '127.0.0.1');
    assert.deepEqual([d.nbdFirstPort, d.nbdLastPort], [10810, 10841]);
    const r = loadConfig({ THECLOUD_VG: 'data', THECLOUD_STORAGE_HOST: 'ssh://admin@storage1.lan:2200', THECLOUD_STORAGE_NBD_PORTS: '20000-20099' }).storage;
    assert.equal(r.volumeGroup, 'data');
    assert.equal(r.nbdAddress, 'storage1.lan');
    assert.equal(r.nbdLastPort, 20099);
    assert.equal(loadConfig({ THECLOUD_STORAGE_HOST: 'local' }).storage.nbdAddress, '127.0.0.1');
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['an unknown compute backend', { COMPUTE_BACKEND: 'vmware' }, /COMPUTE_BACKEND="vmware" is not valid: use one of docker, libvirt, noop/],
    ['a port out of range', { PORT: '70000' }, /PORT="70000" is not valid/],
    ['a non-postgres DATABASE_URL', { DATABASE_URL: 'mysql://x' }, /DATABASE_URL must be a postgres:\/\/ URL/],
    ['a malformed extra account', { THECLOUD_ACCOUNTS: '12:ak' }, /THECLOUD_ACCOUNTS entry "12:ak" is not valid/],
    ['a bad boolean', { THECLOUD_AUTH: 'maybe' }, /THECLOUD_AUTH="maybe" is not valid: use true or false/],
    ['a host VPC that is not a VPC id', { THECLOUD_HOST_VPCS: 'vpc-0123456789abcdef0,br0' }, /THECLOUD_HOST_VPCS: "br0" is not a VPC id/],
    ['a volume group name with shell syntax', { THECLOUD_VG: 'vg;reboot' }, /THECLOUD_VG="vg;reboot" is not valid/],
    ['a storage host that is not local or ssh://', { THECLOUD_STORAGE_HOST: 'http://x' }, /THECLOUD_STORAGE_HOST="http:\/\/x" is not valid/],
    ['a storage host that reads as an ssh option', { THECLOUD_STORAGE_HOST: 'ssh://-oProxyCommand=x' }, /THECLOUD_STORAGE_HOST=.* is not valid/],
    ['a reversed NBD port range', { THECLOUD_STORAGE_NBD_PORTS: '10900-10800' }, /THECLOUD_STORAGE_NBD_PORTS="10900-10800" is not valid/],
    ['an over-subscription that is not a number', { THECLOUD_STORAGE_OVERSUBSCRIPTION: 'lots' }, /THECLOUD_STORAGE_OVERSUBSCRIPTION="lots" is not valid/],
  ];
  for (const [what, env, message] of bad) {
    it(`refuses ${what} with a message naming the variable`, () => {
      assert.throws(() => loadConfig(env), (e: unknown) => e instanceof ConfigError && message.test((e as Error).message));
    });
  }

  it('stops the server at start-up with that message and exit code 2', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { COMPUTE_BACKEND: 'vmware' }, reject: false, timeout: 60_000 });
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /configuration error: COMPUTE_BACKEND="vmware" is not valid/);
  });

  it('doctor reports each backend and fails when one is unreachable', async () => {
    const r = await execa(process.execPath, ['--import', 'tsx', 'src/main.ts', 'doctor'], {
      env: { COMPUTE_BACKEND: 'noop', NETWORK_BACKEND: 'noop', DOCKER_SOCKET: '/nonexistent' },
      reject: false,
      timeout: 60_000,
    });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ok\s+compute\s+noop/m);
    assert.match(r.stdout, /^ok\s+network\s+noop/m);
    // Storage is noop here, but doctor still says whether the LVM volume group would answer.
    assert.match(r.stdout, /^info lvm\s+(answers|does not answer): volume group thecloud-vg on ssh:\/\/root@127\.0\.0\.1:10022/m);
    const bad = await execa(process.execPath, ['--import', 'tsx', 'src/main.ts', 'doctor'], {
      env: { COMPUTE_BACKEND: 'docker', NETWORK_BACKEND: 'noop', DOCKER_SOCKET: '/nonexistent.sock' },
      reject: false,
      timeout: 60_000,
    });
    assert.equal(bad.exitCode, 1);
    assert.match(bad.stdout, /^FAIL\s+compute\s+docker/m);
  });
});
