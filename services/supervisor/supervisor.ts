import { WorkingCalendar, CalendarYear } from '../../core/calendar/working-calendar';
import type { SupervisionConfig } from '../../core/kernel/config';
import type { Logger } from '../../core/kernel/logger';
import type { HubMetrics } from '../../core/kernel/metrics';
import type { Lease } from '../../core/ports/jobs';
import type { ItemLimits } from './rules';
import { decideCase } from './decide';
import type { AlertItem, SupervisionStore } from './supervision-store';

export interface SupervisorDeps {
  store: SupervisionStore;
  /** The loaded years of the working-day calendar. */
  years: readonly CalendarYear[];
  /** The catalogue's limits per item code. */
  items: ReadonlyMap<string, { promisedDays: number; intakeDays: number }>;
  config: SupervisionConfig;
  /** The hub's clock: lights are computed for its now. */
  clock: () => Date;
  /** One node of a cluster sweeps at a time. */
  lease: Lease;
  metrics: HubMetrics;
  logger: Logger;
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
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private stopped = true;
  private heldAt = 0;

  constructor(private readonly deps: SupervisorDeps) {
    this.calendar = new WorkingCalendar(deps.years, (year) => { this.fallbackYear = year; });
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
    if (alerts.length) this.deps.logger.info({ alerts: alerts.map((a) => ({ id: a.id, kind: a.kind, level: a.level, supervisionCode: a.supervisionCode, violation: a.violation?.code })) }, 'supervision alerts raised');
    return alerts;
  }

  private fellBack(year: number, code: string): void {
    this.deps.metrics.calendarFallback.inc();
    if (this.warnedYears.has(year)) return;
    this.warnedYears.add(year);
    this.deps.logger.warn({ year, supervisionCode: code, loaded: this.calendar.years() },
      `no working-day calendar for ${year} is loaded: its days count by weekdays alone until its notice is added (hub calendar check FILE)`);
  }

  /** Recomputes every case whose light was due to change by now, a batch per transaction; answers how many. */
  async sweep(): Promise<number> {
    const end = this.deps.metrics.sweepDuration.startTimer();
    let n = 0;
    try {
      for (;;) {
        const codes = await this.deps.store.due(this.deps.clock(), this.deps.config.sweepBatch);
        if (!codes.length) break;
        await this.supervise(codes);
        n += codes.length;
        if (codes.length < this.deps.config.sweepBatch) break;
      }
    } finally {
      end();
    }
    return n;
  }

  /** Sweeps every `sweepSeconds`, on the node that holds the sweep lease. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Sweeps soon (a clock moved on, a rule changed). */
  nudge(): void {
    if (!this.stopped && !this.sweeping) this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    await this.sweeping;
    if (this.heldAt) {
      this.heldAt = 0;
      await this.deps.lease.release().catch(() => undefined);
    }
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.sweeping = this.round().finally(() => {
        this.sweeping = null;
        if (!this.stopped) this.schedule(this.deps.config.sweepSeconds * 1000);
      });
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    const { lease, logger } = this.deps;
    try {
      const { held, changed } = await lease.hold();
      this.heldAt = held ? Date.now() : 0;
      if (changed) logger.info({ lease: lease.name, owner: lease.owner, held }, held ? 'this node now sweeps the supervision lights' : 'another node sweeps the supervision lights');
      if (!held || this.stopped) return;
      const n = await this.sweep();
      if (n) logger.info({ cases: n }, 'supervision sweep recomputed the cases due');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'supervision sweep failed; it runs again at the next interval');
    }
  }
}
