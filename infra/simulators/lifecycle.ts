// Every department reports the same kind of case life: submitted, accepted or refused, reviewed,
// perhaps paused for missing material or an external check, decided, completed, delivered. The
// simulators plan lives in these neutral steps and each one spells them in its own codes.

import { Random } from './random';

export type Step =
  | 'SUBMITTED' | 'ACCEPTED' | 'REFUSED' | 'UNDER_REVIEW'
  | 'SUPPLEMENT_REQUESTED' | 'SUPPLEMENTED' | 'SUSPENDED' | 'RESUMED'
  | 'APPROVED' | 'DENIED' | 'COMPLETED' | 'DELIVERED' | 'WITHDRAWN';

export type LifecycleShape = {
  /** Whether an approved case ends with a hand-over (certificate, plates, licence). */
  delivers: boolean;
  /** 即办件: handled on the spot, no review, no pauses. */
  instant?: boolean;
};

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// How long after the previous status each status typically follows: [min, max] ms.
const GAPS: Record<Step, [number, number]> = {
  SUBMITTED: [0, 0],
  ACCEPTED: [5 * MINUTE, 20 * HOUR],
  REFUSED: [10 * MINUTE, DAY],
  UNDER_REVIEW: [MINUTE, 4 * HOUR],
  SUPPLEMENT_REQUESTED: [30 * MINUTE, DAY],
  SUPPLEMENTED: [2 * HOUR, 3 * DAY],
  SUSPENDED: [HOUR, DAY],
  RESUMED: [4 * HOUR, 5 * DAY],
  APPROVED: [HOUR, 3 * DAY],
  DENIED: [HOUR, 3 * DAY],
  COMPLETED: [MINUTE, 4 * HOUR],
  DELIVERED: [10 * MINUTE, DAY],
  WITHDRAWN: [HOUR, 2 * DAY],
};

/** The statuses one case will go through, in order. */
export function planLifecycle(rng: Random, shape: LifecycleShape): Step[] {
  const steps: Step[] = ['SUBMITTED'];
  if (rng.chance(0.07)) return [...steps, 'REFUSED'];
  steps.push('ACCEPTED');
  if (shape.instant) {
    steps.push('APPROVED', 'COMPLETED');
    if (shape.delivers) steps.push('DELIVERED');
    return steps;
  }
  if (rng.chance(0.02)) return [...steps, 'WITHDRAWN'];
  steps.push('UNDER_REVIEW');
  if (rng.chance(0.25)) {
    steps.push('SUPPLEMENT_REQUESTED');
    if (rng.chance(0.1)) return [...steps, 'WITHDRAWN'];
    steps.push('SUPPLEMENTED');
    // A second request for material breaks the one-time-notice rule (一次性告知); it happens.
    if (rng.chance(0.05)) steps.push('SUPPLEMENT_REQUESTED', 'SUPPLEMENTED');
  }
  if (rng.chance(0.12)) steps.push('SUSPENDED', 'RESUMED');
  const approved = rng.chance(0.88);
  steps.push(approved ? 'APPROVED' : 'DENIED', 'COMPLETED');
  if (approved && shape.delivers) steps.push('DELIVERED');
  return steps;
}

export type CaseEvent<C> = {
  subject: C;
  step: Step;
  /** Epoch ms of the status. */
  time: number;
  /** Position of this step in the case's plan (0 = its first report). */
  index: number;
  /** No further status will follow. */
  final: boolean;
};

type OpenCase<C> = { subject: C; steps: Step[]; index: number; last: number; instant: boolean; slot: number };

export type CasePoolOptions<C> = {
  rng: Random;
  /** Wall clock, epoch ms; a test passes a virtual one. */
  clock?: () => number;
  /** Creates a case: its subject (department-specific fields) and its planned steps. */
  open: (rng: Random, firstTime: number) => { subject: C; steps: Step[]; instant?: boolean };
  /** How many cases are in progress at once. */
  size?: number;
  /**
   * How far back a new case's first status may lie. Cases that began days ago let the
   * supervisor's view show yellow and red lights minutes after the demo starts.
   */
  backdateMs?: number;
};

/** Cases in progress; each call advances one of them by one status. */
export class CasePool<C> {
  private readonly open: OpenCase<C>[] = [];
  private readonly rng: Random;
  private readonly clock: () => number;
  private readonly size: number;
  private readonly backdateMs: number;

  constructor(private readonly options: CasePoolOptions<C>) {
    this.rng = options.rng;
    this.clock = options.clock ?? Date.now;
    this.size = options.size ?? 40;
    this.backdateMs = options.backdateMs ?? 3 * DAY;
  }

  /**
   * The next status of some case. `at` forces the status time (the case chosen has reported
   * nothing at or after it); `exclude` keeps cases out, e.g. those already in a batch.
   */
  next(opts: { at?: number; exclude?: ReadonlySet<C> } = {}): CaseEvent<C> {
    const now = opts.at ?? this.clock();
    // Below its size the pool grows gradually, so a fresh stream is not all submissions.
    const candidate = this.open.length < this.size && this.rng.chance(0.35) ? undefined : this.pickReady(now, opts);
    if (!candidate) return this.start(now, opts.at !== undefined);
    return this.advanceCase(candidate, now, opts.at)!;
  }

  // A case that may report at `now`. Random probes first: scanning a large pool on every call
  // would make month-end sized files slow to generate.
  private pickReady(now: number, opts: { at?: number; exclude?: ReadonlySet<C> }): OpenCase<C> | undefined {
    const limit = now - (opts.at === undefined ? 1000 : 0);
    const isReady = (c: OpenCase<C>): boolean => c.last < limit && !opts.exclude?.has(c.subject);
    if (this.open.length === 0) return undefined;
    for (let i = 0; i < 8; i++) {
      const c = this.rng.pick(this.open);
      if (isReady(c)) return c;
    }
    const ready = this.open.filter(isReady);
    return ready.length > 0 ? this.rng.pick(ready) : undefined;
  }

  /** The next status of one given case, or undefined once it is finished. */
  advance(subject: C, at?: number): CaseEvent<C> | undefined {
    const c = this.open.find((o) => o.subject === subject);
    return c ? this.advanceCase(c, at ?? this.clock(), at) : undefined;
  }

  get inProgress(): number {
    return this.open.length;
  }

  private start(now: number, forced: boolean): CaseEvent<C> {
    let first = now;
    if (!forced) {
      first -= this.rng.weighted<number>([
        [this.rng.int(1000, 10 * MINUTE), 5],
        [this.rng.int(10 * MINUTE, DAY), 3],
        [this.rng.int(DAY, Math.max(DAY, this.backdateMs)), 2],
      ]);
    }
    const { subject, steps, instant } = this.options.open(this.rng, first);
    const c: OpenCase<C> = { subject, steps, index: 0, last: first, instant: instant ?? false, slot: this.open.length };
    this.open.push(c);
    // Now and then a system starts reporting a case midway (handled outside the system before,
    // 体外循环): the hub must cope with a first sight that is not a submission.
    if (steps.length > 3 && this.rng.chance(0.02)) c.index = this.rng.int(2, steps.length - 1);
    return this.emit(c, first);
  }

  private advanceCase(c: OpenCase<C>, now: number, at: number | undefined): CaseEvent<C> | undefined {
    if (c.index >= c.steps.length) return undefined;
    let time: number;
    if (at !== undefined) {
      time = Math.max(at, c.last);
    } else {
      const [min, max] = c.instant ? [MINUTE, 20 * MINUTE] : GAPS[c.steps[c.index]];
      time = Math.max(c.last + 1000, Math.min(c.last + this.rng.int(min, max), now));
    }
    return this.emit(c, time);
  }

  private close(c: OpenCase<C>): void {
    const moved = this.open[this.open.length - 1];
    this.open[c.slot] = moved;
    moved.slot = c.slot;
    this.open.pop();
  }

  private emit(c: OpenCase<C>, time: number): CaseEvent<C> {
    const index = c.index;
    const step = c.steps[index];
    c.index++;
    c.last = time;
    const final = c.index >= c.steps.length;
    if (final) this.close(c);
    return { subject: c.subject, step, time, index, final };
  }
}
