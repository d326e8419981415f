import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeImagesCommand, DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { NoopComputeBackend } from '../../src/adapters/noop/index.js';
import type { BackendState, InstanceSpec } from '../../src/ports/index.js';
import { useTestServer } from '../support/use-server.js';

/**
 * A noop backend whose launches can be held at a gate, and which, while reconciliation asks it for one chosen
 * instance's state, lets a held launch finish: the interleaving a loaded host produces by itself.
 */
class ScriptedCompute extends NoopComputeBackend {
  creates = new Map<string, number>();
  gate?: { open: () => void; opened: Promise<void> };
  /** While reconcile asks for this backend object's state, run `during` first. */
  onState?: { backendId: string; during: () => Promise<void> };

  override async create(spec: InstanceSpec): Promise<{ backendId: string }> {
    this.creates.set(spec.instanceId, (this.creates.get(spec.instanceId) ?? 0) + 1);
    await this.gate?.opened;
    return super.create(spec);
  }

  override async state(backendId: string): Promise<BackendState> {
    const hook = this.onState;
    if (hook && hook.backendId === backendId) {
      this.onState = undefined;
      await hook.during();
    }
    return super.state(backendId);
  }
}

describe('instances: reconciliation racing a launch', function () {
  this.timeout(60_000);
  const compute = new ScriptedCompute();
  // Reconciliation runs only when the test calls it.
  const t = useTestServer({ env: { THECLOUD_RECONCILE_SECONDS: '3600' }, backends: { compute } });

  const describeOne = async (id: string) => (await t.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;

  it('does not launch again an instance whose launch finished after its snapshot was taken', async () => {
    const image = (await t.ec2.send(new DescribeImagesCommand({}))).Images![0]!;
    const launch = async () => (await t.ec2.send(new RunInstancesCommand({ ImageId: image.ImageId, MinCount: 1, MaxCount: 1 }))).Instances![0]!.InstanceId!;

    // A: an instance already running, which reconciliation looks at (compute.state) before it reaches X.
    const a = await launch();
    for (let i = 0; i < 50 && (await describeOne(a)).State?.Name !== 'running'; i++) await sleep(100);
    const aBackend = (await t.s.db.rows<{ backend_id: string }>('SELECT backend_id FROM instances WHERE id = $1', [a]))[0]!.backend_id;

    // X: its launch is held, so it is pending without a backend object when reconciliation takes its snapshot.
    let open!: () => void;
    compute.gate = { open: () => open(), opened: new Promise<void>((r) => (open = r)) };
    const x = await launch();
    compute.onState = {
      backendId: aBackend,
      // ... and the launch finishes while reconciliation is busy with A (in A's queue).
      during: async () => {
        compute.gate!.open();
        for (let i = 0; i < 100 && (await describeOne(x)).State?.Name !== 'running'; i++) await sleep(50);
      },
    };
    await t.s.services.instances.reconcile();
    await t.s.services.instances.queue.idle();
    assert.equal(compute.onState, undefined, 'reconciliation looked at A while X was launching');

    assert.equal(compute.creates.get(x), 1, 'X was created once');
    const xi = await describeOne(x);
    assert.equal(xi.State?.Name, 'running', JSON.stringify(xi.StateReason));
  });
});
