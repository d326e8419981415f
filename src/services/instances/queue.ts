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

  /** Resolves when every queued operation has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.tails.size) await Promise.allSettled([...this.tails.values()]);
  }
}
