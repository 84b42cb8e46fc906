import { Errors, ServiceSchema, Context, Service, ServiceBroker } from 'moleculer';
import type { CaseEvent } from '../contracts/types';
import type { HubContext } from './context';
import { CHANNELS, ALERTS_COMMITTED_EVENT } from '../core/kernel/constants';
import { Supervisor } from './supervisor/supervisor';
import { checkDateRange, DATE } from './date-range';
import { Batcher } from '../core/jobs/batcher';
import type { StatsEntry } from './supervisor/stats-entry';
import type { StatsRow } from './supervisor/supervision-store';
import type { CallerMeta } from './cases.service';
import type { EvaluationStats } from './evaluations/evaluations';
import { withEvaluationStats } from './evaluations/stats';

/** Events the supervisor takes at once from the bus. */
const IN_FLIGHT = 200;

/**
 * The cases of the events that arrive while a batch is being recomputed, gathered into the next
 * batch (core/jobs/batcher.ts): one transaction for many events, a case once however many of its
 * events came, each event answered when the batch holding its case has committed.
 */
export class CaseBatcher extends Batcher<string> {
  constructor(run: (codes: string[]) => Promise<void>, maxBatch = 1000) {
    super(run, { maxBatch, key: (code) => code });
  }
}


/** The scope of a caller: the departments its token is limited to, or undefined for every one. */
export function scopeOf(meta: CallerMeta): string[] | undefined {
  return meta.user?.departments;
}


/** The counters of a department or hall as the statistics show them (DESIGN.md "Additions to v1"). */
function entry(code: string, name: string, c: StatsRow['counts']): StatsEntry {
  return {
    code, name,
    received: c.received, inProgress: c.in_progress, completed: c.completed,
    onTimeRate: c.completed ? c.on_time / c.completed : null,
    avgWorkingDays: c.timed ? Math.round((c.working_days / c.timed) * 10) / 10 : null,
    lights: { GREEN: c.green, YELLOW: c.yellow, RED: c.red },
    violations: c.violations,
  };
}

/** Per department, with its halls rolled up into it, and per hall. */
export function departmentStats(rows: readonly StatsRow[]): StatsEntry[] {
  const byDept = new Map<string, { name: string; sum: StatsRow['counts']; halls: StatsEntry[] }>();
  for (const r of rows) {
    // Counters that came back to zero (the range's cases all moved to another day or hall when a
    // late event arrived) describe no case: not a department or hall of these statistics.
    if (Object.values(r.counts).every((n) => n === 0)) continue;
    let d = byDept.get(r.department.code);
    if (!d) {
      d = { name: r.department.name, sum: Object.fromEntries(Object.keys(r.counts).map((k) => [k, 0])) as StatsRow['counts'], halls: [] };
      byDept.set(r.department.code, d);
    }
    for (const k of Object.keys(r.counts) as (keyof StatsRow['counts'])[]) d.sum[k] += r.counts[k];
    if (r.hall) d.halls.push(entry(r.hall.code, r.hall.name, r.counts));
  }
  return [...byDept].map(([code, d]) => ({ ...entry(code, d.name, d.sum), halls: d.halls }));
}

/**
 * The supervisor service: consumes every applied event from the bus and recomputes its case's
 * deadline, light and violations; sweeps the cases whose light is due to change; answers the
 * statistics and the alerts.
 */
export function supervisorService(hub: HubContext): ServiceSchema {
  const { config, store } = hub;
  const supervisor = new Supervisor({
    store: store.supervision,
    years: hub.supervision.years,
    items: hub.supervision.items,
    config: config.supervision,
    clock: hub.clock,
    leases: store.leases,
    metrics: hub.metrics,
    logger: hub.logger.child({ component: 'supervisor' }),
    // A hint to every node's alert streams that alerts were committed: they read them at once
    // instead of at their next poll. Not durable, and need not be: the streams poll besides.
    onAlerts: (alerts) => { void broker?.broadcast(ALERTS_COMMITTED_EVENT, { last: alerts[alerts.length - 1].id }).catch(() => undefined); },
  });
  let broker: ServiceBroker | null = null;
  const batcher = new CaseBatcher((codes) => supervisor.supervise(codes).then(() => undefined));
  return {
    name: 'supervisor',
    channels: {
      [CHANNELS.eventApplied]: {
        // One consumer group: a supervisor scaled to several nodes handles each event once.
        group: 'supervisor',
        // Events are taken side by side and their cases recomputed together, a transaction per batch.
        maxInFlight: IN_FLIGHT,
        async handler(event: CaseEvent) {
          // The event is a reminder that its case changed: the case is recomputed from its whole
          // stored timeline, so a late, repeated or reordered event gives the same result. The
          // handler resolves (and the bus lets the event go) once its case's batch has committed.
          if (!event.subject) throw new Error(`event ${event.id} on ${CHANNELS.eventApplied} has no subject (supervision code)`);
          await batcher.add(event.subject);
        },
      },
    },
    actions: {
      stats: {
        role: 'supervisor',
        params: {
          from: { type: 'string', pattern: DATE, optional: true },
          to: { type: 'string', pattern: DATE, optional: true },
        },
        async handler(ctx: Context<{ from?: string; to?: string }, CallerMeta>) {
          const { from, to } = ctx.params;
          checkDateRange(from, to);
          const departments = departmentStats(await store.supervision.stats({ from, to, scope: scopeOf(ctx.meta) }));
          // Each department's evaluations (好差评) in the range, when a node runs the evaluations service.
          let evaluations: EvaluationStats[] | null = null;
          try {
            evaluations = ((await ctx.call('evaluations.stats', { from, to })) as { departments: EvaluationStats[] }).departments;
          } catch (err) {
            hub.logger.warn({ err: (err as Error).message }, 'department statistics without evaluations: the evaluations service did not answer');
          }
          return { departments: evaluations ? withEvaluationStats(departments, evaluations) : departments };
        },
      },
      alerts: {
        role: 'supervisor',
        params: {
          since: { type: 'string', optional: true },
          department: { type: 'string', optional: true },
          level: { type: 'enum', values: ['YELLOW', 'RED'], optional: true },
          kind: { type: 'enum', values: ['LIGHT_CHANGED', 'VIOLATION', 'FOLLOW_UP_OVERDUE'], optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 500, optional: true, convert: true },
          cursor: { type: 'string', pattern: /^\d{1,18}$/, optional: true },
        },
        async handler(ctx: Context<{ since?: string; department?: string; level?: string; kind?: string; limit?: number; cursor?: string }, CallerMeta>) {
          const p = ctx.params;
          const since = p.since ? new Date(p.since) : undefined;
          if (since && Number.isNaN(since.getTime())) throw new Errors.MoleculerClientError(`since is not an ISO 8601 time: ${p.since}`, 400, 'bad-time', { field: 'since', value: p.since });
          const limit = p.limit ?? 100;
          const { items, more } = await store.supervision.alerts({
            after: p.cursor ? Number(p.cursor) : undefined, since, department: p.department, level: p.level, kind: p.kind, scope: scopeOf(ctx.meta), limit,
          });
          return { items, nextCursor: more ? items[items.length - 1].id : null };
        },
      },
      /** The alerts after an id, for the live stream (the gateway's /api/v1/alerts/stream). */
      alertsAfter: {
        visibility: 'public',
        params: {
          after: { type: 'number', integer: true, min: -1, optional: true },
          department: { type: 'string', optional: true },
          level: { type: 'string', optional: true },
          kind: { type: 'string', optional: true },
          scope: { type: 'array', items: 'string', optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 500 },
        },
        async handler(ctx: Context<{ after?: number; department?: string; level?: string; kind?: string; scope?: string[]; limit: number }>) {
          const p = ctx.params;
          if (p.after === undefined || p.after < 0) return { items: [], last: await store.supervision.lastAlertId() };
          return store.supervision.alerts({ after: p.after, department: p.department, level: p.level, kind: p.kind, scope: p.scope, limit: p.limit });
        },
      },
      /** Recomputes the named cases now (after a reprojection, a new calendar or threshold). */
      supervise: {
        visibility: 'public',
        params: { codes: { type: 'array', items: 'string', max: 10000 } },
        async handler(ctx: Context<{ codes: string[] }>) {
          const alerts = await supervisor.supervise(ctx.params.codes);
          return { supervised: ctx.params.codes.length, alerts: alerts.length };
        },
      },
      /** Sweeps now, on this node, whoever holds the sweep's lease: the cases due by the hub's clock. */
      sweep: {
        visibility: 'public',
        async handler() {
          return { recomputed: await supervisor.sweep() };
        },
      },
    },
    created(this: Service) {
      broker = this.broker;
    },
    started() {
      supervisor.start();
    },
    async stopped() {
      await supervisor.stop();
    },
  };
}
