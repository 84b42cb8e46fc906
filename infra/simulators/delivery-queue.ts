// What a department system does with a message the hub did not take: keep it and try again
// later, longer and longer, until the hub answers or the system gives up. Shared by the
// simulators that push over HTTP.

import type { Logger } from 'pino';
import { BackoffOptions, backoffDelay } from './backoff';
import { OutageLog } from './outage-log';
import { Random } from './random';

export type DeliveryResult =
  | { outcome: 'delivered'; detail?: Record<string, unknown> }
  /** The hub answered with a definite no; the department does not retry (a person looks at it). */
  | { outcome: 'refused'; reason: string; detail?: Record<string, unknown> }
  /**
   * Try again later. `endpointMissing`: connection refused, 404 and the like; until a retry
   * succeeds, nothing else is sent to the endpoint.
   */
  | { outcome: 'retry'; reason: string; endpointMissing?: boolean; retryAfterMs?: number };

export type DeliveryQueueOptions<T> = {
  endpoint: string;
  send: (item: T, attempt: number, signal: AbortSignal) => Promise<DeliveryResult>;
  /** Log fields naming an item; never personal data. */
  describe: (item: T) => Record<string, unknown>;
  backoff: BackoffOptions;
  /** Give an item up this long after its first attempt. */
  giveUpAfterMs?: number;
  rng: Random;
  logger: Logger;
  outages: OutageLog;
  clock?: () => number;
  summaryEveryMs?: number;
};

type Entry<T> = { item: T; attempts: number; firstAt: number; nextAt: number };

export class DeliveryQueue<T> {
  private readonly entries: Entry<T>[] = [];
  private readonly clock: () => number;
  private pausedUntil = 0;
  private counts = { delivered: 0, refused: 0, retried: 0, abandoned: 0 };
  private lastSummary: number;

  constructor(private readonly o: DeliveryQueueOptions<T>) {
    this.clock = o.clock ?? Date.now;
    this.lastSummary = this.clock();
  }

  get size(): number {
    return this.entries.length;
  }

  add(item: T): void {
    const now = this.clock();
    this.entries.push({ item, attempts: 0, firstAt: now, nextAt: now });
  }

  /** Attempts every item whose time has come, in the order they were added. */
  async deliverDue(signal: AbortSignal): Promise<void> {
    this.summarise();
    if (this.clock() < this.pausedUntil) return;
    for (const entry of [...this.entries]) {
      if (signal.aborted) return;
      if (entry.nextAt > this.clock()) continue;
      let result: DeliveryResult;
      try {
        result = await this.o.send(entry.item, entry.attempts + 1, signal);
      } catch (err) {
        if (signal.aborted) return;
        result = { outcome: 'retry', reason: (err as Error).message, endpointMissing: true };
      }
      entry.attempts++;
      if (!this.settle(entry, result)) return;
    }
  }

  /** Applies one attempt's result; false when the endpoint should not be tried again now. */
  private settle(entry: Entry<T>, result: DeliveryResult): boolean {
    const fields = this.o.describe(entry.item);
    const now = this.clock();
    if (result.outcome !== 'retry') {
      this.remove(entry);
      this.o.outages.succeeded(this.o.endpoint);
      if (result.outcome === 'delivered') {
        this.counts.delivered++;
        this.o.logger.debug({ ...fields, attempts: entry.attempts, ...result.detail }, 'delivered');
      } else {
        this.counts.refused++;
        // Info, not warn: the simulators send some bad data on purpose, and its refusal is the
        // hub doing its job.
        this.o.logger.info({ ...fields, reason: result.reason, ...result.detail }, 'refused by the hub; not retried (the department would hand it to a person)');
      }
      return true;
    }
    if (now - entry.firstAt >= (this.o.giveUpAfterMs ?? Infinity)) {
      this.remove(entry);
      this.counts.abandoned++;
      this.o.logger.error({ ...fields, attempts: entry.attempts, reason: result.reason }, 'giving up after retrying for too long');
      return true;
    }
    this.counts.retried++;
    const wait = Math.max(result.retryAfterMs ?? 0, backoffDelay(entry.attempts, this.o.backoff, this.o.rng));
    entry.nextAt = now + wait;
    this.o.outages.failed(this.o.endpoint, result.reason, { ...fields, retryInMs: wait });
    if (result.endpointMissing) {
      this.pausedUntil = entry.nextAt;
      return false;
    }
    return true;
  }

  private remove(entry: Entry<T>): void {
    this.entries.splice(this.entries.indexOf(entry), 1);
  }

  private summarise(): void {
    const now = this.clock();
    if (now - this.lastSummary < (this.o.summaryEveryMs ?? 60_000)) return;
    this.lastSummary = now;
    const c = this.counts;
    if (c.delivered + c.refused + c.retried + c.abandoned === 0 && this.entries.length === 0) return;
    this.o.logger.info({ endpoint: this.o.endpoint, ...c, pending: this.entries.length }, 'traffic in the last interval');
    this.counts = { delivered: 0, refused: 0, retried: 0, abandoned: 0 };
  }
}
