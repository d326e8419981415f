/**
 * StartInstances, StopInstances, RebootInstances, TerminateInstances. `check` holds every rule (the handler's
 * validate runs it, so a DryRun is refused as the real call would be); the command records the transitional
 * state (a compare-and-set, so two requests racing on one instance cannot both win), answers, and queues the
 * backend work (work.ts), which reconciliation resumes if the process dies first.
 */
import { Ec2Error } from '../../errors/index.js';
import { STATE_REASONS, userInitiated } from '../../domain/instance-state.js';
import { actionOutcome, movesFrom, USER_ACTIONS, type UserAction } from '../../domain/instance-transitions.js';
import type { ComputeRepository, InstanceRow } from '../../db/repositories/compute.js';
import type { Logger } from '../../server/log.js';
import type { InstanceQueue } from './queue.js';
import type { InstanceWork } from './work.js';

export interface StateChange {
  id: string;
  previous: string;
  current: string;
}

const REFUSALS: Record<UserAction, (id: string) => string> = {
  start: (id) => `The instance '${id}' is not in a state from which it can be started.`,
  stop: (id) => `This instance '${id}' is not in a state from which it can be stopped.`,
  reboot: (id) => `The instance '${id}' is not in a state from which it can be rebooted.`,
  terminate: (id) => `The instance '${id}' is not in a state from which it can be terminated.`,
};

/** Every rule an action has, on the rows it is asked for; throws the error AWS answers with. */
export function checkAction(action: UserAction, rows: InstanceRow[]): void {
  for (const r of rows) {
    if (action === 'stop' && r.disable_api_stop) {
      throw new Ec2Error('OperationNotPermitted', `The instance '${r.id}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`);
    }
    if (action === 'terminate' && r.disable_api_termination && r.state !== 'terminated') {
      throw new Ec2Error('OperationNotPermitted', `The instance '${r.id}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`);
    }
    if (actionOutcome(action, r.state) === 'refuse') throw new Ec2Error('IncorrectInstanceState', REFUSALS[action](r.id));
  }
}

export class InstanceCommands {
  constructor(
    private readonly repo: ComputeRepository,
    private readonly queue: InstanceQueue,
    private readonly work: InstanceWork,
    private readonly log: Logger,
  ) {}

  private onError(what: string, id: string) {
    return (e: unknown) => this.log.error(`${what} failed; reconciliation will resume it`, { instanceId: id, error: e });
  }

  /** Records `action`'s transitional state for each row it moves; the others answer with their state unchanged. */
  private async record(action: UserAction, rows: InstanceRow[], extra: Parameters<ComputeRepository['transition']>[3]): Promise<{ changes: StateChange[]; moved: InstanceRow[] }> {
    const changes: StateChange[] = [];
    const moved: InstanceRow[] = [];
    const target = USER_ACTIONS[action].target!;
    for (const r of rows) {
      if (actionOutcome(action, r.state) === 'move' && (await this.repo.transition(r.id, movesFrom(action), target, extra))) {
        changes.push({ id: r.id, previous: r.state, current: target });
        moved.push(r);
      } else {
        // Unchanged, or another request moved it first: answer with what the record says now.
        const now = (await this.repo.instance(r.id))?.state ?? r.state;
        changes.push({ id: r.id, previous: now, current: now });
      }
    }
    return { changes, moved };
  }

  async start(rows: InstanceRow[]): Promise<StateChange[]> {
    const { changes, moved } = await this.record('start', rows, { reasonCode: null, reasonMessage: null, transitionReason: '', activity: null });
    for (const r of moved) void this.queue.run(r.id, () => this.work.boot(r.id, ['pending']), this.onError('start', r.id));
    return changes;
  }

  async stop(rows: InstanceRow[], force: boolean): Promise<StateChange[]> {
    const { changes, moved } = await this.record('stop', rows, {
      reasonCode: STATE_REASONS.userStop.code, reasonMessage: STATE_REASONS.userStop.message, transitionReason: userInitiated(), activity: null,
    });
    // Queued behind a launch in flight, which then finishes making the object and stops it itself.
    for (const r of moved) void this.queue.run(r.id, () => this.work.halt(r.id, { force }), this.onError('stop', r.id));
    return changes;
  }

  /** Reboots the running ones (AWS ignores the others). The mark makes an interrupted reboot resumable. */
  async reboot(rows: InstanceRow[]): Promise<void> {
    for (const r of rows) {
      if (actionOutcome('reboot', r.state) !== 'move') continue;
      if (!(await this.repo.setActivity(r.id, 'reboot', ['running'], null))) continue; // one already in flight
      void this.queue.run(r.id, () => this.work.reboot(r.id), this.onError('reboot', r.id));
    }
  }

  async terminate(rows: InstanceRow[]): Promise<StateChange[]> {
    const { changes, moved } = await this.record('terminate', rows, {
      reasonCode: STATE_REASONS.userTerminate.code, reasonMessage: STATE_REASONS.userTerminate.message, transitionReason: userInitiated(), activity: null,
    });
    for (const r of moved) void this.queue.run(r.id, () => this.work.terminate(r.id), this.onError('terminate', r.id));
    return changes;
  }
}
