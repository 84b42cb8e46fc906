export interface IntervalJobOptions {
  /** For logs and errors. */
  name: string;
  /** Pause between the end of one run and the start of the next. */
  intervalMs: number;
  /** Longest pause after failures (the pause doubles from intervalMs with each failure in a row). */
  maxBackoffMs: number;
  /** One run; should return soon after `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** A run failed; the next one starts after `retryInMs`. Not called for a run aborted by stop(). */
  onError(err: unknown, failuresInARow: number, retryInMs: number): void;
  /** First run after this pause (default 0: at once). */
  initialDelayMs?: number;
}

/**
 * The in-process job runner of embedded mode: runs one function over and over, never two runs at
 * once, with exponential backoff after failures. State that must survive a restart lives in the
 * store, not here.
 */
export class IntervalJob {
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<void> | null = null;
  private controller: AbortController | null = null;
  private stopped = true;
  private failures = 0;

  constructor(private readonly opts: IntervalJobOptions) {}

  /** Failures in a row so far (0 after a successful run). */
  get failuresInARow(): number {
    return this.failures;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.opts.initialDelayMs ?? 0);
  }

  /** Stops scheduling, aborts the run in progress and waits for it to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
    await this.current;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.runOnce().finally(() => { this.current = null; });
    }, ms);
    this.timer.unref?.();
  }

  private async runOnce(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    let next = this.opts.intervalMs;
    try {
      await this.opts.run(controller.signal);
      this.failures = 0;
    } catch (err) {
      if (!controller.signal.aborted) {
        this.failures++;
        next = Math.min(this.opts.maxBackoffMs, Math.max(this.opts.intervalMs, 100) * 2 ** (this.failures - 1));
        // ±10 % jitter, so that nodes restarted together do not poll in step.
        next = Math.round(next * (0.9 + Math.random() * 0.2));
        this.opts.onError(err, this.failures, next);
      }
    } finally {
      this.controller = null;
    }
    this.schedule(next);
  }
}
