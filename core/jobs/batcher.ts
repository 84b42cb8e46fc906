/**
 * Gathers the items that arrive while a batch is being worked into the next batch: one step (a
 * transaction, one insert) for many items, each item answered when its batch is done. Batches run
 * one at a time, in the order their items arrived, so that what arrived first is worked first.
 *
 * `run` answers a batch: nothing (every item done), or one answer per item, in the batch's order,
 * an Error failing that item alone. A batch that throws fails every item of it (the bus hands them
 * over again), and the next batch goes on. With `key`, items of one key waiting together are one
 * item of the batch (a case recomputed once for all its events), every caller answered with it.
 */
export class Batcher<I, R = void> {
  private pending = new Map<unknown, { item: I; waiters: { resolve: (r: R) => void; reject: (err: Error) => void }[] }>();
  private serial = 0;
  /** Whether a flush is scheduled or running: set with it, cleared by it as it ends, in the same turn as its last check of `pending`. */
  private running = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly run: (items: I[]) => Promise<readonly (R | Error)[] | void>,
    private readonly opts: { maxBatch?: number; key?: (item: I) => unknown } = {},
  ) {}

  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const key = this.opts.key ? this.opts.key(item) : this.serial++;
      const waiting = this.pending.get(key);
      if (waiting) waiting.waiters.push({ resolve, reject });
      else this.pending.set(key, { item, waiters: [{ resolve, reject }] });
      // The first item waits for the end of this turn, so that those arriving with it share its batch.
      if (!this.running) {
        this.running = true;
        this.flushing = new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
      }
    });
  }

  /** Resolves once no batch is being worked (a stopping service waits for it). */
  async idle(): Promise<void> {
    while (this.running) await this.flushing;
  }

  private async flush(): Promise<void> {
    while (this.pending.size) {
      const batch = [...this.pending.values()].slice(0, this.opts.maxBatch ?? 1000);
      for (const key of [...this.pending.keys()].slice(0, batch.length)) this.pending.delete(key);
      try {
        const answers = await this.run(batch.map((b) => b.item));
        batch.forEach((b, i) => {
          const answer = answers ? answers[i] : undefined;
          for (const w of b.waiters) answer instanceof Error ? w.reject(answer) : w.resolve(answer as R);
        });
      } catch (err) {
        for (const b of batch) for (const w of b.waiters) w.reject(err as Error);
      }
    }
    // No await between the last look at `pending` and this: an item added from now on starts a flush.
    this.running = false;
  }
}
