/** Chooses the adapters named by the configuration. Only the entry point and tests call this. */
import type { Config } from '../config/index.js';
import type { ComputeBackend, NetworkBackend, StorageBackend } from '../ports/index.js';
import { NoopComputeBackend, NoopNetworkBackend, NoopStorageBackend } from './noop/index.js';
import { OvsNetworkBackend } from './ovs/index.js';

/** `cloudId` is the installation's id (from the database); backends mark and scope their objects with it. */
export async function createBackends(
  config: Config,
  cloudId?: string,
): Promise<{ compute: ComputeBackend; storage: StorageBackend; network: NetworkBackend }> {
  return {
    compute: await createCompute(config, cloudId),
    storage: await createStorage(config, cloudId),
    network:
      config.networkBackend === 'ovs'
        ? // Without an installation id (`doctor`), a throwaway one: probe() touches nothing of anyone's.
          new OvsNetworkBackend({ cloudId: cloudId ?? '00000000', hostVpcs: config.hostVpcs.filter((v) => v !== 'default') })
        : new NoopNetworkBackend(),
  };
}

async function createCompute(config: Config, cloudId?: string): Promise<ComputeBackend> {
  switch (config.computeBackend) {
    case 'noop':
      return new NoopComputeBackend();
    case 'docker': {
      const { DockerComputeBackend } = await import('./docker/index.js');
      return new DockerComputeBackend({ socketPath: config.dockerSocket, cloudId, bootDir: config.dockerBootDir });
    }
    case 'libvirt': {
      const { LibvirtComputeBackend } = await import('./libvirt/index.js');
      return new LibvirtComputeBackend({ uri: config.libvirtUri, cloudId });
    }
  }
}

export async function createStorage(config: Config, cloudId?: string): Promise<StorageBackend> {
  if (config.storageBackend === 'noop') return new NoopStorageBackend();
  const { LvmStorageBackend } = await import('./lvm/index.js');
  const { localHost, sshHost } = await import('./exec/hosts.js');
  const s = config.storage;
  const host = s.host === 'local' ? localHost() : sshHost({ url: s.host, identityFile: s.sshKey, knownHostsFile: s.sshKnownHosts });
  return new LvmStorageBackend({
    host,
    vg: s.volumeGroup,
    pool: s.thinPool,
    cloudId,
    nbd: { firstPort: s.nbdFirstPort, lastPort: s.nbdLastPort, bind: s.nbdBind, address: s.nbdAddress },
    oversubscription: s.oversubscription,
  });
}
