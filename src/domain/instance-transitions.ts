/**
 * The one instance state-transition table, as data and pure functions (no I/O):
 *
 * 1. USER_ACTIONS: which API actions an instance accepts from which recorded state: the action moves it on,
 *    answers with the state unchanged (as AWS does, e.g. stopping a stopped instance), or is refused with
 *    IncorrectInstanceState.
 * 2. RECONCILE: for an instance with no work in flight, what to do given what the records say (the recorded
 *    condition) and what the host shows (the backend object's state). Reconciliation applies it after a crash,
 *    after the host changed behind our back, and to finish anything a failure left half done.
 */
import type { InstanceState } from './instance-state.js';

// ---- 1. user actions -------------------------------------------------------------------------------------------

export type UserAction = 'start' | 'stop' | 'reboot' | 'terminate';

/** What an action does from a state: `move` (to `target`), `unchanged` (answered, nothing done) or `refuse`. */
export type ActionOutcome = 'move' | 'unchanged' | 'refuse';

export const USER_ACTIONS: Record<UserAction, { target: InstanceState | undefined; from: Record<InstanceState, ActionOutcome> }> = {
  start: {
    target: 'pending',
    from: { pending: 'unchanged', running: 'unchanged', stopping: 'refuse', stopped: 'move', 'shutting-down': 'refuse', terminated: 'refuse' },
  },
  stop: {
    target: 'stopping',
    from: { pending: 'move', running: 'move', stopping: 'unchanged', stopped: 'unchanged', 'shutting-down': 'refuse', terminated: 'refuse' },
  },
  // A reboot keeps the EC2 state (running); AWS ignores reboots of instances that are not running.
  reboot: {
    target: undefined,
    from: { pending: 'unchanged', running: 'move', stopping: 'unchanged', stopped: 'unchanged', 'shutting-down': 'refuse', terminated: 'refuse' },
  },
  terminate: {
    target: 'shutting-down',
    from: { pending: 'move', running: 'move', stopping: 'move', stopped: 'move', 'shutting-down': 'unchanged', terminated: 'unchanged' },
  },
};

export function actionOutcome(action: UserAction, state: string): ActionOutcome {
  return USER_ACTIONS[action].from[state as InstanceState] ?? 'refuse';
}

/** The states from which `action` moves the instance on: the compare-and-set guard of its record update. */
export function movesFrom(action: UserAction): InstanceState[] {
  return (Object.entries(USER_ACTIONS[action].from) as [InstanceState, ActionOutcome][]).filter(([, o]) => o === 'move').map(([s]) => s);
}

// ---- 2. reconciliation -----------------------------------------------------------------------------------------

/**
 * What the records say about an instance, as reconciliation needs it:
 * - `launching`: pending (or stopping) before its backend object was recorded as made: a launch to resume.
 * - `rebooting` / `capturing`: running, with a reboot or an image capture (which stops and starts it) in flight.
 * - `gone`: no live record (terminated, purged or never known) for an object on the host.
 * - otherwise the EC2 state.
 */
export type RecordedCondition =
  | 'launching'
  | 'pending'
  | 'running'
  | 'rebooting'
  | 'capturing'
  | 'stopping'
  | 'stopped'
  | 'shutting-down'
  | 'gone';

/**
 * What the host shows of the instance's backend object (the port's BackendState):
 * `pending` = it exists but does not run and will not without a push (a Docker container created and never
 * started, a paused container or domain); `stopping` = it is on its way down by itself.
 */
export type HostCondition = 'missing' | 'pending' | 'running' | 'stopping' | 'stopped';

export type ReconcileAction =
  /** record and host agree */
  | 'none'
  /** the host is moving by itself: look again at the next pass */
  | 'wait'
  /** run the launch steps not done yet, then the boot steps */
  | 'launch'
  /** a half-made backend object (its creation was never recorded): remove it, then launch */
  | 'relaunch'
  /** run the boot steps (start / resume, idempotently), then record what the host shows */
  | 'boot'
  /** a reboot was asked for and may not have happened: reboot (again) */
  | 'reboot'
  /** an image capture finished on the host: clear its mark */
  | 'settle'
  /** finish a stop: undo the boot steps, record stopped */
  | 'halt'
  /** the instance shut itself down: record stopped, or terminate it if its shutdown behaviour says so */
  | 'guest-stopped'
  /** finish a termination: undo every step in reverse, record terminated */
  | 'terminate'
  /** the backend object vanished: undo every step, record terminated with the reason */
  | 'lost'
  /** a backend object with no live record: remove it */
  | 'remove';

export const HOST_CONDITIONS: HostCondition[] = ['missing', 'pending', 'running', 'stopping', 'stopped'];
export const RECORDED_CONDITIONS: RecordedCondition[] = [
  'launching', 'pending', 'running', 'rebooting', 'capturing', 'stopping', 'stopped', 'shutting-down', 'gone',
];

/** The rule, written once: (recorded condition x host condition) -> action. */
export const RECONCILE: Record<RecordedCondition, Record<HostCondition, ReconcileAction>> = {
  //               missing      pending      running     stopping     stopped
  launching:     { missing: 'launch', pending: 'relaunch', running: 'relaunch', stopping: 'relaunch', stopped: 'relaunch' },
  pending:       { missing: 'lost', pending: 'boot', running: 'boot', stopping: 'wait', stopped: 'boot' },
  running:       { missing: 'lost', pending: 'boot', running: 'none', stopping: 'wait', stopped: 'guest-stopped' },
  rebooting:     { missing: 'lost', pending: 'boot', running: 'reboot', stopping: 'wait', stopped: 'boot' },
  capturing:     { missing: 'lost', pending: 'boot', running: 'settle', stopping: 'wait', stopped: 'boot' },
  stopping:      { missing: 'lost', pending: 'halt', running: 'halt', stopping: 'halt', stopped: 'halt' },
  stopped:       { missing: 'lost', pending: 'none', running: 'boot', stopping: 'none', stopped: 'none' },
  'shutting-down': { missing: 'terminate', pending: 'terminate', running: 'terminate', stopping: 'terminate', stopped: 'terminate' },
  gone:          { missing: 'none', pending: 'remove', running: 'remove', stopping: 'remove', stopped: 'remove' },
};

export function reconcileAction(recorded: RecordedCondition, host: HostCondition): ReconcileAction {
  return RECONCILE[recorded][host];
}

/** An instance record as far as reconciliation reads it. */
export interface RecordedInstance {
  state: string;
  /** Names of the launch/boot steps whose effect is recorded as done (see the instance service's step list). */
  steps_done: string[];
  /** A reboot or capture in flight that keeps the EC2 state. */
  activity: string | null;
}

/** Activities that keep the EC2 state 'running' while the backend object goes down and up. */
export type Activity = 'reboot' | 'capture';

/**
 * The recorded condition of a live record. `createdBy` names the step that makes the backend object: before it
 * is recorded done, a pending (or stopping) instance is still `launching`.
 */
export function recordedCondition(row: RecordedInstance | undefined, createdBy: string): RecordedCondition {
  if (!row || row.state === 'terminated') return 'gone';
  const made = row.steps_done.includes(createdBy);
  switch (row.state) {
    case 'pending':
      return made ? 'pending' : 'launching';
    case 'stopping':
      return made ? 'stopping' : 'launching';
    case 'running':
      return row.activity === 'reboot' ? 'rebooting' : row.activity === 'capture' ? 'capturing' : 'running';
    case 'stopped':
    case 'shutting-down':
      return row.state;
    default:
      throw new TypeError(`unknown instance state ${JSON.stringify(row.state)}`);
  }
}

/** EC2 states a user sees as "in transition": none may stay so for longer than a few reconcile passes. */
export const TRANSITIONAL: InstanceState[] = ['pending', 'stopping', 'shutting-down'];
