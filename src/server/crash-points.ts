/**
 * Deterministic crash points for crash-safety tests: with THECLOUD_CRASH_AT=<name> the process kills itself
 * (SIGKILL: no cleanup, no graceful shutdown, as a power cut) when it reaches the point of that name. Unset in
 * normal use. Points: `replace-root:merged` (src/services/volumes/root-replace.ts: a root rolled back by merge,
 * not yet renamed to its new volume).
 */
export function crashPoint(name: string): void {
  if (process.env.THECLOUD_CRASH_AT === name) process.kill(process.pid, 'SIGKILL');
}
