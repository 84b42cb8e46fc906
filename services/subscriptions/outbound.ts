import type { CaseEvent, OutboundEvent } from '../../contracts/types';
import type { OutboundConfig, SubscriptionConfig } from '../../core/kernel/config';
import type { DataKeys } from '../../core/kernel/data-keys';
import type { Logger } from '../../core/kernel/logger';
import type { HubMetrics } from '../../core/kernel/metrics';
import { OUTBOUND_QUEUE, OutboundResult } from '../../core/kernel/constants';
import type { Job, JobOutcome, JobQueue, JobState, JobWorker, NewJob } from '../../core/ports/jobs';
import type { AlertItem } from '../supervisor/supervision-store';
import { Batcher } from '../../core/jobs/batcher';
import { alertChange, appliedChange, matches, OutboundChange, OUTBOUND_TYPES } from './outbound-event';
import { deliver } from './delivery';
import type { SubscriptionRecord, SubscriptionStore } from './subscription-store';

/** A subscription's job queue: its own pace (ratePerSecond) and its own pause when it answers 429. */
export function outboundQueue(id: string): string {
  return `${OUTBOUND_QUEUE}:${id}`;
}

/** A delivery waiting in a subscription's queue: the body as that subscription is sent it (sealed at rest by the queue). */
export interface OutboundJob {
  event: OutboundEvent;
}

/**
 * What the bus hands the outbound service: an applied event (with when it was applied, when the bus
 * message says), or an alert of the supervisor.
 */
export type OutboundInput = { kind: 'applied'; event: CaseEvent; appliedAt?: Date | null } | { kind: 'alert'; alert: AlertItem };

/** Since when a change has waited for its deliveries (hub_outbound_lag_seconds): an event's application, an alert's time. */
function waitingSince(input: OutboundInput): Date | undefined {
  if (input.kind === 'applied') return input.appliedAt ?? undefined;
  const at = Date.parse(input.alert.at);
  return Number.isFinite(at) ? new Date(at) : undefined;
}

/** Changes queued in one statement per subscription at most: the bus's messages in flight (the dispatcher's default round). */
export const MAX_BATCH = 500;

/** How often a node forgets the deliveries taken longer ago than outbound.keepDoneDays, and how many per statement. */
const PRUNE_EVERY_MS = 3600_000;
const PRUNE_BATCH = 10_000;

/**
 * A node records a subscription's last success, and its last error, at most this often: a row write
 * per delivery would halve the pace, and one per failed attempt would load the store most while a
 * subscriber is down and every delivery fails.
 */
const SUCCESS_WRITE_MS = 1000;

export interface OutboundDeps {
  config: OutboundConfig;
  /** The configuration's subscriptions (their secrets read at start). */
  configured: readonly SubscriptionConfig[];
  store: SubscriptionStore;
  jobs: JobQueue;
  keys: DataKeys;
  metrics: HubMetrics;
  logger: Logger;
}

/**
 * Outbound subscriptions on one node: turns every case change the bus hands it into one queued
 * delivery per subscription whose filter takes it (durably, before the bus lets the change go),
 * and delivers each subscription's queue (the jobs port) to its URL, signed, in order per case.
 *
 * Order per case: changes are queued in the order the bus hands them over, batch after batch, never
 * two batches at once, and each delivery is queued in its case's group, whose jobs the queue works
 * one at a time in the order they were added. A delivery that goes dead holds its case's later
 * ones dead with it until a replay (the job queue's rule), so that a replay keeps the order too.
 */
export class Outbound {
  private subscriptions = new Map<string, SubscriptionRecord>();
  private readonly workers = new Map<string, { worker: JobWorker; rate: number }>();
  /** Changes queued together, in the order the bus hands them over (batches one at a time). */
  private readonly batcher = new Batcher<OutboundInput, number>((inputs) => this.queue(inputs), { maxBatch: MAX_BATCH });
  private running = false;
  /** The outbound result of each attempt in progress, by subscription and key: what its outcome is counted as. */
  private readonly results = new Map<string, OutboundResult>();
  private readonly successWritten = new Map<string, number>();
  private readonly failureWritten = new Map<string, number>();
  /** Whether each subscription's last attempt failed: logged when that changes, not for every delivery. */
  private readonly down = new Map<string, boolean>();
  private gaugeTimer: NodeJS.Timeout | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;

  constructor(private readonly deps: OutboundDeps) {}

  /** Every subscription in force: the configuration's, then those created through the API. */
  list(): SubscriptionRecord[] {
    return [...this.subscriptions.values()];
  }

  get(id: string): SubscriptionRecord | undefined {
    return this.subscriptions.get(id);
  }

  configured(id: string): boolean {
    return this.deps.configured.some((s) => s.id === id);
  }

  /**
   * Reads the subscriptions again (the store's may have changed on another node), and on a running
   * node starts delivering the new ones and stops the removed ones. Calls made while one runs share
   * the next run.
   */
  reload(): Promise<void> {
    const run = async () => {
      const stored = await this.deps.store.list();
      const next = new Map<string, SubscriptionRecord>();
      for (const s of this.deps.configured) next.set(s.id, { ...s, origin: 'config', createdAt: null });
      for (const s of stored) {
        if (next.has(s.id)) {
          this.deps.logger.warn({ subscription: s.id }, 'a stored subscription has the id of one of the configuration: the configuration\'s is in force');
          continue;
        }
        next.set(s.id, s);
      }
      this.subscriptions = next;
      if (this.running) await this.syncWorkers();
    };
    // The caller has the run's outcome (a store that does not answer fails it); the next call waits
    // for it settled, never for its failure, which nobody else would handle.
    const chained = (this.reloading ?? Promise.resolve()).then(run);
    const settled: Promise<void> = chained.catch(() => undefined).then(() => {
      if (this.reloading === settled) this.reloading = null;
    });
    this.reloading = settled;
    return chained;
  }

  /** Starts delivering on this node, and keeps hub_queue_depth{queue="outbound"} and the lag gauges. */
  async start(): Promise<void> {
    this.running = true;
    await this.syncWorkers();
    const refresh = () => {
      this.refreshGauges().catch((err) => this.deps.logger.warn({ err: (err as Error)?.message }, 'outbound queue depth could not be read'));
    };
    this.gaugeTimer = setInterval(refresh, 1000);
    this.gaugeTimer.unref();
    refresh();
    const prune = () => {
      this.prune().catch((err) => this.deps.logger.warn({ err: (err as Error)?.message }, 'deliveries taken long ago could not be forgotten; trying again later'));
    };
    this.pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
    this.pruneTimer.unref();
  }

  /**
   * Forgets, per subscription, the deliveries taken longer ago than outbound.keepDoneDays: done jobs
   * are kept only to make an event handed over again no second delivery, which a bus does within
   * minutes. Any node may do it; two at once delete each row once.
   */
  async prune(): Promise<number> {
    const olderThanMs = this.deps.config.keepDoneDays * 86_400_000;
    let total = 0;
    for (const s of this.subscriptions.values()) {
      for (;;) {
        const n = await this.deps.jobs.prune(outboundQueue(s.id), olderThanMs, PRUNE_BATCH);
        total += n;
        if (n < PRUNE_BATCH || !this.running) break;
      }
    }
    if (total) this.deps.logger.info({ forgotten: total, keepDoneDays: this.deps.config.keepDoneDays }, 'deliveries taken long ago forgotten');
    return total;
  }

  /** Stops taking changes' deliveries on this node: deliveries in flight end first (their answers are recorded). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.gaugeTimer = null;
    this.pruneTimer = null;
    await this.batcher.idle();
    await Promise.all([...this.workers.values()].map((w) => w.worker.stop()));
    this.workers.clear();
  }

  /**
   * Queues a change's deliveries, one per subscription that takes it; resolves once they are
   * durable (the bus may then let the change go), with how many. Changes are queued in the order
   * they are taken.
   */
  take(input: OutboundInput): Promise<number> {
    // No subscription in force: nothing to queue, and no reason to ask the store anything.
    if (!this.subscriptions.size) return Promise.resolve(0);
    return this.batcher.add(input);
  }

  /** The batch's deliveries, queued per subscription in one statement; per input, how many, or why not. */
  private async queue(inputs: readonly OutboundInput[]): Promise<(number | Error)[]> {
    // The cases of the alerts, when a subscription may take one: an alert names no item nor status.
    const wantsAlerts = [...this.subscriptions.values()].some((s) => !s.filter.types || s.filter.types.some((t) => t !== OUTBOUND_TYPES.applied));
    const alerts = wantsAlerts ? inputs.flatMap((i) => (i.kind === 'alert' ? [i.alert.supervisionCode] : [])) : [];
    const facts = alerts.length ? await this.deps.store.caseFacts(alerts) : new Map();
    const changes: (OutboundChange | null | Error)[] = inputs.map((i) => {
      try {
        if (i.kind === 'applied') return appliedChange(i.event, this.deps.keys);
        if (!wantsAlerts) return null;
        const change = alertChange(i.alert, facts.get(i.alert.supervisionCode));
        if (!change) this.deps.logger.warn({ alertId: i.alert.id, supervisionCode: i.alert.supervisionCode }, 'an alert names a case the store does not hold: not delivered');
        return change;
      } catch (err) {
        return err as Error;
      }
    });
    const counts: (number | Error)[] = changes.map((c) => (c instanceof Error ? c : 0));
    for (const s of this.subscriptions.values()) {
      const jobs: NewJob<OutboundJob>[] = [];
      changes.forEach((c, i) => {
        if (!c || c instanceof Error || !matches(s.filter, c)) return;
        jobs.push({ key: c.id, group: c.supervisionCode, payload: { event: s.personalData ? c.clear : c.masked }, since: waitingSince(inputs[i]) });
        counts[i] = (counts[i] as number) + 1;
      });
      if (jobs.length) await this.deps.jobs.addMany(outboundQueue(s.id), jobs);
    }
    return counts;
  }

  /** One worker per subscription in force; one whose pace changed is started again with it. */
  private async syncWorkers(): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [id, w] of this.workers) {
      const s = this.subscriptions.get(id);
      if (s && s.ratePerSecond === w.rate) continue;
      this.workers.delete(id);
      stops.push(w.worker.stop());
      if (!s) this.deps.metrics.outboundLag.remove({ target: id });
    }
    await Promise.all(stops);
    if (!this.running) return;
    const { config } = this.deps;
    for (const s of this.subscriptions.values()) {
      if (this.workers.has(s.id)) continue;
      const worker = this.deps.jobs.work<OutboundJob>(outboundQueue(s.id), (job) => this.attempt(s.id, job), {
        concurrency: config.concurrency,
        ratePerSecond: s.ratePerSecond,
        backoff: { firstMs: config.retry.firstDelayMs, maxMs: config.retry.maxDelayMs },
        giveUpAfterMs: config.retry.giveUpHours * 3600_000,
        pollIntervalMs: config.pollIntervalMs,
        onOutcome: (job, outcome, state) => this.counted(s.id, job, outcome, state),
        onError: (err) => this.deps.logger.error({ subscription: s.id, err: (err as Error)?.message }, 'the subscription\'s deliveries could not be read; trying again'),
      });
      this.workers.set(s.id, { worker, rate: s.ratePerSecond });
    }
  }

  /** One attempt at a delivery. */
  private async attempt(id: string, job: Job<OutboundJob>): Promise<JobOutcome<OutboundJob>> {
    const s = this.subscriptions.get(id);
    if (!s) return { outcome: 'retry', reason: `subscription ${id} is no longer in force on this node` };
    const answer = await deliver(s, job.payload.event, this.deps.config.timeoutMs);
    const at = `${id}\n${job.key}`;
    switch (answer.kind) {
      case 'taken':
        this.results.set(at, 'sent');
        this.upAgain(id);
        this.noteSuccess(id);
        return { outcome: 'done', result: { status: answer.status } };
      case 'throttled':
        this.results.set(at, 'throttled');
        this.noteFailure(id, job, answer.reason);
        // The subscriber's limit is the whole subscription's: nothing is sent to it, from any node, before it said.
        return { outcome: 'retry', reason: answer.reason, ...(answer.retryAfterMs !== undefined ? { afterMs: answer.retryAfterMs, pauseQueue: true } : {}) };
      case 'unavailable':
        this.results.set(at, 'error');
        this.noteFailure(id, job, answer.reason);
        return { outcome: 'retry', reason: answer.reason };
      case 'refused':
        this.results.set(at, 'rejected');
        this.noteFailure(id, job, answer.reason);
        return { outcome: 'failed', reason: answer.reason };
    }
  }

  /** Counts an attempt in hub_outbound_total, and logs what an operator must see: a delivery given up. */
  private counted(id: string, job: Job<OutboundJob>, outcome: JobOutcome<OutboundJob>, state: JobState): void {
    const at = `${id}\n${job.key}`;
    let result = this.results.get(at);
    this.results.delete(at);
    if (state === 'released') return;
    if (state === 'dead') {
      if (result !== 'rejected') result = 'expired';
      const reason = outcome.outcome === 'done' ? null : outcome.reason;
      this.deps.logger.error({ subscription: id, eventId: job.key, supervisionCode: job.payload?.event?.subject, attempts: job.attempt, reason },
        result === 'rejected'
          ? 'delivery refused by the subscriber: in the outbound dead letters, with its case\'s later events, until replayed'
          : 'delivery not taken within the give-up age: in the outbound dead letters, with its case\'s later events, until replayed');
    }
    if (result) this.deps.metrics.outbound.inc({ target: id, result });
  }

  private noteSuccess(id: string): void {
    const now = Date.now();
    if (now - (this.successWritten.get(id) ?? 0) < SUCCESS_WRITE_MS) return;
    this.successWritten.set(id, now);
    this.deps.store.succeeded(id).catch((err) => this.deps.logger.warn({ subscription: id, err: (err as Error)?.message }, 'a subscription\'s last success could not be recorded'));
  }

  private noteFailure(id: string, job: Job<OutboundJob>, reason: string): void {
    if (!this.down.get(id)) {
      this.down.set(id, true);
      this.deps.logger.warn({ subscription: id, eventId: job.key, attempt: job.attempt, reason }, 'a subscriber does not take deliveries: they wait in its queue and are retried');
    }
    const now = Date.now();
    if (now - (this.failureWritten.get(id) ?? 0) < SUCCESS_WRITE_MS) return;
    this.failureWritten.set(id, now);
    this.deps.store.failed(id, reason).catch((err) => this.deps.logger.warn({ subscription: id, err: (err as Error)?.message }, 'a subscription\'s last error could not be recorded'));
  }

  private upAgain(id: string): void {
    if (!this.down.get(id)) return;
    this.down.set(id, false);
    this.deps.logger.info({ subscription: id }, 'a subscriber takes deliveries again');
  }

  /** What an operator sees of a subscription's deliveries (GET /api/v1/subscriptions/{id}/status). */
  async status(id: string): Promise<SubscriptionStatus> {
    const queue = outboundQueue(id);
    const [stats, oldest, outcomes] = await Promise.all([this.deps.jobs.stats(queue), this.deps.jobs.oldestOpen(queue), this.deps.store.outcomes(id)]);
    const lastSuccessAt = [stats.lastDoneAt, outcomes.lastSuccessAt].filter((x): x is string => !!x).sort((a, b) => Date.parse(b) - Date.parse(a))[0] ?? null;
    return {
      id,
      backlog: stats.waiting + stats.active,
      inFlight: stats.active,
      dead: stats.dead,
      lagSeconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0,
      lastSuccessAt,
      lastError: outcomes.lastError,
    };
  }

  private async refreshGauges(): Promise<void> {
    let depth = 0;
    for (const s of this.subscriptions.values()) {
      const queue = outboundQueue(s.id);
      const [n, oldest] = await Promise.all([this.deps.jobs.depth(queue), this.deps.jobs.oldestOpen(queue)]);
      depth += n;
      this.deps.metrics.outboundLag.set({ target: s.id }, oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
    }
    this.deps.metrics.queueDepth.set({ queue: OUTBOUND_QUEUE }, depth);
  }
}

export interface SubscriptionStatus {
  id: string;
  /** Deliveries not yet taken: waiting (due or retried later) and in flight. */
  backlog: number;
  inFlight: number;
  /** Deliveries in the outbound dead letters (refused, given up, or held behind one of their case that was). */
  dead: number;
  /** Age of the oldest delivery not yet taken. */
  lagSeconds: number;
  lastSuccessAt: string | null;
  lastError: { at: string; reason: string } | null;
}
