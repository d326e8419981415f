/**
 * Per-instance serialisation of backend work: a stop issued while the launch is still creating the container
 * runs after it, never beside it. Also tells reconciliation which instances have work in flight.
 *
 * On shutdown (`close`) no new work starts (its record is already in a transitional state, which
 * reconciliation resumes at the next start); work in flight gets a grace period to finish, after which its
 * failures are no longer acted on (the process is going away, and the record says where it stood).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class InstanceQueue {
  private readonly tails = new Map<string, Promise<void>>();
  private closing = false;
  private abandoned = false;

  run(instanceId: string, work: () => Promise<void>, onError: (e: unknown) => Promise<void> | void): Promise<void> {
    if (this.closing) return Promise.resolve();
    const prev = this.tails.get(instanceId) ?? Promise.resolve();
    const next = prev
      .then(work)
      .catch(async (e) => {
        if (!this.abandoned) await onError(e);
      })
      .finally(() => {
        if (this.tails.get(instanceId) === next) this.tails.delete(instanceId);
      });
    this.tails.set(instanceId, next);
    return next;
  }

  /**
   * Marks instances busy before their records are committed, until `release` is called: reconciliation must not
   * take a freshly committed launch for an interrupted one in the moment before its work is queued. Work queued
   * for them meanwhile runs after the release.
   */
  reserve(instanceIds: string[]): () => void {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    for (const id of instanceIds) {
      const prev = this.tails.get(id) ?? Promise.resolve();
      const tail: Promise<void> = prev.then(() => held).finally(() => {
        if (this.tails.get(id) === tail) this.tails.delete(id);
      });
      this.tails.set(id, tail);
    }
    return release;
  }

  busy(instanceId: string): boolean {
    return this.tails.has(instanceId);
  }

  get size(): number {
    return this.tails.size;
  }

  /** Resolves when every queued operation has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }

  /**
   * Takes no more work, and waits up to `graceMs` for the work in flight. Returns how many instances still had
   * work when the grace ran out (0: all finished).
   */
  async close(graceMs: number): Promise<number> {
    this.closing = true;
    const done = await Promise.race([this.idle().then(() => true), sleep(graceMs, false, { ref: false })]);
    if (done) return 0;
    this.abandoned = true;
    return this.tails.size;
  }
}
