/**
 * A job that one hub node at a time runs (polling a department's feed, watching a drop folder):
 * held through the store, so that it works the same with one embedded process and with many
 * cluster nodes. The holder renews its lease every time it asks; another node takes the job over
 * once the lease has run out, or at once when the holder was a process of the same machine that
 * no longer runs. It is the hub's one lease: work a job takes on (a dropped file) is recorded
 * under the job holder's `owner`, and belongs to whoever holds the job.
 */
export interface Lease {
  /** The job's name (`poll:<adapter>`, `watch:<adapter>`). */
  readonly name: string;
  /** This node as the lease's holder. */
  readonly owner: string;
  /** Whether this node holds the job now (taking or renewing it), and whether that changed since the last call. */
  hold(): Promise<{ held: boolean; changed: boolean }>;
  /** Gives the job up at once (a node stopping), so that another node need not wait for the lease to run out. */
  release(): Promise<void>;
}

/** Leases on named jobs. */
export interface Leases {
  lease(name: string, seconds: number): Lease;
}

/**
 * A job as its handler is given it. A job is keyed: one job per key and queue, ever (the key of a
 * notification is its requestId), so that adding the same work twice (an event delivered again, a
 * restart) never does it twice.
 */
export interface Job<P> {
  readonly queue: string;
  readonly key: string;
  readonly payload: P;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** When the job was added. */
  readonly addedAt: Date;
  /**
   * Aborts when the worker stops: the handler should give up soon after and answer a retry; the job
   * is taken again (by this node after its restart, or by another) with its attempt not counted.
   */
  readonly signal: AbortSignal;
}

/**
 * What became of one attempt. A handler that throws is taken to answer `retry` with the error's
 * message: work is never lost to an exception.
 */
export type JobOutcome<P> =
  /** Done: `result` (the target's answer) is recorded in the same step as the job's end, never to be done again. */
  | { outcome: 'done'; result?: Record<string, unknown> }
  /**
   * Try again after `afterMs` (the target said when: 429 Retry-After), or after the queue's
   * exponential backoff. `pauseQueue`: the target refused because of the whole queue's pace (its
   * rate limit), so no job of the queue starts before then, on any node. `payload`: what the job
   * learned (a link fetched once), kept for the next attempt.
   */
  | { outcome: 'retry'; reason: string; afterMs?: number; pauseQueue?: boolean; payload?: P }
  /** Will never succeed (the target refused the job itself): the job goes to the dead state at once. */
  | { outcome: 'failed'; reason: string };

export type JobHandler<P> = (job: Job<P>) => Promise<JobOutcome<P>>;

/** Where a job stands after an attempt: the queue's answer to an outcome. */
export type JobState = 'done' | 'waiting' | 'dead' | 'released';

export interface JobWorkerOptions<P> {
  /** Jobs this node works on at once. */
  concurrency: number;
  /** Jobs started per second on this queue, across every node that works on it; 0: no limit. */
  ratePerSecond: number;
  /** Retry delays: firstMs after the first failure, doubling up to maxMs, each with ±20 % jitter. */
  backoff: { firstMs: number; maxMs: number };
  /** A job not done this long after it was added goes to the dead state instead of being retried. */
  giveUpAfterMs: number;
  /**
   * Called after each attempt with where the job went: done, waiting (retried), dead (failed, or
   * given up), released (the worker stopped during the attempt: not counted). For metrics and logs.
   */
  onOutcome?(job: Job<P>, outcome: JobOutcome<P>, state: JobState): void;
  /** How often a worker that polls (the store's) looks for jobs other nodes added or that came due; 1 s by default. */
  pollIntervalMs?: number;
  /** A claim of jobs (the store, Redis) failed; the worker tries again after a pause. */
  onError?(err: unknown): void;
}

/** A worker on one queue: takes jobs as they come due, until stopped. */
export interface JobWorker {
  /** Stops taking jobs, aborts the attempts in progress and waits for them to end; their jobs are released, not counted. */
  stop(): Promise<void>;
}

/** A job in the dead state: given up, kept for an operator to see. */
export interface DeadJob {
  key: string;
  /** Its group (JobQueue.add), or null: the jobs of the group added after it are held dead with it. */
  group?: string | null;
  attempts: number;
  /**
   * The last attempt's reason (personal data masked); for a job held dead behind an earlier job of
   * its group, never attempted, `held: an earlier job of its group (<key>) is dead`.
   */
  reason: string | null;
  addedAt: string;
  diedAt: string | null;
}

/** A job to add with others in one step (JobQueue.addMany). */
export interface NewJob<P> {
  key: string;
  payload: P;
  /** As JobQueue.add's `group`. */
  group?: string;
  /**
   * When the work began to wait, if before the job was added (an event's delivery: when the event
   * was applied): how far the queue lags counts from it (oldestOpen). The give-up age still counts
   * from the add.
   */
  since?: Date;
}

/** What an operator sees of a queue (JobQueue.stats). */
export interface JobQueueStats {
  /** Jobs due or delayed, retried ones among them. */
  waiting: number;
  /** Jobs a node is working on now. */
  active: number;
  /** Jobs given up (or held behind one given up), until replayed. */
  dead: number;
  /** When the latest job was done, in Beijing time (ISO 8601, +08:00); null before the first. */
  lastDoneAt: string | null;
}

/**
 * Durable work with retries (outbound deliveries): in the store when embedded, so that a restart
 * loses nothing; meant to be served by BullMQ on Redis in cluster mode as well (key = jobId,
 * delayMs = delay, outcomes = return value / thrown error / UnrecoverableError, pauseQueue =
 * worker.rateLimit, ratePerSecond = the worker's limiter).
 */
export interface JobQueue {
  /**
   * Adds a job unless the queue ever held one with this key (waiting, running, done or dead): answers
   * whether it was added. Resolves once the job is durable.
   *
   * `group`: the jobs of one queue and group are worked one at a time, in the order they were added
   * (a case's webhook deliveries to one subscriber); a job starts only once every job of its group
   * added before it is done, a retried one (backoff, a queue's pause) holding the jobs after it.
   * Different groups, and jobs without a group, are worked side by side. When a job of a group goes
   * dead, the jobs of its group waiting after it go dead with it (never attempted), and so does a
   * job added to the group before the dead one is replayed: the group's order survives a replay.
   */
  add<P>(queue: string, key: string, payload: P, opts?: { delayMs?: number; group?: string }): Promise<boolean>;
  /**
   * Adds many jobs in one step, due now, in the array's order (their order within each group), with
   * the rules of `add`: a key the queue ever held, or one that comes twice in the array (the first
   * is kept), is no new job; a job of a group holding a dead job is added dead. Answers how many
   * were added. Resolves once they are durable.
   */
  addMany<P>(queue: string, jobs: readonly NewJob<P>[]): Promise<number>;
  /** Starts working on a queue's jobs on this node. */
  work<P>(queue: string, handler: JobHandler<P>, opts: JobWorkerOptions<P>): JobWorker;
  /** Jobs not yet done nor dead: waiting (due or delayed) and running (hub_queue_depth). */
  depth(queue: string): Promise<number>;
  /** Dead jobs, most recent first. */
  dead(queue: string, limit?: number): Promise<DeadJob[]>;
  /**
   * Brings dead jobs back (an operator, once the target is mended): every dead job of the queue, or
   * those keys, due now, their attempts from 0 again, and their give-up age counted from now.
   * Replaying a job of a group replays the dead jobs of its group added after it too, so that the
   * group runs again in its order. A key whose group holds an earlier dead job that is not replayed
   * with it stays dead: run alone, it would overtake that job. Answers how many jobs came back.
   */
  replay(queue: string, keys?: readonly string[]): Promise<number>;
  /**
   * Forgets up to `limit` jobs of a queue done more than `olderThanMs` ago: their keys may then be
   * added again. For queues whose keys only need guarding for a while (a bus redelivers within
   * minutes), so that done jobs do not pile up for ever. Answers how many went.
   */
  prune(queue: string, olderThanMs: number, limit: number): Promise<number>;
  /**
   * How far the queue lags: the earliest moment a job not yet done nor dead (waiting or running)
   * began to wait, its `since` or else when it was added (a replayed job: when it was replayed);
   * null when none is open.
   */
  oldestOpen(queue: string): Promise<Date | null>;
  /** A queue's jobs by state, and when it last did one. */
  stats(queue: string): Promise<JobQueueStats>;
  /**
   * Deletes every job of a queue, whatever its state, and what the queue kept of its pace (the queue
   * is no more: its subscription was deleted). Answers how many jobs went. Workers on the queue are
   * not stopped: their owner stops them first; a job one is working on meanwhile ends without effect.
   */
  purge(queue: string): Promise<number>;
  /**
   * Moves the sealed payloads a queue keeps outside the store (BullMQ's, in Redis) to the current
   * data key, as `hub rekey` does the store's; a value changed meanwhile (`changed`) is left to the
   * next call. Absent where the payloads are rows of the store (the rekey reads them there).
   */
  resealPayloads?(): Promise<{ scanned: number; resealed: number; changed: number }>;
}
