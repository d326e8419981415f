/**
 * EC2 instance states, their codes and state reasons. Pure: no I/O. Which actions each state allows, and what
 * reconciliation does in each, is the table in instance-transitions.ts.
 */
export const STATE_CODES = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
} as const;

export type InstanceState = keyof typeof STATE_CODES;

export function stateOf(name: string): { Code: number; Name: InstanceState } {
  const n = name as InstanceState;
  return { Code: STATE_CODES[n], Name: n };
}

export const STATE_REASONS = {
  userStop: { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' },
  userTerminate: { code: 'Client.UserInitiatedShutdown', message: 'Client.UserInitiatedShutdown: User initiated shutdown' },
  guestShutdown: { code: 'Client.InstanceInitiatedShutdown', message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' },
  launchFailed: { code: 'Server.InternalError', message: 'Server.InternalError: Internal error on launch' },
  noCapacity: { code: 'Server.InsufficientInstanceCapacity', message: 'Server.InsufficientInstanceCapacity: Insufficient capacity to satisfy launch request' },
  missing: { code: 'Server.InternalError', message: 'Server.InternalError: The instance disappeared from its host' },
};

/** "User initiated (2026-11-25 20:00:00 GMT)", as AWS writes StateTransitionReason. */
export function userInitiated(at = new Date()): string {
  return `User initiated (${at.toISOString().replace('T', ' ').slice(0, 19)} GMT)`;
}
