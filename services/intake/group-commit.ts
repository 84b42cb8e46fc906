/**
 * Group commit: work submitted while a commit is under way waits for it, and goes with whatever
 * else waited into the next one; each submitter is answered once the commit that holds its own work
 * is done, never before. An idle store commits a lone submission at once, so grouping adds no wait;
 * under load, concurrent requests share one transaction's statements and its commit.
 *
 * A group that fails is not the failure of each of its parts: each part is then run again alone,
 * so that one message's refusal (a constraint, a message processed elsewhere) fails that message
 * only.
 */
export interface GroupCommitOptions<P, R> {
  /** Commits the parts together; the results in the order of the parts. */
  run(parts: readonly P[]): Promise<R[]>;
  /** Parts in one group at most. */
  maxParts: number;
  /** The sum of the parts' weights in one group at most (a part heavier alone goes alone). */
  maxWeight: number;
  /** How heavy a part is (records, bytes); 1 by default. */
  weight?: (part: P) => number;
  /** Groups committing at once (a store of one backend takes one at a time). */
  concurrency: number;
}

interface Waiting<P, R> {
  part: P;
  weight: number;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<P, R> {
  private queue: Waiting<P, R>[] = [];
  private running = 0;
  /** Groups committed, and the parts they held (what the grouping achieves). */
  readonly counts = { groups: 0, parts: 0 };

  constructor(private readonly opts: GroupCommitOptions<P, R>) {}

  submit(part: P): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ part, weight: this.opts.weight?.(part) ?? 1, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.running < this.opts.concurrency && this.queue.length) {
      const group = this.take();
      this.running++;
      void this.commit(group).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The next group: the oldest waiting parts, within the limits, at least one. */
  private take(): Waiting<P, R>[] {
    let weight = this.queue[0].weight;
    let n = 1;
    while (n < this.queue.length && n < this.opts.maxParts && weight + this.queue[n].weight <= this.opts.maxWeight) weight += this.queue[n++].weight;
    return this.queue.splice(0, n);
  }

  private async commit(group: Waiting<P, R>[]): Promise<void> {
    this.counts.groups++;
    this.counts.parts += group.length;
    try {
      const results = await this.opts.run(group.map((w) => w.part));
      group.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      if (group.length === 1) return group[0].reject(err);
      // Each part alone, one after another: its own outcome, whatever the others'.
      for (const w of group) {
        try {
          w.resolve((await this.opts.run([w.part]))[0]);
        } catch (e) {
          w.reject(e);
        }
      }
    }
  }
}
