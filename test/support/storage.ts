/**
 * The LVM storage backend of the tests: the storage host the configuration's defaults point at (the guest that
 * scripts/setup-storage-host.sh boots), scoped to a fresh installation id so a test sees only its own disks and
 * removes them all afterwards.
 */
import { randomBytes } from 'node:crypto';
import { sshHost, localHost, type HostRunner } from '../../src/adapters/exec/hosts.js';
import { LvmStorageBackend } from '../../src/adapters/lvm/index.js';
import { loadConfig } from '../../src/config/index.js';

export const hex = (n: number) => randomBytes(16).toString('hex').slice(0, n);
export const volId = () => `vol-${hex(17)}`;
export const snapId = () => `snap-${hex(17)}`;

export interface TestStorage {
  backend: LvmStorageBackend;
  host: HostRunner;
  vg: string;
  cloudId: string;
  /** md5 of the first `mib` MiB of a volume, read on the storage host itself */
  checksum(volumeId: string, mib?: number): Promise<string>;
  /** Writes `mib` MiB of random bytes at the start of a volume, on the storage host */
  scribble(volumeId: string, mib?: number): Promise<void>;
  /** Removes every disk and export of this installation */
  cleanup(): Promise<void>;
}

export function testStorage(cloudId = hex(16)): TestStorage {
  const s = loadConfig(process.env).storage;
  const host = s.host === 'local' ? localHost() : sshHost({ url: s.host, identityFile: s.sshKey, knownHostsFile: s.sshKnownHosts });
  const backend = new LvmStorageBackend({
    host,
    vg: s.volumeGroup,
    pool: s.thinPool,
    cloudId,
    nbd: { firstPort: s.nbdFirstPort, lastPort: s.nbdLastPort, bind: s.nbdBind, address: s.nbdAddress },
    oversubscription: s.oversubscription,
  });
  const dev = (id: string) => `/dev/${s.volumeGroup}/${id}`;
  return {
    backend,
    host,
    vg: s.volumeGroup,
    cloudId,
    async checksum(volumeId, mib = 4) {
      const tmp = `/tmp/${volumeId}.chk`;
      // Each of these may run twice harmlessly (readOnly: asked again if the SSH connection is lost under it).
      const again = { readOnly: true };
      await host.run('dd', [`if=${dev(volumeId)}`, `of=${tmp}`, 'bs=1M', `count=${mib}`, 'iflag=direct'], again);
      const sum = (await host.run('md5sum', [tmp], again)).stdout.split(' ')[0]!;
      await host.run('rm', ['-f', tmp], again);
      return sum;
    },
    async scribble(volumeId, mib = 2) {
      await host.run('dd', ['if=/dev/urandom', `of=${dev(volumeId)}`, 'bs=1M', `count=${mib}`, 'oflag=direct', 'conv=fsync']);
    },
    async cleanup() {
      const inv = await backend.list();
      for (const e of inv.exports) await backend.unexport(e.diskId).catch(() => undefined);
      await backend.repair().catch(() => undefined);
      const after = await backend.list();
      for (const v of after.volumes) await backend.deleteVolume(v.volumeId).catch(() => undefined);
      for (const sn of after.snapshots) await backend.deleteSnapshot(sn.snapshotId).catch(() => undefined);
      for (const i of after.images) await backend.deleteImage(i.imageId).catch(() => undefined);
    },
  };
}
