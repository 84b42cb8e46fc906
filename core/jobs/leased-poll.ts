import type { Lease, Leases } from '../ports/jobs';
import type { Logger } from '../kernel/logger';
import { IntervalJob } from './interval-job';

/** This node no longer holds the job's lease: its round ends, and the holder goes on from what is stored. */
export class LeaseLost extends Error {
  constructor(readonly lease: string) {
    super(`lease ${lease} is held by another node`);
    this.name = 'LeaseLost';
  }
}

/** What one round of a leased poll is handed besides its progress. */
export interface PollRound {
  /** Aborts when the job stops or this node loses the lease: the round should end soon after. */
  readonly signal: AbortSignal;
  /**
   * Renews the lease at once, and throws LeaseLost when another node has it. Called before a step
   * that only the holder may take (reading the next page, taking the next file); between such
   * steps the lease is renewed on its own.
   */
  stillHeld(): Promise<void>;
}

export interface LeasedPollOptions<P> {
  /** The lease's name, one per adapter and job (`poll:<adapter>`, `watch:<adapter>`). */
  name: string;
  leases: Leases;
  /** A holder that stops renewing (it died, or stalled) loses the job after this long. */
  leaseSeconds: number;
  /** Pause between the end of one round and the start of the next, on every node. */
  intervalMs: number;
  /** Longest pause after failures (doubling from intervalMs). */
  maxBackoffMs: number;
  initialDelayMs?: number;
  logger: Logger;
  /** Log messages for when this node becomes the one that runs the job, and when another node has it. */
  says: { held: string; elsewhere: string };
  /**
   * Where the work stands (a cursor, the files taken and not finished), read from the store at the
   * start of every round: a node that takes the lease over goes on exactly from what the last
   * holder committed, and never from what it only held in memory.
   */
  progress(): Promise<P>;
  /** One round from `progress`; 'again' starts another at once from progress read anew. */
  round(progress: P, round: PollRound): Promise<'done' | 'again'>;
  /** A round failed; the next one starts after `retryInMs`. Not called when the job stops or the lease is lost. */
  onError(err: unknown, failuresInARow: number, retryInMs: number): void;
}

// A round asking to go again this many times in a row waits for the next interval, so that a
// source that keeps changing under a round cannot keep a node busy for ever.
const ROUNDS_IN_A_ROW = 5;

/**
 * The base of every job that polls a department (a SOAP change feed, a drop folder): every node
 * runs the interval, but only the node holding the job's lease in the store works, so that a
 * cluster polls each department once. The holder renews the lease while it works (a third of the
 * lease at a time) and gives it up when it stops; a node that died loses it when it runs out (at
 * once, when it was a process of the same machine), and the next holder starts from the progress
 * in the store. Failures back off; losing the lease ends the round without counting as one.
 */
export class LeasedPoll<P> {
  private readonly lease: Lease;
  private readonly job: IntervalJob;

  constructor(private readonly opts: LeasedPollOptions<P>) {
    this.lease = opts.leases.lease(opts.name, opts.leaseSeconds);
    this.job = new IntervalJob({
      name: opts.name, intervalMs: opts.intervalMs, maxBackoffMs: opts.maxBackoffMs, initialDelayMs: opts.initialDelayMs,
      run: (signal) => this.run(signal),
      onError: opts.onError,
    });
  }

  /** This node as the lease's holder: what the store records as the owner of the work it takes. */
  get owner(): string {
    return this.lease.owner;
  }

  get name(): string {
    return this.lease.name;
  }

  start(): void {
    this.job.start();
  }

  /** Ends the round in progress, then gives the lease up so that another node need not wait for it to run out. */
  async stop(): Promise<void> {
    await this.job.stop();
    await this.lease.release().catch((err) => this.opts.logger.warn({ lease: this.lease.name, err: (err as Error).message }, 'lease not released; another node takes over when it runs out'));
  }

  /** Takes or renews the lease; logs when this node starts or stops being the holder. */
  private async holding(): Promise<boolean> {
    const { held, changed } = await this.lease.hold();
    if (changed) this.opts.logger.info({ lease: this.lease.name, owner: this.lease.owner }, held ? this.opts.says.held : this.opts.says.elsewhere);
    return held;
  }

  private async run(stop: AbortSignal): Promise<void> {
    if (!(await this.holding())) return;
    const lost = new AbortController();
    const loseLease = () => lost.abort(new LeaseLost(this.lease.name));
    const signal = AbortSignal.any([stop, lost.signal]);
    const heartbeat = setInterval(() => {
      this.holding().then((held) => { if (!held) loseLease(); }, (err) => {
        // Not lost yet: the lease runs until its time, and the next beat or step tries again.
        this.opts.logger.warn({ lease: this.lease.name, err: (err as Error).message }, 'lease not renewed');
      });
    }, Math.max(100, (this.opts.leaseSeconds * 1000) / 3));
    heartbeat.unref();
    const round: PollRound = {
      signal,
      stillHeld: async () => {
        if (lost.signal.aborted || !(await this.holding())) {
          loseLease();
          throw new LeaseLost(this.lease.name);
        }
      },
    };
    try {
      for (let n = 1; n <= ROUNDS_IN_A_ROW && !signal.aborted; n++) {
        const progress = await this.opts.progress();
        if ((await this.opts.round(progress, round)) !== 'again') return;
      }
    } catch (err) {
      // What this node committed stays; the holder goes on from the store. Anything else is a failure.
      if (!(err instanceof LeaseLost) && !lost.signal.aborted) throw err;
      this.opts.logger.warn({ lease: this.lease.name, owner: this.lease.owner }, 'lease lost during a round; this node stops working on it');
    } finally {
      clearInterval(heartbeat);
    }
  }
}
