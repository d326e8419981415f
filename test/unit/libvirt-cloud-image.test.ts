import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/adapters/libvirt/images.js';
import type { StoragePool } from '../../src/adapters/libvirt/pool.js';
import { kernelNetworkArgs, kernelNetworkConfig } from '../../src/adapters/libvirt/seed.js';

/**
 * A kernel image directory as scripts/build-cloud-image.sh makes it (a stock cloud image): its root filesystem
 * (root.qcow2) becomes the image's base volume, and `datasource` = ec2 means the guest reads the metadata
 * service, so its instances get no NoCloud seed. The storage pool is a fake that records what was imported.
 */
function fakePool() {
  const volumes = new Map<string, string>();
  const imports: { source: string; volume: string; format?: string }[] = [];
  const pool = {
    name: 'fake',
    exists: async (v: string) => volumes.has(v),
    volumePath: async (v: string) => `/pool/${v}`,
    info: async (_path: string) => ({ format: 'qcow2', virtualSizeBytes: 2 * 2 ** 30 }),
    importImage: async (source: string, volume: string, format?: string) => {
      imports.push({ source, volume, format });
      volumes.set(volume, source);
    },
  };
  return { pool: pool as unknown as StoragePool, imports };
}

function kernelDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'thecloud-cloudimg-'));
  const kernel = Buffer.alloc(0x300);
  kernel.write('HdrS', 0x202, 'latin1'); // what an x86 bzImage carries
  writeFileSync(join(dir, 'vmlinuz'), kernel);
  writeFileSync(join(dir, 'initrd.img'), 'initrd');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('libvirt kernel images: a stock cloud image directory', () => {
  const dirs: string[] = [];
  const dir = (files: Record<string, string>) => {
    const d = kernelDir(files);
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('boots without a seed when the directory says datasource ec2, with its own command line', async () => {
    const { pool } = fakePool();
    const store = new ImageStore(pool, 1);
    const d = dir({ datasource: 'ec2\n', cmdline: 'root=LABEL=debian-root ro\n' });
    const boot = await store.bootParams({ kind: 'kernel', dir: d });
    assert.equal(boot.kind, 'kernel');
    assert.equal(boot.seed, false);
    assert.match(boot.kind === 'kernel' ? boot.cmdline : '', /console=ttyS0.* root=LABEL=debian-root ro$/);
  });

  it('keeps the NoCloud seed for a directory that names no datasource (the test image)', async () => {
    const store = new ImageStore(fakePool().pool, 1);
    assert.equal((await store.bootParams({ kind: 'kernel', dir: dir({}) })).seed, true);
  });

  it('refuses a datasource it does not know instead of guessing', async () => {
    const store = new ImageStore(fakePool().pool, 1);
    await assert.rejects(store.bootParams({ kind: 'kernel', dir: dir({ datasource: 'nocloud-net' }) }), /unknown datasource "nocloud-net"/);
  });

  it('imports the root filesystem into the pool once, as the base volume of kernel:<dir>:<volume>', async () => {
    const { pool, imports } = fakePool();
    const store = new ImageStore(pool, 1);
    const d = dir({ datasource: 'ec2', 'root.qcow2': 'qcow2 bytes' });
    const info = await store.inspect(d);
    assert.equal(imports.length, 1);
    assert.equal(imports[0]!.source, join(d, 'root.qcow2'));
    assert.equal(imports[0]!.format, 'qcow2');
    assert.equal(info.ref, `kernel:${d}:${imports[0]!.volume}`);
    assert.equal(info.copy, true, 'the pool copy is the cloud’s, removed with the last image using it');
    assert.equal(info.sizeGiB, 2, 'the root disk is as large as the filesystem');
    await store.inspect(d);
    assert.equal(imports.length, 1, 'registering the same file again reuses the copy');
  });

  it('leaves a kernel directory without root.qcow2 as it was: a blank root disk, nothing imported', async () => {
    const { pool, imports } = fakePool();
    const d = dir({});
    const info = await new ImageStore(pool, 1).inspect(d);
    assert.equal(info.ref, `kernel:${d}`);
    assert.equal(imports.length, 0);
  });
});

describe('libvirt: the network config of a guest without a seed (kernel command line)', () => {
  it("gives cloud-init the address and the default gateway as gateway4 (ifupdown's own, no net-tools)", () => {
    const spec = {
      instanceId: 'i-0123456789abcdef0', accountId: '123456789012', imageRef: 'kernel:/x', vcpus: 1, memoryMiB: 512, hostname: 'h', publicKeys: [],
      nics: [{ eniId: 'eni-1', deviceIndex: 0, mac: '02:AB:CD:00:00:01', ips: ['172.31.0.4'], subnetCidr: '172.31.0.0/20', gateway: '172.31.0.1' }],
      dns: { nameservers: ['172.31.0.2'], search: ['ec2.internal'] },
    };
    const arg = kernelNetworkConfig(spec);
    assert.match(arg, /^network-config=[A-Za-z0-9+/]+=*$/, 'one kernel command line word');
    const yaml = Buffer.from(arg.slice('network-config='.length), 'base64').toString();
    assert.match(yaml, /^version: 2\nethernets:\n  eth0:\n/);
    assert.match(yaml, /macaddress: "02:ab:cd:00:00:01"/);
    assert.match(yaml, /- 172\.31\.0\.4\/20\n    gateway4: 172\.31\.0\.1\n/);
    assert.doesNotMatch(yaml, /routes:/);
    assert.match(yaml, /addresses: \[172\.31\.0\.2\]/);
    assert.ok(arg.length < 1024, `fits the kernel command line with room to spare (${arg.length})`);
  });

  it('puts no network config on the command line of a guest on VPC ports (their router answers DHCP), only without one', () => {
    const base = { instanceId: 'i-0123456789abcdef0', accountId: '123456789012', imageRef: 'kernel:/x', vcpus: 1, memoryMiB: 512, hostname: 'h', publicKeys: [] };
    const nics = [{ eniId: 'eni-1', deviceIndex: 0, mac: '02:ab:cd:00:00:01', ips: ['172.31.0.4'], subnetCidr: '172.31.0.0/20', gateway: '172.31.0.1' }];
    assert.deepEqual(kernelNetworkArgs({ ...base, nics }), [], 'a VPC port: DHCP, nothing on the command line');
    const network = { subnetId: 'subnet-1', vpcId: 'vpc-1', vpcCidr: '10.0.0.0/16', cidr: '10.0.1.0/24', gateway: '10.0.1.1', privateIp: '10.0.1.5', macAddress: '02:00:00:00:00:05' };
    const args = kernelNetworkArgs({ ...base, network });
    assert.equal(args.length, 1, 'no VPC port (no DHCP server): the address on the command line');
    assert.match(Buffer.from(args[0]!.slice('network-config='.length), 'base64').toString(), /10\.0\.1\.5\/24/);
  });
});
