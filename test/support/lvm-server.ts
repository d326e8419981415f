/**
 * A test server on real LVM storage (and a real compute backend), shared by the EBS suites that drive it through
 * the API: the backends are required (needBackend), the installation id is read for the storage host's view, a
 * failed test prints the server's last log lines, and at the end the instances go before the server does and
 * whatever a failed run left of this installation on the storage host is removed.
 */
import pg from 'pg';
import { TerminateInstancesCommand, waitUntilInstanceTerminated, type EC2Client } from '@aws-sdk/client-ec2';
import { needBackend } from './backends.js';
import { startTestServer, type TestServer } from './server.js';
import { sdk } from './clients.js';
import { testStorage } from './storage.js';

export interface LvmServer {
  s: TestServer;
  ec2: EC2Client;
  /** the installation id: names this server's disks on the storage host */
  cloudId: string;
  /** instances to terminate at the end */
  instances: string[];
}

/** Registers the suite's hooks; the fields are set once its `before` has run. */
export function lvmServer(compute: 'docker' | 'libvirt', probe: () => Promise<{ ok: boolean; detail: string }>): LvmServer {
  const f = { instances: [] as string[] } as LvmServer;
  before(async function () {
    await needBackend(this, 'lvm', () => testStorage().backend.probe());
    await needBackend(this, compute, probe);
    f.s = await startTestServer({ COMPUTE_BACKEND: compute, STORAGE_BACKEND: 'lvm' });
    f.ec2 = sdk(f.s.url);
    const c = new pg.Client({ connectionString: f.s.databaseUrl });
    await c.connect();
    f.cloudId = (await c.query('SELECT id FROM installation')).rows[0].id as string;
    await c.end();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && f.s) console.log(`      server log (last 40 lines):\n${f.s.logs.slice(-40).join('\n')}`);
  });
  after(async () => {
    if (f.instances.length && f.ec2) {
      await f.ec2.send(new TerminateInstancesCommand({ InstanceIds: f.instances })).catch(() => undefined);
      await waitUntilInstanceTerminated({ client: f.ec2, minDelay: 1, maxDelay: 2, maxWaitTime: 300 }, { InstanceIds: f.instances }).catch(() => undefined);
    }
    await f.s?.close();
    if (f.cloudId) await testStorage(f.cloudId).cleanup();
  });
  return f;
}
