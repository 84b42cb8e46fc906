import { WorkingCalendar, CalendarYear } from '../../core/calendar/working-calendar';
import type { SupervisionConfig } from '../../core/kernel/config';
import type { Logger } from '../../core/kernel/logger';
import type { HubMetrics } from '../../core/kernel/metrics';
import type { Leases } from '../../core/ports/jobs';
import { LeasedPoll } from '../../core/jobs/leased-poll';

/** The job name of the sweep's lease (table job_leases). */
export const SWEEP_LEASE = 'supervisor:sweep';
import type { ItemLimits } from './rules';
import { decideCase } from './decide';
import type { AlertItem, DueCursor, SupervisionStore } from './supervision-store';

/** The sweep's transactions side by side when the configuration does not say (config.schema.json). */
const DEFAULT_SWEEP_CONCURRENCY = 2;

export interface SupervisorDeps {
  store: SupervisionStore;
  /** The loaded years of the working-day calendar. */
  years: readonly CalendarYear[];
  /** The catalogue's limits per item code. */
  items: ReadonlyMap<string, { promisedDays: number; intakeDays: number }>;
  config: SupervisionConfig & {
    /** Transactions of the sweep side by side (config.schema.json); 1 on the embedded store whatever it says. */
    sweepConcurrency?: number;
  };
  /** The hub's clock: lights are computed for its now. */
  clock: () => Date;
  /** One node of a cluster sweeps at a time, under a lease in the store (SWEEP_LEASE). */
  leases: Leases;
  metrics: HubMetrics;
  logger: Logger;
  /** Told of the alerts each computation committed (the service lets the gateways' alert streams know at once). */
  onAlerts?: (alerts: readonly AlertItem[]) => void;
}

/**
 * The supervisor: computes each case's deadline, light and violations from its whole timeline
 * (rules.ts), stores them with the statistics counters and the alerts they raise, and sweeps the
 * cases whose light is due to change as time passes.
 */
export class Supervisor {
  readonly calendar: WorkingCalendar;
  private fallbackYear: number | null = null;
  private readonly warnedYears = new Set<number>();
  private readonly job: LeasedPoll<void>;

  constructor(private readonly deps: SupervisorDeps) {
    this.calendar = new WorkingCalendar(deps.years, (year) => { this.fallbackYear = year; });
    // The sweep is a leased job like the department pollers: one node of a cluster at a time.
    this.job = new LeasedPoll<void>({
      name: SWEEP_LEASE, leases: deps.leases, leaseSeconds: Math.max(30, deps.config.sweepSeconds * 3),
      intervalMs: deps.config.sweepSeconds * 1000, maxBackoffMs: Math.max(60_000, deps.config.sweepSeconds * 1000), logger: deps.logger,
      says: { held: 'this node now sweeps the supervision lights', elsewhere: 'another node sweeps the supervision lights' },
      progress: async () => undefined,
      round: async (_progress, round) => {
        const n = await this.sweep(round.signal);
        if (n) deps.logger.info({ cases: n }, 'supervision sweep recomputed the cases due');
        return 'done';
      },
      onError: (err, failures, retryInMs) => deps.logger.error({ err: (err as Error).message, failures, retryInMs }, 'supervision sweep failed; it runs again after a pause'),
    });
  }

  /** The limits the rules apply to an item: the catalogue's, with the configuration's overrides; null for an item not in the catalogue. */
  limitsOf(itemCode: string): ItemLimits | null {
    const item = this.deps.items.get(itemCode);
    const own = this.deps.config.items[itemCode] ?? {};
    const promisedDays = own.promisedDays ?? item?.promisedDays;
    const intakeDays = own.intakeDays ?? item?.intakeDays;
    if (promisedDays === undefined || intakeDays === undefined) return null;
    return { promisedDays, intakeDays, yellowAt: own.yellowAt ?? this.deps.config.yellowAt };
  }

  /** Recomputes these cases now; answers the alerts raised. */
  async supervise(codes: readonly string[]): Promise<AlertItem[]> {
    const now = this.deps.clock();
    const { alerts } = await this.deps.store.supervise(codes, (row) => {
      this.fallbackYear = null;
      const d = decideCase(row, this.limitsOf(row.itemCode), this.calendar, now);
      if (this.fallbackYear !== null) this.fellBack(this.fallbackYear, row.code);
      return d;
    });
    if (alerts.length) {
      this.deps.logger.info({ alerts: alerts.map((a) => ({ id: a.id, kind: a.kind, level: a.level, supervisionCode: a.supervisionCode, violation: a.violation?.code })) }, 'supervision alerts raised');
      this.deps.onAlerts?.(alerts);
    }
    return alerts;
  }

  private fellBack(year: number, code: string): void {
    this.deps.metrics.calendarFallback.inc();
    if (this.warnedYears.has(year)) return;
    this.warnedYears.add(year);
    this.deps.logger.warn({ year, supervisionCode: code, loaded: this.calendar.years() },
      `no working-day calendar for ${year} is loaded: its days count by weekdays alone until its notice is added (hub calendar check FILE)`);
  }

  /**
   * Recomputes every case whose light was due to change by now, the earliest due first; answers how
   * many. The cases due are split into `sweepConcurrency` lanes that share no case lock (on the
   * embedded store, one), each of which supervises its cases `sweepBatch` per transaction, the lanes
   * side by side. A node that stops or loses the lease ends each lane after its transaction in
   * progress.
   */
  async sweep(signal?: AbortSignal): Promise<number> {
    const end = this.deps.metrics.sweepDuration.startTimer();
    const { store, config } = this.deps;
    const batch = config.sweepBatch;
    const lanes = store.sweepLanes(config.sweepConcurrency ?? DEFAULT_SWEEP_CONCURRENCY);
    // The cases read and not yet supervised, per lane. Each read goes on from where the last ended:
    // a case that falls due behind it meanwhile is the next sweep's.
    const queues = Array.from({ length: lanes }, () => [] as string[]);
    let after: DueCursor | null = null;
    let more = true;
    let failed = false;
    let reading: Promise<void> | null = null;
    const read = (): Promise<void> => (reading ??= (async () => {
      try {
        const { codes, next } = await store.due(this.deps.clock(), batch * lanes, after);
        after = next;
        more = codes.length === batch * lanes;
        for (const code of codes) queues[store.laneOf(code, lanes)].push(code);
      } finally {
        reading = null;
      }
    })());
    let n = 0;
    const lane = async (queue: string[]): Promise<void> => {
      for (;;) {
        // A stopping node, or one that lost the lease, leaves the rest to the next sweep.
        const ending = () => failed || !!signal?.aborted;
        while (queue.length < batch && more && !ending()) await read();
        if (!queue.length || ending()) return;
        const codes = queue.splice(0, batch);
        await this.supervise(codes);
        n += codes.length;
      }
    };
    // A lane that fails stops the others after their transaction in progress.
    const guarded = (queue: string[]) => lane(queue).catch((err: unknown) => {
      failed = true;
      throw err;
    });
    try {
      const done = await Promise.allSettled(queues.map(guarded));
      const failure = done.find((d): d is PromiseRejectedResult => d.status === 'rejected');
      if (failure) throw failure.reason;
    } finally {
      // Nothing of the sweep is left running on the store once it has answered or failed.
      await (reading as Promise<void> | null)?.catch(() => undefined);
      end();
    }
    return n;
  }

  /** Sweeps every `sweepSeconds`, on the node that holds the sweep lease. */
  start(): void {
    this.job.start();
  }

  /** Ends the sweep in progress, and gives the lease up. */
  async stop(): Promise<void> {
    await this.job.stop();
  }
}
