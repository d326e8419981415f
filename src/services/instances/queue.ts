/**
 * Per-instance serialisation of backend work: a stop issued while the launch is still creating the container
 * runs after it, never beside it. Also tells reconciliation which instances have work in flight.
 */
export class InstanceQueue {
  private readonly tails = new Map<string, Promise<void>>();

  run(instanceId: string, work: () => Promise<void>, onError: (e: unknown) => Promise<void> | void): Promise<void> {
    const prev = this.tails.get(instanceId) ?? Promise.resolve();
    const next = prev
      .then(work)
      .catch(async (e) => {
        await onError(e);
      })
      .finally(() => {
        if (this.tails.get(instanceId) === next) this.tails.delete(instanceId);
      });
    this.tails.set(instanceId, next);
    return next;
  }

  busy(instanceId: string): boolean {
    return this.tails.has(instanceId);
  }

  /** Resolves when every queued operation has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }
}
