import assert from 'node:assert/strict';
import { actionOutcome, movesFrom, recordedCondition, type ActionOutcome, type UserAction } from '../../src/domain/instance-transitions.js';

/**
 * The user-action half of the transition table against AWS's documented behaviour, state by state (the
 * reconciliation half is tested cell by cell, with a fake backend, in test/instances/reconcile-table.test.ts).
 */
const AWS: Record<UserAction, Record<string, ActionOutcome>> = {
  // StartInstances: a stopped instance starts; pending/running ones are answered as they are; others refused.
  start: { pending: 'unchanged', running: 'unchanged', stopping: 'refuse', stopped: 'move', 'shutting-down': 'refuse', terminated: 'refuse' },
  // StopInstances: pending and running ones stop; stopping/stopped answered as they are; terminating ones refused.
  stop: { pending: 'move', running: 'move', stopping: 'unchanged', stopped: 'unchanged', 'shutting-down': 'refuse', terminated: 'refuse' },
  // RebootInstances: only running ones reboot; the request is ignored for others, refused for terminating ones.
  reboot: { pending: 'unchanged', running: 'move', stopping: 'unchanged', stopped: 'unchanged', 'shutting-down': 'refuse', terminated: 'refuse' },
  // TerminateInstances: always accepted; an instance already going or gone is answered as it is.
  terminate: { pending: 'move', running: 'move', stopping: 'move', stopped: 'move', 'shutting-down': 'unchanged', terminated: 'unchanged' },
};

describe('unit: the instance transition table', () => {
  for (const [action, states] of Object.entries(AWS) as [UserAction, Record<string, ActionOutcome>][]) {
    for (const [state, outcome] of Object.entries(states)) {
      it(`${action} from ${state}: ${outcome}`, () => assert.equal(actionOutcome(action, state), outcome));
    }
  }

  it('an unknown state refuses every action, and the compare-and-set guards are the moving states', () => {
    assert.equal(actionOutcome('start', 'exploded'), 'refuse');
    assert.deepEqual(movesFrom('stop').sort(), ['pending', 'running']);
    assert.deepEqual(movesFrom('terminate').sort(), ['pending', 'running', 'stopped', 'stopping']);
  });

  it('reads the recorded condition from state, journal and activity', () => {
    const made = ['address', 'backend'];
    assert.equal(recordedCondition({ state: 'pending', steps_done: ['address'], activity: null }, 'backend'), 'launching');
    assert.equal(recordedCondition({ state: 'stopping', steps_done: ['address'], activity: null }, 'backend'), 'launching');
    assert.equal(recordedCondition({ state: 'pending', steps_done: made, activity: null }, 'backend'), 'pending');
    assert.equal(recordedCondition({ state: 'running', steps_done: made, activity: 'reboot' }, 'backend'), 'rebooting');
    assert.equal(recordedCondition({ state: 'running', steps_done: made, activity: 'capture' }, 'backend'), 'capturing');
    assert.equal(recordedCondition({ state: 'terminated', steps_done: [], activity: null }, 'backend'), 'gone');
    assert.equal(recordedCondition(undefined, 'backend'), 'gone');
  });
});
