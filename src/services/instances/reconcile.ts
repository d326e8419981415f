/**
 * Reconciliation: brings every instance record and every backend object of this installation in line, by the
 * table in src/domain/instance-transitions.ts. Each pass takes a snapshot (the host's objects, the live records)
 * to find candidates, then decides for each instance inside its queue, on a fresh read of its record and of its
 * backend object; an instance whose record changed since the snapshot (a command ran meanwhile) is left to the
 * next pass. Instances with work in flight are skipped. Every action completes within the pass that queued it
 * (or ends with a reason), so nothing stays transitional for more than a few passes unless the host itself is
 * still moving (`wait`).
 */
import {
  reconcileAction,
  recordedCondition,
  type HostCondition,
  type ReconcileAction,
} from '../../domain/instance-transitions.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { BackendInstanceInfo, ComputeBackend } from '../../ports/index.js';
import type { Logger } from '../../server/log.js';
import type { InstanceQueue } from './queue.js';
import { BACKEND_STEP, type StepRunner } from './steps.js';
import type { InstanceWork } from './work.js';

export interface ReconcilerDeps {
  repo: ComputeRepository;
  compute: ComputeBackend;
  queue: InstanceQueue;
  work: InstanceWork;
  steps: StepRunner;
  log: Logger;
  retentionMs: number;
  onPurged?: (ids: string[]) => Promise<void>;
  /**
   * Whether a root volume replacement is under way for the instance: a crash while it had the instance shut down
   * leaves it capturing and stopped, and the task, resumed, starts it again once it boots from the right disk.
   */
  replacingRoot?: (instanceId: string) => Promise<boolean>;
}

/** Whether the record changed since the snapshot was taken. */
function changed(now: InstanceRow, then: InstanceRow): boolean {
  return (
    now.state !== then.state ||
    now.backend_id !== then.backend_id ||
    now.activity !== then.activity ||
    now.steps_done.join() !== then.steps_done.join() ||
    new Date(now.updated_at).getTime() !== new Date(then.updated_at).getTime()
  );
}

export class Reconciler {
  constructor(private readonly d: ReconcilerDeps) {}

  /** One pass: queue a decision for every live record and every unowned object, then purge old terminated records. */
  async pass(): Promise<void> {
    const { compute, queue, repo } = this.d;
    const onHost = await compute.list();
    const rows = await repo.liveInstances();
    const live = new Set(rows.map((r) => r.id));
    for (const row of rows) {
      if (row.backend !== compute.name || queue.busy(row.id)) continue;
      void queue.run(row.id, () => this.decide(row), (e) => this.d.log.error('reconcile failed for an instance; the next pass retries', { instanceId: row.id, error: e }));
    }
    for (const obj of onHost) {
      if (live.has(obj.instanceId) || queue.busy(obj.instanceId)) continue;
      void queue.run(obj.instanceId, () => this.decideUnowned(obj), (e) => this.d.log.error('reconcile: remove failed', { instanceId: obj.instanceId, backendId: obj.backendId, error: e }));
    }
    const purged = await repo.purgeTerminated(new Date(Date.now() - this.d.retentionMs));
    if (purged.length) {
      await this.d.onPurged?.(purged);
      this.d.log.info('purged terminated instances', { count: purged.length });
    }
  }

  /** What the host shows of the instance's object: by its recorded id, or by instance id before one is recorded. */
  private async hostCondition(row: InstanceRow): Promise<HostCondition> {
    if (row.backend_id) return this.d.compute.state(row.backend_id);
    return (await this.d.compute.find(row.id))?.state ?? 'missing';
  }

  private async decide(snapshot: InstanceRow): Promise<void> {
    const row = await this.d.repo.instance(snapshot.id);
    if (!row || changed(row, snapshot)) return;
    const recorded = recordedCondition(row, BACKEND_STEP);
    const host = await this.hostCondition(row);
    const action = reconcileAction(recorded, host);
    if (recorded === 'capturing' && action === 'boot' && (await this.d.replacingRoot?.(row.id))) return;
    if (action !== 'none' && action !== 'wait') {
      this.d.log.info(`reconcile: ${action}`, { instanceId: row.id, recorded, host, nextStep: this.d.steps.nextLaunchStep(row) });
    }
    await this.apply(action, row);
  }

  private async decideUnowned(obj: BackendInstanceInfo): Promise<void> {
    const row = await this.d.repo.instance(obj.instanceId);
    if (row && row.state !== 'terminated') return; // owned after all: the next pass decides with its record
    const action = reconcileAction(recordedCondition(row, BACKEND_STEP), await this.d.compute.state(obj.backendId));
    if (action === 'remove') await this.d.work.remove(obj.instanceId, obj.backendId);
  }

  private async apply(action: ReconcileAction, row: InstanceRow): Promise<void> {
    const { work } = this.d;
    switch (action) {
      case 'none':
      case 'wait':
      case 'remove': // not for a live record
        return;
      case 'launch':
      case 'relaunch': // the launch's backend step removes the half-made object first
        return work.launch(row.id);
      case 'boot':
        return work.boot(row.id, [row.state as 'pending' | 'running' | 'stopped']);
      case 'reboot':
        return work.reboot(row.id);
      case 'settle':
        return work.settle(row.id);
      case 'halt':
        return work.halt(row.id, { force: false });
      case 'guest-stopped':
        return work.guestStopped(row.id);
      case 'terminate':
        return work.terminate(row.id);
      case 'lost':
        return work.lost(row.id);
    }
  }
}
