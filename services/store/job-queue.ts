import type { SqlDriver, SqlExecutor } from './sql-driver';
import { jsonParam } from './sql-driver';
import { isoBeijing } from './sql-time';
import type { DataKeys } from '../../core/kernel/data-keys';
import { sealedKeyId } from '../../core/kernel/data-keys';
import { holderIsGone, newClaimant } from '../../core/kernel/claimant';
import { maskText } from '../../core/kernel/personal-data';
import type { DeadJob, Job, JobHandler, JobOutcome, JobQueue, JobState, JobWorker, JobWorkerOptions } from '../../core/ports/jobs';

/** The context a job's payload is sealed for (core/kernel/data-keys.ts): it opens as nothing else. */
export const JOB_PAYLOAD_CONTEXT = 'jobs.payload';

/**
 * Seconds a node holds the jobs it claimed. Far longer than an attempt takes (a request times out
 * within seconds); the jobs of a holder that died come back once it runs out, or at once when it
 * was a process of this machine.
 */
export const JOB_CLAIM_SECONDS = 60;

/**
 * How far ahead a worker claims jobs on a rate-limited queue: each claimed job gets a start slot
 * (the queue's pace), and a worker holds at most this much of the queue's future.
 */
const CLAIM_HORIZON_MS = 1000;

/** Longest pause of a worker's loop after its claims failed in a row (the store is down). */
const MAX_CLAIM_BACKOFF_MS = 30_000;

/** Longest reason kept for a job (the target's answer may be long). */
const REASON_CHARS = 500;

interface Claimed {
  key: string;
  payload: string | null;
  attempts: number;
  addedAt: Date;
  /** Milliseconds from now until its slot: it starts then, so that the queue keeps its pace. */
  startInMs: number;
}

interface Claim {
  jobs: Claimed[];
  /** When to look again, if nothing wakes the worker sooner. */
  wakeInMs: number;
}

/** A reason as it is stored and handed on: personal data masked, cut to a readable length. */
function storedReason(reason: string): string {
  const masked = maskText(reason);
  return masked.length > REASON_CHARS ? `${masked.slice(0, REASON_CHARS)}…` : masked;
}

/**
 * The job queue of the store (migration 021): durable on either store, shared by the nodes of a
 * cluster on PostgreSQL. A job is a row keyed by (queue, key), never inserted twice and kept once
 * done (its payload dropped), so a key is worked at most once to its end. Nodes claim due jobs with
 * `FOR UPDATE SKIP LOCKED` under their queue's row lock, which also holds the queue's pace (the next
 * free start slot) and a pause a target asked for, so that the rate limit and a 429's Retry-After
 * hold across nodes. Payloads are sealed under the store's data keys.
 */
export class StoreJobQueue implements JobQueue {
  private readonly me = newClaimant();
  /** The workers of this process, by queue: an add here wakes them at once. */
  private readonly workers = new Map<string, Set<StoreJobWorker<any>>>();

  /** `pollIntervalMs`: how often a worker looks for jobs other nodes added, or that came due, unless its options say. */
  constructor(private readonly db: SqlDriver, private readonly keys: DataKeys, private readonly pollIntervalMs = 1000) {}

  async add<P>(queue: string, key: string, payload: P, opts: { delayMs?: number } = {}): Promise<boolean> {
    const delayMs = Math.max(0, opts.delayMs ?? 0);
    const r = await this.db.query(
      `INSERT INTO jobs (queue, key, payload, run_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       ON CONFLICT (queue, key) DO NOTHING RETURNING key`,
      [queue, key, this.seal(payload), delayMs / 1000]);
    const added = r.rows.length === 1;
    if (added && delayMs === 0) for (const w of this.workers.get(queue) ?? []) w.poke();
    return added;
  }

  work<P>(queue: string, handler: JobHandler<P>, opts: JobWorkerOptions<P>): JobWorker {
    const worker = new StoreJobWorker<P>(this, queue, handler, opts, opts.pollIntervalMs ?? this.pollIntervalMs, () => this.workers.get(queue)?.delete(worker));
    let set = this.workers.get(queue);
    if (!set) this.workers.set(queue, (set = new Set()));
    set.add(worker);
    worker.start();
    return worker;
  }

  async depth(queue: string): Promise<number> {
    const r = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = $1 AND state IN ('waiting', 'active')", [queue]);
    return Number(r.rows[0].n);
  }

  async dead(queue: string, limit = 100): Promise<DeadJob[]> {
    const r = await this.db.query<{ key: string; attempts: number; last_error: string | null; added_at: string; finished_at: string | null }>(
      `SELECT key, attempts, last_error, ${isoBeijing('added_at')} AS added_at, ${isoBeijing('finished_at')} AS finished_at
       FROM jobs WHERE queue = $1 AND state = 'dead' ORDER BY finished_at DESC, key LIMIT $2`, [queue, limit]);
    return r.rows.map((x) => ({ key: x.key, attempts: Number(x.attempts), reason: x.last_error, addedAt: x.added_at, diedAt: x.finished_at }));
  }

  seal(payload: unknown): string {
    return this.keys.seal(JSON.stringify(payload), JOB_PAYLOAD_CONTEXT);
  }

  open<P>(sealed: string): P {
    return JSON.parse(this.keys.open(sealed, JOB_PAYLOAD_CONTEXT)) as P;
  }

  /**
   * Claims up to `limit` due jobs of a queue for this node, each with its start slot: under the
   * queue's row lock, jobs abandoned by a holder that died are made due again, then the oldest due
   * jobs are taken (skipping rows another node is taking), no more than the queue's pace lets start
   * within the claim horizon, nor any while the queue is paused.
   */
  async claim(queue: string, limit: number, intervalMs: number): Promise<Claim> {
    return this.db.transaction(async (tx) => {
      const lockQueue = () => tx.query<{ now_ms: number; slot_ms: number; paused_ms: number | null }>(
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms, (extract(epoch FROM next_slot_at) * 1000)::float8 AS slot_ms,
                (extract(epoch FROM paused_until) * 1000)::float8 AS paused_ms
         FROM job_queues WHERE queue = $1 FOR UPDATE`, [queue]);
      let q = (await lockQueue()).rows[0];
      if (!q) {
        // The queue's first claim ever: its row, then its lock.
        await tx.query('INSERT INTO job_queues (queue) VALUES ($1) ON CONFLICT (queue) DO NOTHING', [queue]);
        q = (await lockQueue()).rows[0];
      }
      const now = Number(q.now_ms);
      if (q.paused_ms !== null && Number(q.paused_ms) > now) return { jobs: [], wakeInMs: Number(q.paused_ms) - now };
      const start = Math.max(now, Number(q.slot_ms));
      const k = intervalMs > 0 ? Math.min(limit, Math.floor((now + CLAIM_HORIZON_MS - start) / intervalMs) + 1) : limit;
      if (k <= 0) return { jobs: [], wakeInMs: start - CLAIM_HORIZON_MS - now };
      await this.reclaimAbandoned(tx, queue, now);
      const rows = (await tx.query<{ key: string; payload: string | null; attempts: number; added_ms: number; run_ms: number }>(
        `UPDATE jobs SET state = 'active', attempts = jobs.attempts + 1,
           claimed_by = $3, claimed_host = $4, claimed_pid = $5, claimed_until = to_timestamp($6::float8 / 1000) + make_interval(secs => $7)
         FROM (SELECT queue, key FROM jobs WHERE queue = $1 AND state = 'waiting' AND run_at <= to_timestamp($6::float8 / 1000)
               ORDER BY run_at, key LIMIT $2 FOR UPDATE SKIP LOCKED) due
         WHERE jobs.queue = due.queue AND jobs.key = due.key
         RETURNING jobs.key, jobs.payload, jobs.attempts, (extract(epoch FROM jobs.run_at) * 1000)::float8 AS run_ms, (extract(epoch FROM jobs.added_at) * 1000)::float8 AS added_ms`,
        [queue, k, this.me.id, this.me.host, this.me.pid, now, JOB_CLAIM_SECONDS])).rows;
      // RETURNING keeps no order: the oldest due first, so that the queue is worked in its order.
      rows.sort((a, b) => Number(a.run_ms) - Number(b.run_ms) || a.key.localeCompare(b.key));
      const jobs = rows.map((r, i) => ({
        key: r.key, payload: r.payload, attempts: Number(r.attempts), addedAt: new Date(Number(r.added_ms)),
        startInMs: Math.max(0, start + i * intervalMs - now),
      }));
      if (jobs.length && intervalMs > 0) {
        await tx.query('UPDATE job_queues SET next_slot_at = to_timestamp($2::float8 / 1000) WHERE queue = $1', [queue, start + jobs.length * intervalMs]);
      }
      if (jobs.length === k) return { jobs, wakeInMs: intervalMs > 0 ? Math.max(0, start + k * intervalMs - CLAIM_HORIZON_MS - now) : 0 };
      // Nothing more is due: look again when the next delayed job is.
      const next = (await tx.query<{ ms: number | null }>(
        "SELECT (extract(epoch FROM min(run_at)) * 1000)::float8 AS ms FROM jobs WHERE queue = $1 AND state = 'waiting'", [queue])).rows[0];
      return { jobs, wakeInMs: next.ms === null ? Number.POSITIVE_INFINITY : Math.max(0, Number(next.ms) - now) };
    });
  }

  /**
   * Makes due again the jobs whose holder's claim ran out, or whose holder was a process of this
   * machine that no longer runs (a hub killed mid-send, restarted): its attempt counts, and the
   * job is sent again under the same key (the target drops the duplicate by it).
   */
  private async reclaimAbandoned(tx: SqlExecutor, queue: string, now: number): Promise<void> {
    const holders = (await tx.query<{ claimed_by: string; claimed_host: string | null; claimed_pid: number | null }>(
      "SELECT DISTINCT claimed_by, claimed_host, claimed_pid FROM jobs WHERE queue = $1 AND state = 'active' AND claimed_by <> $2", [queue, this.me.id])).rows;
    const gone = holders.filter((h) => holderIsGone(this.me, { host: h.claimed_host, pid: h.claimed_pid })).map((h) => h.claimed_by);
    await tx.query(
      `UPDATE jobs SET state = 'waiting', claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
       FROM (SELECT queue, key FROM jobs WHERE queue = $1 AND state = 'active'
               AND (claimed_until < to_timestamp($2::float8 / 1000) OR claimed_by = ANY($3::text[]))
             FOR UPDATE SKIP LOCKED) lost
       WHERE jobs.queue = lost.queue AND jobs.key = lost.key`, [queue, now, gone]);
  }

  /** Ends a job: done (whoever holds it: the target's answer is the truth), or dead, or due again (this node's claim only). */
  async finish(queue: string, key: string, outcome: JobOutcome<unknown>, opts: { backoffMs: number; giveUpAfterMs: number }): Promise<JobState> {
    if (outcome.outcome === 'done') {
      // The payload goes with the job's end: a done job keeps no personal data, only its key and the answer.
      await this.db.query(
        `UPDATE jobs SET state = 'done', payload = NULL, result = $3::json, finished_at = now(), last_error = NULL,
           claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
         WHERE queue = $1 AND key = $2 AND state <> 'done'`, [queue, key, jsonParam(JSON.stringify(outcome.result ?? {}))]);
      return 'done';
    }
    if (outcome.outcome === 'failed') {
      const r = await this.db.query(
        `UPDATE jobs SET state = 'dead', last_error = $4, finished_at = now(), claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
         WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3 RETURNING key`, [queue, key, this.me.id, storedReason(outcome.reason)]);
      return r.rows.length ? 'dead' : 'released';
    }
    const delayMs = Math.max(0, outcome.afterMs ?? opts.backoffMs);
    return this.db.transaction(async (tx) => {
      // The queue's row first, as a claim locks it: the same order, so that the two never wait on each other.
      if (outcome.pauseQueue && outcome.afterMs !== undefined) {
        await tx.query(
          `UPDATE job_queues SET paused_until = greatest(paused_until, now() + make_interval(secs => $2)), next_slot_at = greatest(next_slot_at, now() + make_interval(secs => $2))
           WHERE queue = $1`, [queue, delayMs / 1000]);
      }
      const r = await tx.query<{ state: JobState }>(
        `UPDATE jobs SET
           state = CASE WHEN added_at + make_interval(secs => $6) < now() + make_interval(secs => $5) THEN 'dead' ELSE 'waiting' END,
           run_at = now() + make_interval(secs => $5),
           finished_at = CASE WHEN added_at + make_interval(secs => $6) < now() + make_interval(secs => $5) THEN now() END,
           last_error = $4, payload = coalesce($7, payload),
           claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
         WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3 RETURNING state`,
        [queue, key, this.me.id, storedReason(outcome.reason), delayMs / 1000, opts.giveUpAfterMs / 1000, outcome.payload === undefined ? null : this.seal(outcome.payload)]);
      return r.rows[0]?.state ?? 'released';
    });
  }

  /** Until when the queue is paused (epoch ms by this node's clock), or 0. */
  async pausedUntil(queue: string): Promise<number> {
    const r = await this.db.query<{ ms: number | null }>(
      'SELECT (extract(epoch FROM paused_until - clock_timestamp()) * 1000)::float8 AS ms FROM job_queues WHERE queue = $1', [queue]);
    const ms = r.rows[0]?.ms;
    return ms !== null && ms !== undefined && Number(ms) > 0 ? Date.now() + Number(ms) : 0;
  }

  /** Gives a claimed job back, its attempt not counted (the worker stopped, or the queue is paused): due at `runAtMs` (epoch) or now. */
  async release(queue: string, key: string, runAtMs?: number): Promise<void> {
    await this.db.query(
      `UPDATE jobs SET state = 'waiting', attempts = greatest(attempts - 1, 0),
         run_at = CASE WHEN $4::float8 IS NULL THEN run_at ELSE greatest(run_at, to_timestamp($4::float8 / 1000)) END,
         claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
       WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3`, [queue, key, this.me.id, runAtMs ?? null]);
  }
}

/** Exponential backoff with ±20 % jitter: the n-th failure in a row (from 1) waits first·2^(n-1), at most max. */
export function backoffMs(attempt: number, backoff: { firstMs: number; maxMs: number }, random = Math.random): number {
  const plain = Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.max(0, attempt - 1));
  // Jitter, so that jobs that failed together (a gateway outage) do not all come back at one moment.
  return Math.round(plain * (0.8 + random() * 0.4));
}

/**
 * One node's worker on one queue: a loop that claims due jobs while it has room (concurrency), starts
 * each at its slot, and sleeps until the next slot, the next delayed job, a poll interval, or a
 * poke (a job added in this process, an attempt ended).
 */
class StoreJobWorker<P> implements JobWorker {
  private stopped = true;
  private loop: Promise<void> | null = null;
  private readonly running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private poked = false;
  private wake: (() => void) | null = null;
  /** A pause a target asked for that this node learned (epoch ms): jobs already claimed wait for it too. */
  private pausedUntil = 0;
  /** The earliest moment (this node's clock) the next job may start on a rate-limited queue. */
  private nextStart = 0;
  private readonly intervalMs: number;

  constructor(
    private readonly q: StoreJobQueue,
    private readonly queue: string,
    private readonly handler: JobHandler<P>,
    private readonly opts: JobWorkerOptions<P>,
    private readonly pollIntervalMs: number,
    private readonly forget: () => void,
  ) {
    this.intervalMs = opts.ratePerSecond > 0 ? 1000 / opts.ratePerSecond : 0;
  }

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.poke();
    await this.loop;
    for (const r of this.running.values()) r.controller.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.forget();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      this.poked = false;
      let waitMs = this.pollIntervalMs;
      const free = this.opts.concurrency - this.running.size;
      if (free > 0) {
        try {
          const claim = await this.q.claim(this.queue, free, this.intervalMs);
          failures = 0;
          for (const job of claim.jobs) this.begin(job);
          waitMs = Math.min(this.pollIntervalMs, claim.wakeInMs);
        } catch (err) {
          failures++;
          this.opts.onError?.(err);
          waitMs = Math.min(MAX_CLAIM_BACKOFF_MS, this.pollIntervalMs * 2 ** failures);
        }
      }
      await this.sleep(waitMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.poked || this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private begin(claimed: Claimed): void {
    const controller = new AbortController();
    const done = this.attempt(claimed, controller.signal)
      .catch((err) => this.opts.onError?.(err))
      .finally(() => {
        this.running.delete(claimed.key);
        this.poke();
      });
    this.running.set(claimed.key, { controller, done });
  }

  private async attempt(claimed: Claimed, signal: AbortSignal): Promise<void> {
    if (claimed.startInMs > 0) {
      await abortableDelay(claimed.startInMs, signal);
      // A target may have asked another node for a pause while this job waited for its slot.
      if (!signal.aborted) this.pausedUntil = Math.max(this.pausedUntil, await this.q.pausedUntil(this.queue));
    }
    let payload: P;
    try {
      payload = this.q.open<P>(claimed.payload ?? '');
    } catch (err) {
      await this.end(claimed, { outcome: 'retry', reason: `the job's payload does not open: ${(err as Error).message}` }, null);
      return;
    }
    const job: Job<P> = { queue: this.queue, key: claimed.key, payload, attempt: claimed.attempts, addedAt: claimed.addedAt, signal };
    if (this.intervalMs > 0 && !signal.aborted) {
      // The slots are kept apart by the store's clock; timers that fire late (a busy process) would
      // bunch their jobs together, and a target counting a sliding second would see more than its
      // rate. This node's starts are kept at least one interval apart by its own clock too.
      const startAt = Math.max(Date.now(), this.nextStart);
      this.nextStart = startAt + this.intervalMs;
      if (startAt > Date.now()) await abortableDelay(startAt - Date.now(), signal);
    }
    if (this.stopped || signal.aborted) return this.giveBack(job, undefined);
    // A target asked for a pause after this job was claimed: it waits too, its attempt not counted.
    if (this.pausedUntil > Date.now()) return this.giveBack(job, this.pausedUntil);
    let outcome: JobOutcome<P>;
    try {
      outcome = await this.handler(job);
    } catch (err) {
      outcome = { outcome: 'retry', reason: (err as Error)?.message ?? String(err) };
    }
    // Stopped during the attempt: unless it was done, the job is given back whole.
    if (signal.aborted && outcome.outcome !== 'done') return this.giveBack(job, undefined);
    if (outcome.outcome === 'retry' && outcome.pauseQueue && outcome.afterMs !== undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + outcome.afterMs);
    }
    await this.end(claimed, outcome, job);
  }

  private async giveBack(job: Job<P>, runAtMs: number | undefined): Promise<void> {
    await this.q.release(this.queue, job.key, runAtMs);
    this.opts.onOutcome?.(job, { outcome: 'retry', reason: runAtMs ? 'the queue is paused' : 'the worker stopped' }, 'released');
  }

  private async end(claimed: Claimed, outcome: JobOutcome<P>, job: Job<P> | null): Promise<void> {
    const state = await this.q.finish(this.queue, claimed.key, outcome, { backoffMs: backoffMs(claimed.attempts, this.opts.backoff), giveUpAfterMs: this.opts.giveUpAfterMs });
    this.opts.onOutcome?.(job ?? { queue: this.queue, key: claimed.key, payload: undefined as P, attempt: claimed.attempts, addedAt: claimed.addedAt, signal: new AbortController().signal }, outcome, state);
  }
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    }
    signal.addEventListener('abort', finish, { once: true });
  });
}

/**
 * The jobs' sealed payloads as `hub rekey` moves them to the current key (services/keys/rekey.ts,
 * one of its tables): waiting and dead jobs hold one (done jobs none), read in (queue, key) order,
 * resealed, written back only where unchanged since read (a job finished meanwhile is left).
 */
export const JOBS_SEALED = {
  name: 'jobs',
  async read(db: SqlDriver, after: string, limit: number): Promise<{ key: string; values: unknown }[]> {
    // The cursor is `<queue>\n<key>` (a queue's name holds no line break); '' before the first row.
    const cut = after.indexOf('\n');
    const [queue, key] = cut < 0 ? ['', ''] : [after.slice(0, cut), after.slice(cut + 1)];
    const r = await db.query<{ queue: string; key: string; payload: string }>(
      `SELECT queue, key, payload FROM jobs WHERE (queue, key) > ($1, $2) AND payload IS NOT NULL ORDER BY queue, key LIMIT $3`,
      [queue, key, limit]);
    return r.rows.map((x) => ({ key: `${x.queue}\n${x.key}`, values: x.payload }));
  },
  reseal(keys: DataKeys, payload: unknown): unknown | null {
    const sealed = payload as string;
    if (sealedKeyId(sealed) === keys.currentId) return null;
    return keys.seal(keys.open(sealed, JOB_PAYLOAD_CONTEXT), JOB_PAYLOAD_CONTEXT);
  },
  async write(db: SqlDriver, rows: { key: string; old: unknown; values: unknown }[]): Promise<number> {
    const r = await db.query<{ n: number }>(
      `WITH u AS (
         UPDATE jobs SET payload = x.v FROM json_to_recordset($1::json) AS x(q text, k text, v text, o text)
         WHERE jobs.queue = x.q AND jobs.key = x.k AND jobs.payload = x.o RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [jsonParam(JSON.stringify(rows.map((w) => {
        const cut = w.key.indexOf('\n');
        return { q: w.key.slice(0, cut), k: w.key.slice(cut + 1), v: w.values, o: w.old };
      })))]);
    return Number(r.rows[0].n);
  },
};
