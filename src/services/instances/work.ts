/**
 * The backend work of the instance commands and of reconciliation. Each method runs inside the instance's queue
 * (never beside other work on it), decides on a fresh read of the record, and ends with a record that says where
 * the instance is: the state it reached, or a transitional state that reconciliation resumes. Every failure ends
 * either in a state with a reason, or in a state reconciliation retries.
 */
import { HostCapacityError, type ComputeBackend } from '../../ports/index.js';
import { STATE_REASONS, type InstanceState } from '../../domain/instance-state.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { Logger } from '../../server/log.js';
import { BACKEND_STEP, type StepRunner } from './steps.js';
import { PLUG_STEP } from './network-steps.js';

export interface WorkDeps {
  repo: ComputeRepository;
  compute: ComputeBackend;
  steps: StepRunner;
  log: Logger;
}

const BOOT_FAILED = { code: 'Server.InternalError', message: 'Server.InternalError: The instance could not be started' };

export class InstanceWork {
  constructor(private readonly d: WorkDeps) {}

  private fresh(id: string): Promise<InstanceRow | undefined> {
    return this.d.repo.instance(id);
  }

  /**
   * Launches (or resumes the launch of) a pending instance: the launch steps not done yet, then, if it is still
   * pending, the boot steps; a stop that came in meanwhile is finished instead. A failure undoes every step and
   * records the instance terminated with the reason, as AWS reports a launch that failed.
   */
  async launch(id: string): Promise<void> {
    const row = await this.fresh(id);
    if (!row || (row.state !== 'pending' && row.state !== 'stopping')) return;
    try {
      if (!(await this.d.steps.forward(id, 'launch', ['pending', 'stopping']))) return;
      const now = await this.fresh(id);
      if (now?.state === 'pending') {
        if (await this.d.steps.forward(id, 'boot', ['pending'])) await this.recordBooted(id, ['pending']);
        return;
      }
      if (now?.state !== 'stopping') return;
    } catch (e) {
      return this.failLaunch(id, e);
    }
    // Stopped while it launched: made, never booted; the stop is finished like any other.
    await this.halt(id, { force: false });
  }

  private async failLaunch(id: string, e: unknown): Promise<void> {
    this.d.log.error('launch failed', { instanceId: id, error: e });
    await this.d.steps.backward(id, 'all', { force: true }).catch((u) => this.d.log.error('undoing a failed launch failed; reconciliation will retry', { instanceId: id, error: u }));
    // A host that cannot place the instance is not an internal fault: say so as AWS does, with the reason.
    const reason = e instanceof HostCapacityError
      ? { reasonCode: STATE_REASONS.noCapacity.code, reasonMessage: `${STATE_REASONS.noCapacity.message} (${e.message})` }
      : { reasonCode: STATE_REASONS.launchFailed.code, reasonMessage: STATE_REASONS.launchFailed.message };
    const moved = await this.d.repo.transition(id, ['pending', 'stopping'], 'terminated', { ...reason, activity: null });
    // Undo may have failed in part: anything left is then undone by reconciliation once it sees the record.
    if (!moved) this.d.log.warn('a failed launch was taken over by another command', { instanceId: id });
  }

  /**
   * Boots an instance recorded in one of `from` (pending after StartInstances; or, from reconciliation, an
   * instance whose object must run again): the boot steps, then the state the host shows. A failure takes the
   * boot steps down again and records the instance stopped with the reason.
   */
  async boot(id: string, from: InstanceState[]): Promise<void> {
    try {
      if (!(await this.d.steps.forward(id, 'boot', from))) return;
      await this.recordBooted(id, from);
    } catch (e) {
      this.d.log.error('start failed', { instanceId: id, error: e });
      await this.d.steps.backward(id, 'boot', { force: true }).catch((u) => this.d.log.error('stopping after a failed start failed', { instanceId: id, error: u }));
      await this.d.repo.transition(id, from, 'stopped', { reasonCode: BOOT_FAILED.code, reasonMessage: BOOT_FAILED.message, activity: null });
    }
  }

  /** After the boot steps: the state the backend reports (running, or stopped if it ended at once). */
  private async recordBooted(id: string, from: InstanceState[]): Promise<void> {
    const row = await this.fresh(id);
    if (!row?.backend_id) return;
    const actual = await this.d.compute.state(row.backend_id);
    const target = actual === 'stopped' ? 'stopped' : 'running';
    await this.d.repo.transition(id, from, target, target === 'running' ? { reasonCode: null, reasonMessage: null, activity: null } : { activity: null });
  }

  /** Finishes a stop: the boot steps' undo in reverse, then stopped. A failure leaves `stopping` to reconciliation. */
  async halt(id: string, opts: { force: boolean }): Promise<void> {
    const row = await this.fresh(id);
    if (row?.state !== 'stopping') return;
    // Stopped before its launch made the object: the launch finishes making it, then comes back here.
    if (!row.steps_done.includes(BACKEND_STEP)) return this.launch(id);
    await this.d.steps.backward(id, 'boot', opts);
    await this.d.repo.transition(id, ['stopping'], 'stopped');
  }

  /** A reboot asked for (activity 'reboot'): reboot, then clear the mark. */
  async reboot(id: string): Promise<void> {
    const row = await this.fresh(id);
    if (row?.state !== 'running' || row.activity !== 'reboot' || !row.backend_id) return;
    try {
      await this.d.compute.reboot(row.backend_id);
    } catch (e) {
      // If the object runs, the reboot is given up (said in the log); if it is down, the mark stays and
      // reconciliation boots it (rebooting x stopped -> boot).
      const state = await this.d.compute.state(row.backend_id).catch(() => 'missing' as const);
      this.d.log.error('reboot failed', { instanceId: id, error: e, hostState: state });
      if (state !== 'running') return;
    }
    // A restarted container has a new network namespace: its ENI is plugged again (idempotent for a VM).
    await this.d.steps.redo(id, PLUG_STEP);
    await this.d.repo.setActivity(id, null, ['running'], 'reboot');
  }

  /** An image capture finished (or was cut short) with the object running: clear its mark. */
  async settle(id: string): Promise<void> {
    await this.d.repo.setActivity(id, null, ['running'], 'capture');
  }

  /** Finishes a termination: every step's undo in reverse, then terminated. A failure leaves it to reconciliation. */
  async terminate(id: string): Promise<void> {
    const row = await this.fresh(id);
    if (row?.state !== 'shutting-down') return;
    await this.d.steps.backward(id, 'all', { force: true });
    await this.d.repo.transition(id, ['shutting-down'], 'terminated', { activity: null });
  }

  /** The backend object vanished: release what the instance held, and say so in its state reason. */
  async lost(id: string): Promise<void> {
    const row = await this.fresh(id);
    if (!row || row.state === 'terminated' || row.state === 'shutting-down') return;
    this.d.log.warn('an instance\'s backend object disappeared from the host', { instanceId: id, state: row.state, backendId: row.backend_id });
    // Shutting down first, as a termination: from then on no interface can be attached to it (AttachNetworkInterface
    // checks the state under the row's lock), so releasing its interfaces leaves none attached once it is terminated.
    const reason = { reasonCode: STATE_REASONS.missing.code, reasonMessage: STATE_REASONS.missing.message };
    if (await this.d.repo.transition(id, [row.state], 'shutting-down', { ...reason, activity: null })) await this.terminate(id);
  }

  /** The instance shut itself down: stopped, or terminated when its shutdown behaviour says so. */
  async guestStopped(id: string): Promise<void> {
    const row = await this.fresh(id);
    if (row?.state !== 'running') return;
    const reason = { reasonCode: STATE_REASONS.guestShutdown.code, reasonMessage: STATE_REASONS.guestShutdown.message };
    if (row.shutdown_behavior === 'terminate') {
      if (await this.d.repo.transition(id, ['running'], 'shutting-down', reason)) await this.terminate(id);
      return;
    }
    await this.d.steps.backward(id, 'boot', { force: false });
    await this.d.repo.transition(id, ['running'], 'stopped', { ...reason, transitionReason: `Instance initiated shutdown (${new Date().toISOString()})`, activity: null });
  }

  /** A backend object that no live record owns (checked afresh): removed. */
  async remove(instanceId: string, backendId: string): Promise<void> {
    const row = await this.fresh(instanceId);
    if (row && row.state !== 'terminated') return;
    this.d.log.warn('reconcile: removing a backend object that has no live instance record', { instanceId, backendId });
    await this.d.compute.destroy(backendId);
  }
}
