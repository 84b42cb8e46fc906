import type { SqlDriver, SqlExecutor } from './sql-driver';
import { jsonParam } from './sql-driver';
import { isoBeijing } from './sql-time';
import type { DataKeys } from '../../core/kernel/data-keys';
import { resealed } from '../../core/kernel/data-keys';
import { holderIsGone, newClaimant } from '../../core/kernel/claimant';
import { maskText } from '../../core/kernel/personal-data';
import { abortableDelay } from '../../core/jobs/abortable-delay';
import type { DeadJob, Job, JobHandler, JobOutcome, JobQueue, JobQueueStats, JobState, JobWorker, JobWorkerOptions, NewJob } from '../../core/ports/jobs';

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

/**
 * How often a node's claims on a queue look for jobs abandoned by a holder that died: a busy queue
 * is claimed from many times a second, and the look (two statements) found nothing nearly every time.
 */
const RECLAIM_EVERY_MS = 1000;

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

/**
 * SQL: whether the job `j` is the next of its group (or has none), so that it may start: no job of
 * its group added before it is still waiting, running, or dead (holding the group until replayed).
 * One probe of the index jobs_group_open (migration 024), which stops at the first entry it finds;
 * written as an OR, so that the planner keeps it a probe per candidate (the claim reads the due jobs
 * in order and stops at its limit) rather than an anti-join over every open job of the queue's groups.
 */
const NEXT_OF_ITS_GROUP = `(j.grp IS NULL OR NOT EXISTS (
  SELECT 1 FROM jobs e WHERE e.queue = j.queue AND e.grp = j.grp AND e.seq < j.seq
    AND e.grp IS NOT NULL AND e.state IN ('waiting', 'active', 'dead')))`;

/**
 * SQL: the reason of a job held dead behind an earlier job of its group, the one given up (`keySql`,
 * the SQL of its key): written alike by the end of that job, by an add to the held group, and read by
 * an operator in the dead list. The key is the work's identity, shown in the dead list as it is.
 */
function heldReason(keySql: string): string {
  return `'held: an earlier job of its group (' || ${keySql} || ') is dead'`;
}

/**
 * SQL: the state, reason and end of a job being added, as the group it joins holds a dead job
 * (`heldBySql`, the SQL of that job's key, or NULL): dead at once behind it, or waiting.
 */
function addedState(heldBySql: string): string {
  return `CASE WHEN ${heldBySql} IS NULL THEN 'waiting' ELSE 'dead' END, ${heldReason(heldBySql)}, CASE WHEN ${heldBySql} IS NULL THEN NULL ELSE now() END`;
}

/** SQL: the key of the first dead job of a group of queue $1 (`grpSql`), which holds the group; NULL when none is dead. */
function firstDeadOf(grpSql: string): string {
  return `(SELECT d.key FROM jobs d WHERE d.queue = $1 AND d.grp = ${grpSql} AND d.grp IS NOT NULL AND d.state = 'dead' ORDER BY d.seq LIMIT 1)`;
}

/**
 * SQL: when the last job of a group of queue $1 (`grpSql`) not yet done is due; NULL when there is
 * none. A job added to the group is due no sooner (it cannot start before that one anyway), so that
 * the jobs waiting behind one retried later are not among the due jobs every claim reads through.
 */
function lastDueOf(grpSql: string): string {
  return `(SELECT o.run_at FROM jobs o WHERE o.queue = $1 AND o.grp = ${grpSql} AND o.grp IS NOT NULL AND o.state IN ('waiting', 'active', 'dead') ORDER BY o.seq DESC LIMIT 1)`;
}

/**
 * SQL: after the data-modifying CTE `ended` (one job of queue $1 ended or given back, RETURNING key,
 * grp, seq, state and run_at; no row when it was not this node's), the CTEs that carry its end to the
 * jobs of its group waiting after it. Gone dead, it holds them dead (never attempted), so that none
 * overtakes it and the group's order survives its replay. Due again later (a retry, a pause), it
 * makes them due no sooner: they could not start before it, and left due they would be read, and
 * passed over, by every claim meanwhile (a subscriber down for an hour leaves a backlog behind each
 * of its cases). The ended job's group and number are taken as values (scalar subqueries), not
 * joined to: the rows after it are then read from jobs_group_open from its number on, where a join
 * planned on a store without statistics read every open job of the queue's groups.
 */
const AFTER_ENDED = `held AS (
  UPDATE jobs SET state = 'dead', last_error = ${heldReason('(SELECT key FROM ended)')}, finished_at = now()
  WHERE jobs.queue = $1 AND jobs.grp = (SELECT grp FROM ended WHERE state = 'dead') AND jobs.grp IS NOT NULL
    AND jobs.seq > (SELECT seq FROM ended) AND jobs.state = 'waiting'),
behind AS (
  UPDATE jobs SET run_at = (SELECT run_at FROM ended)
  WHERE jobs.queue = $1 AND jobs.grp = (SELECT grp FROM ended WHERE state = 'waiting') AND jobs.grp IS NOT NULL
    AND jobs.seq > (SELECT seq FROM ended) AND jobs.state = 'waiting' AND jobs.run_at < (SELECT run_at FROM ended))`;

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
 *
 * A job may belong to a group (migration 024): its row carries the group and a sequence number drawn
 * as it is inserted, and a claim takes a grouped job only when no job of its group with a smaller
 * number is open or dead. Claims of a queue are taken one after another under its row lock, so two
 * nodes never start two jobs of one group at once.
 */
export class StoreJobQueue implements JobQueue {
  private readonly me = newClaimant();
  /** When this node last looked for abandoned jobs, per queue (this node's clock). */
  private readonly reclaimedAt = new Map<string, number>();
  /** The workers of this process, by queue: an add here wakes them at once. */
  private readonly workers = new Map<string, Set<StoreJobWorker<any>>>();

  /** `pollIntervalMs`: how often a worker looks for jobs other nodes added, or that came due, unless its options say. */
  constructor(private readonly db: SqlDriver, private readonly keys: DataKeys, private readonly pollIntervalMs = 1000) {}

  async add<P>(queue: string, key: string, payload: P, opts: { delayMs?: number; group?: string } = {}): Promise<boolean> {
    const delayMs = Math.max(0, opts.delayMs ?? 0);
    // A job of a group that holds a dead job is added dead behind it, so that it cannot overtake it;
    // one behind a job due later is due no sooner (lastDueOf). (MATERIALIZED: the group is looked up
    // once, not once for each column that asks.)
    const r = await this.db.query<{ state: string }>(
      `WITH h AS MATERIALIZED (SELECT ${firstDeadOf('$5::text')} AS held_by, ${lastDueOf('$5::text')} AS after)
       INSERT INTO jobs (queue, key, payload, run_at, grp, state, last_error, finished_at)
       SELECT $1, $2, $3, greatest(now() + make_interval(secs => $4), h.after), $5::text, ${addedState('h.held_by')} FROM h
       ON CONFLICT (queue, key) DO NOTHING RETURNING state`,
      [queue, key, this.seal(payload), delayMs / 1000, opts.group ?? null]);
    const added = r.rows.length === 1;
    if (added && delayMs === 0 && r.rows[0].state === 'waiting') this.poke(queue);
    return added;
  }

  async addMany<P>(queue: string, jobs: readonly NewJob<P>[]): Promise<number> {
    if (!jobs.length) return 0;
    // One statement, whatever the number of jobs: the rows go in as one JSON parameter, inserted in
    // the array's order (ORDER BY its ordinality), so that their sequence numbers, drawn as the rows
    // are inserted, keep it. A key met again (in the store or earlier in the array) inserts nothing;
    // each group's first dead job and last due time (as in add) are looked up once.
    const r = await this.db.query<{ added: number; waiting: number }>(
      `WITH x AS (
         SELECT * FROM ROWS FROM (json_to_recordset($2::json) AS (k text, p text, g text, s float8)) WITH ORDINALITY AS x(k, p, g, s, i)),
       h AS (SELECT g, ${firstDeadOf('groups.g')} AS held_by, ${lastDueOf('groups.g')} AS after FROM (SELECT DISTINCT g FROM x WHERE g IS NOT NULL) groups),
       added AS (
         INSERT INTO jobs (queue, key, payload, run_at, grp, state, last_error, finished_at, since)
         SELECT $1, x.k, x.p, greatest(now(), h.after), x.g, ${addedState('h.held_by')}, to_timestamp(x.s / 1000)
         FROM x LEFT JOIN h ON h.g = x.g ORDER BY x.i
         ON CONFLICT (queue, key) DO NOTHING RETURNING state)
       SELECT count(*)::int AS added, (count(*) FILTER (WHERE state = 'waiting'))::int AS waiting FROM added`,
      [queue, jsonParam(JSON.stringify(jobs.map((j) => ({ k: j.key, p: this.seal(j.payload), g: j.group ?? null, s: j.since ? j.since.getTime() : null }))))]);
    const { added, waiting } = r.rows[0];
    if (Number(waiting) > 0) this.poke(queue);
    return Number(added);
  }

  async replay(queue: string, keys?: readonly string[]): Promise<number> {
    // The jobs asked for (every dead one, or those keys), and in each of their groups every dead job
    // from the earliest asked on: the group comes back whole and in its order. A group that holds an
    // earlier dead job not asked for stays as it is, lest the jobs after it overtake it. A job comes
    // back as new: due now, its attempts and give-up age from now, its reason from before gone.
    const r = await this.db.query<{ n: number }>(
      `WITH asked AS (
         SELECT key, grp, seq FROM jobs WHERE queue = $1 AND state = 'dead' AND ($2::text[] IS NULL OR key = ANY($2::text[]))),
       froms AS (SELECT grp, min(seq) AS seq FROM asked WHERE grp IS NOT NULL GROUP BY grp),
       back AS (
         SELECT key FROM asked WHERE grp IS NULL
         UNION ALL
         SELECT j.key FROM froms f JOIN jobs j ON j.queue = $1 AND j.grp = f.grp AND j.grp IS NOT NULL AND j.state = 'dead' AND j.seq >= f.seq
         WHERE NOT EXISTS (SELECT 1 FROM jobs e WHERE e.queue = $1 AND e.grp = f.grp AND e.grp IS NOT NULL AND e.state = 'dead' AND e.seq < f.seq)),
       u AS (
         UPDATE jobs SET state = 'waiting', attempts = 0, added_at = now(), since = NULL, run_at = now(), finished_at = NULL, last_error = NULL
         FROM back WHERE jobs.queue = $1 AND jobs.key = back.key AND jobs.state = 'dead' RETURNING 1)
       SELECT count(*)::int AS n FROM u`,
      [queue, keys ? [...keys] : null]);
    const n = Number(r.rows[0].n);
    if (n > 0) this.poke(queue);
    return n;
  }

  async oldestOpen(queue: string): Promise<Date | null> {
    const r = await this.db.query<{ ms: number | null }>(
      // A job's since, or its add when it has none or a later one (a clock ahead on the node that gave it): least passes over NULL.
      "SELECT (extract(epoch FROM min(least(since, added_at))) * 1000)::float8 AS ms FROM jobs WHERE queue = $1 AND state IN ('waiting', 'active')", [queue]);
    const ms = r.rows[0]?.ms;
    return ms === null || ms === undefined ? null : new Date(Number(ms));
  }

  async stats(queue: string): Promise<JobQueueStats> {
    // Each figure is asked in the words of one partial index (jobs_open, jobs_dead, jobs_done), so
    // that it is read there, whatever the planner knows of the table: done jobs are kept for good,
    // and a scan of a queue's every job would grow with its history. The latest done is read from
    // the end of its index.
    const r = await this.db.query<{ waiting: number; active: number; dead: number; last_done_at: string | null }>(
      `SELECT o.waiting, o.active,
              (SELECT count(*)::int FROM jobs WHERE queue = $1 AND state = 'dead') AS dead,
              (SELECT ${isoBeijing('max(finished_at)')} FROM jobs WHERE queue = $1 AND state = 'done') AS last_done_at
       FROM (SELECT (count(*) FILTER (WHERE state = 'waiting'))::int AS waiting, (count(*) FILTER (WHERE state = 'active'))::int AS active
             FROM jobs WHERE queue = $1 AND state IN ('waiting', 'active')) o`, [queue]);
    const x = r.rows[0];
    return { waiting: Number(x.waiting), active: Number(x.active), dead: Number(x.dead), lastDoneAt: x.last_done_at ?? null };
  }

  async prune(queue: string, olderThanMs: number, limit: number): Promise<number> {
    // Read from the end of jobs_done (queue, finished_at) that is oldest: never the whole history.
    const r = await this.db.query<{ n: number }>(
      `WITH gone AS (
         DELETE FROM jobs WHERE queue = $1 AND key IN (
           SELECT key FROM jobs WHERE queue = $1 AND state = 'done' AND finished_at < now() - make_interval(secs => $2)
           ORDER BY finished_at LIMIT $3)
         AND state = 'done' RETURNING 1)
       SELECT count(*)::int AS n FROM gone`, [queue, olderThanMs / 1000, limit]);
    return Number(r.rows[0].n);
  }

  async purge(queue: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      // The queue's row first, as a claim takes it before the jobs' rows: the same order, so that a
      // claim still running elsewhere and the purge never wait on each other.
      await tx.query('DELETE FROM job_queues WHERE queue = $1', [queue]);
      const r = await tx.query<{ n: number }>('WITH gone AS (DELETE FROM jobs WHERE queue = $1 RETURNING 1) SELECT count(*)::int AS n FROM gone', [queue]);
      return Number(r.rows[0].n);
    });
  }

  /** Wakes the workers of this process on a queue: jobs are due. */
  private poke(queue: string): void {
    for (const w of this.workers.get(queue) ?? []) w.poke();
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
    const r = await this.db.query<{ key: string; grp: string | null; attempts: number; last_error: string | null; added_at: string; finished_at: string | null }>(
      `SELECT key, grp, attempts, last_error, ${isoBeijing('added_at')} AS added_at, ${isoBeijing('finished_at')} AS finished_at
       FROM jobs WHERE queue = $1 AND state = 'dead' ORDER BY finished_at DESC, key LIMIT $2`, [queue, limit]);
    return r.rows.map((x) => ({ key: x.key, group: x.grp, attempts: Number(x.attempts), reason: x.last_error, addedAt: x.added_at, diedAt: x.finished_at }));
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
   * within the claim horizon, nor any while the queue is paused. A job of a group is due only once it
   * is the next of its group (NEXT_OF_ITS_GROUP).
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
      if (Date.now() - (this.reclaimedAt.get(queue) ?? 0) >= RECLAIM_EVERY_MS) {
        await this.reclaimAbandoned(tx, queue, now);
        this.reclaimedAt.set(queue, Date.now());
      }
      const rows = (await tx.query<{ key: string; payload: string | null; attempts: number; added_ms: number; run_ms: number; seq: string }>(
        `UPDATE jobs SET state = 'active', attempts = jobs.attempts + 1,
           claimed_by = $3, claimed_host = $4, claimed_pid = $5, claimed_until = to_timestamp($6::float8 / 1000) + make_interval(secs => $7)
         FROM (SELECT queue, key FROM jobs j WHERE queue = $1 AND state = 'waiting' AND run_at <= to_timestamp($6::float8 / 1000)
                 AND ${NEXT_OF_ITS_GROUP}
               ORDER BY run_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) due
         WHERE jobs.queue = due.queue AND jobs.key = due.key
         RETURNING jobs.key, jobs.seq, jobs.payload, jobs.attempts, (extract(epoch FROM jobs.run_at) * 1000)::float8 AS run_ms, (extract(epoch FROM jobs.added_at) * 1000)::float8 AS added_ms`,
        [queue, k, this.me.id, this.me.host, this.me.pid, now, JOB_CLAIM_SECONDS])).rows;
      // RETURNING keeps no order: the oldest due first (of those due together, the first added), so
      // that the queue is worked in its order.
      rows.sort((a, b) => Number(a.run_ms) - Number(b.run_ms) || Number(a.seq) - Number(b.seq));
      const jobs = rows.map((r, i) => ({
        key: r.key, payload: r.payload, attempts: Number(r.attempts), addedAt: new Date(Number(r.added_ms)),
        startInMs: Math.max(0, start + i * intervalMs - now),
      }));
      if (jobs.length && intervalMs > 0) {
        await tx.query('UPDATE job_queues SET next_slot_at = to_timestamp($2::float8 / 1000) WHERE queue = $1', [queue, start + jobs.length * intervalMs]);
      }
      if (jobs.length === k) return { jobs, wakeInMs: intervalMs > 0 ? Math.max(0, start + k * intervalMs - CLAIM_HORIZON_MS - now) : 0 };
      // Some taken and nothing more due: their ends wake the worker, which claims again then.
      if (jobs.length > 0) return { jobs, wakeInMs: Number.POSITIVE_INFINITY };
      // Nothing due at all: look again when the next delayed job is. A job waiting behind an earlier
      // one of its group is no such job (it may be long overdue): it becomes due when that one ends,
      // and an end pokes the workers of its node, the others finding it at their next poll.
      const next = (await tx.query<{ ms: number | null }>(
        `SELECT (extract(epoch FROM min(run_at)) * 1000)::float8 AS ms FROM jobs j WHERE queue = $1 AND state = 'waiting' AND ${NEXT_OF_ITS_GROUP}`, [queue])).rows[0];
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

  /**
   * Ends jobs done, whoever holds them (the target's answer is the truth): many in one statement, the
   * attempts of a worker that ended together.
   */
  async finishDone(queue: string, done: readonly { key: string; result?: Record<string, unknown> }[]): Promise<void> {
    if (!done.length) return;
    // The payload goes with the job's end: a done job keeps no personal data, only its key and the answer.
    // The keys go twice: as an array, so that the rows are found by the primary key whatever the
    // planner guesses of the JSON's size (joined to it alone, it may read every job of the queue,
    // as it did on an embedded store whose statistics were not yet gathered), and with their answers.
    await this.db.query(
      `UPDATE jobs SET state = 'done', payload = NULL, result = x.r, finished_at = now(), last_error = NULL,
         claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
       FROM json_to_recordset($3::json) AS x(k text, r json)
       WHERE jobs.queue = $1 AND jobs.key = ANY($2::text[]) AND jobs.key = x.k AND jobs.state <> 'done'`,
      [queue, done.map((d) => d.key), jsonParam(JSON.stringify(done.map((d) => ({ k: d.key, r: d.result ?? {} }))))]);
  }

  /**
   * Ends a job: done (finishDone), or dead, or due again (this node's claim only). A job of a group
   * that goes dead holds the jobs of its group waiting after it dead, one due again later makes them
   * due no sooner (AFTER_ENDED).
   */
  async finish(queue: string, key: string, outcome: JobOutcome<unknown>, opts: { backoffMs: number; giveUpAfterMs: number }): Promise<JobState> {
    if (outcome.outcome === 'done') {
      await this.finishDone(queue, [{ key, result: outcome.result }]);
      return 'done';
    }
    if (outcome.outcome === 'failed') {
      const r = await this.db.query(
        `WITH ended AS (
           UPDATE jobs SET state = 'dead', last_error = $4, finished_at = now(), claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
           WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3 RETURNING key, grp, seq, state, run_at),
         ${AFTER_ENDED}
         SELECT key FROM ended`, [queue, key, this.me.id, storedReason(outcome.reason)]);
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
        `WITH ended AS (
           UPDATE jobs SET
             state = CASE WHEN added_at + make_interval(secs => $6) < now() + make_interval(secs => $5) THEN 'dead' ELSE 'waiting' END,
             run_at = now() + make_interval(secs => $5),
             finished_at = CASE WHEN added_at + make_interval(secs => $6) < now() + make_interval(secs => $5) THEN now() END,
             last_error = $4, payload = coalesce($7, payload),
             claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
           WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3 RETURNING key, grp, seq, state, run_at),
         ${AFTER_ENDED}
         SELECT state FROM ended`,
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
      `WITH ended AS (
         UPDATE jobs SET state = 'waiting', attempts = greatest(attempts - 1, 0),
           run_at = CASE WHEN $4::float8 IS NULL THEN run_at ELSE greatest(run_at, to_timestamp($4::float8 / 1000)) END,
           claimed_by = NULL, claimed_host = NULL, claimed_pid = NULL, claimed_until = NULL
         WHERE queue = $1 AND key = $2 AND state = 'active' AND claimed_by = $3 RETURNING key, grp, seq, state, run_at),
         ${AFTER_ENDED}
       SELECT 1 FROM ended`, [queue, key, this.me.id, runAtMs ?? null]);
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
  /**
   * Jobs done whose end is not yet recorded, with their attempts waiting for it: recorded together,
   * in one statement for all that ended while the one before was written (recordDone).
   */
  private readonly doneToRecord: { key: string; result?: Record<string, unknown>; recorded(): void; failed(err: unknown): void }[] = [];
  private recording = false;
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
      // While attempts run, a claim waits for half the room to be free: a claim per attempt ended
      // would cost its statements for one job each, and the store is shared by every queue.
      if (free > 0 && (this.running.size === 0 || free >= Math.ceil(this.opts.concurrency / 2))) {
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

  /**
   * Records a job done, resolving once it is in the store. Jobs that end together (a burst of
   * deliveries answered at once) would otherwise cost a statement each: the first waits for the
   * end of this turn of the event loop and writes every job done by then in one statement, and the
   * jobs done while it is written go in the next. The attempt waits for its record, so that it holds
   * its place among the running ones until then: stop() waits for it, and a job reported done is
   * done in the store. A failed write fails every attempt of the batch (onError): their jobs stay
   * claimed and come back when the claim runs out, as a lost single write would leave them.
   */
  private recordDone(key: string, result: Record<string, unknown> | undefined): Promise<void> {
    return new Promise((recorded, failed) => {
      this.doneToRecord.push({ key, result, recorded, failed });
      if (this.recording) return;
      this.recording = true;
      setImmediate(() => void this.recordBatches());
    });
  }

  private async recordBatches(): Promise<void> {
    while (this.doneToRecord.length) {
      const batch = this.doneToRecord.splice(0);
      try {
        await this.q.finishDone(this.queue, batch);
        for (const b of batch) b.recorded();
      } catch (err) {
        for (const b of batch) b.failed(err);
      }
    }
    this.recording = false;
  }

  private async giveBack(job: Job<P>, runAtMs: number | undefined): Promise<void> {
    await this.q.release(this.queue, job.key, runAtMs);
    this.opts.onOutcome?.(job, { outcome: 'retry', reason: runAtMs ? 'the queue is paused' : 'the worker stopped' }, 'released');
  }

  private async end(claimed: Claimed, outcome: JobOutcome<P>, job: Job<P> | null): Promise<void> {
    const state = outcome.outcome === 'done'
      ? (await this.recordDone(claimed.key, outcome.result), 'done' as const)
      : await this.q.finish(this.queue, claimed.key, outcome, { backoffMs: backoffMs(claimed.attempts, this.opts.backoff), giveUpAfterMs: this.opts.giveUpAfterMs });
    this.opts.onOutcome?.(job ?? { queue: this.queue, key: claimed.key, payload: undefined as P, attempt: claimed.attempts, addedAt: claimed.addedAt, signal: new AbortController().signal }, outcome, state);
  }
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
  reseal(keys: DataKeys, sealed: unknown): unknown | null {
    return resealed(keys, sealed as string, JOB_PAYLOAD_CONTEXT);
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
