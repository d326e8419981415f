/** The services container handed to every handler. Built once by the entry point (src/server/bootstrap.ts). */
import type { AccountService } from './accounts/index.js';
import type { CatalogService } from './catalog/index.js';
import type { NetworkService } from './network/index.js';
import type { TagService } from './tags/index.js';
import type { ImageService } from './images/index.js';
import type { KeyPairService } from './key-pairs/index.js';
import type { InstanceService } from './instances/index.js';
import type { MetadataService } from './metadata/index.js';
import type { VolumeService } from './volumes/index.js';
import type { DescribeEngine } from '../describe/index.js';
import type { ComputeBackend, NetworkBackend, StorageBackend } from '../ports/index.js';

export interface Services {
  accounts: AccountService;
  catalog: CatalogService;
  network: NetworkService;
  tags: TagService;
  images: ImageService;
  keyPairs: KeyPairService;
  instances: InstanceService;
  /** The instance metadata service's records (its HTTP side is served on the VPC routers, not through the API). */
  metadata: MetadataService;
  volumes: VolumeService;
  /** The describe engine over the database (src/describe): every Describe* of a stored resource reads through it. */
  describe: DescribeEngine;
  backends: { compute: ComputeBackend; storage: StorageBackend; network: NetworkBackend };
}
