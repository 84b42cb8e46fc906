import type { SqlDriver, SqlExecutor } from '../store/sql-driver';
import { jsonParam } from '../store/sql-driver';
import { Where } from '../store/where';
import type { CaseStore } from '../cases/case-store';
// The case store's locks of cases: the sweep splits its cases by them, so that its transactions side by side never wait for each other's locks.
import { lockBucket, LOCK_BUCKETS as CASE_LOCK_BUCKETS } from '../cases/case-store';
import type { CanonicalStatus } from '../../contracts/types';
import type { TimelineEntry, Violation } from './violations';
import type { Light } from './rules';
import { isoBeijing } from '../store/sql-time';

/** A case row as the supervisor reads it. */
export interface SupervisedRow {
  code: string;
  department: { code: string; name: string };
  hall: { code: string; name: string } | null;
  itemCode: string;
  status: CanonicalStatus;
  /** In orderTimeline's order. */
  timeline: TimelineEntry[];
  light: Light | null;
  deadlineMs: number | null;
  paused: boolean;
  violations: Violation[];
  /** null: not due; -Infinity: due at once. */
  dueMs: number | null;
  mark: StatsMark | null;
}

/** What a case counts for in case_stats: the row it counts in, and its counts in STAT_COLUMNS order. */
export interface StatsMark {
  department: { code: string; name: string };
  hall: { code: string; name: string } | null;
  /** YYYY-MM-DD */
  day: string;
  counts: number[];
}

/** Where a read of the cases due ended: the due time (as the store prints it) and supervision code of its last case. */
export interface DueCursor {
  due: string;
  code: string;
}

/** The counters of case_stats, in the order of StatsMark.counts. */
export const STAT_COLUMNS = ['received', 'in_progress', 'completed', 'on_time', 'timed', 'working_days', 'green', 'yellow', 'red', 'violations'] as const;

/** The supervisor's new values for a case row. */
export interface SupervisedUpdate {
  code: string;
  light: Light | null;
  deadline: Date | null;
  paused: boolean;
  violations: Violation[];
  lightDueAt: Date | null;
  mark: StatsMark | null;
}

export type AlertKind = 'LIGHT_CHANGED' | 'VIOLATION' | 'FOLLOW_UP_OVERDUE';

/** An alert to store (and publish). */
export interface NewAlert {
  kind: AlertKind;
  level: 'YELLOW' | 'RED';
  supervisionCode: string;
  department: { code: string; name: string };
  hallCode: string | null;
  from?: Light | null;
  to?: Light;
  violation?: { code: string; reason: string; eventId: string };
  at: Date;
}

/** An alert as the API and the bus carry it (DESIGN.md "Additions to v1"). */
export interface AlertItem {
  id: string;
  kind: AlertKind;
  level: 'YELLOW' | 'RED';
  supervisionCode: string;
  department: { code: string; name: string };
  from?: Light | null;
  to?: Light;
  violation?: { code: string; reason: string; eventId?: string };
  at: string;
}

export interface AlertFilter {
  /** Alerts after this id. */
  after?: number;
  since?: Date;
  /** A department or hall code. */
  department?: string;
  /** The caller's departments (canonical codes); unset: every department. */
  scope?: readonly string[];
  level?: string;
  kind?: string;
  /** Only those not yet on the bus. */
  unpublished?: boolean;
  limit: number;
}

export interface StatsRow {
  department: { code: string; name: string };
  hall: { code: string; name: string } | null;
  counts: Record<(typeof STAT_COLUMNS)[number], number>;
}

// Advisory lock under which alert ids are taken, held to the commit: ids are committed in order, so
// a reader that has seen id n has seen every alert before it.
const ALERT_LOCK = [7342102, 0] as const;


/**
 * The supervisor's part of the store: the supervision columns of the case rows, the statistics
 * counters (case_stats) and the alerts (migration 016).
 */
export class SupervisionStore {
  constructor(private readonly db: SqlDriver, private readonly cases: CaseStore) {}

  /**
   * Supervises these cases in one transaction under the case store's locks: `decide` is given each
   * row as stored and answers its new values and alerts (or null: nothing changed). Rows, counter
   * differences and alerts commit together; answers the alerts stored, with their ids.
   */
  async supervise(codes: readonly string[], decide: (row: SupervisedRow) => { update: SupervisedUpdate | null; alerts: NewAlert[] }): Promise<{ updated: number; alerts: AlertItem[] }> {
    const unique = [...new Set(codes)].sort();
    if (!unique.length) return { updated: 0, alerts: [] };
    return this.db.transaction(async (tx) => {
      await this.cases.lockCases(tx, unique);
      const rows = await this.read(tx, unique);
      const updates: SupervisedUpdate[] = [];
      const alerts: NewAlert[] = [];
      const deltas = new Map<string, { mark: StatsMark; counts: number[] }>();
      const add = (mark: StatsMark | null, sign: 1 | -1) => {
        if (!mark) return;
        const key = `${mark.department.code}\u0000${mark.hall?.code ?? ''}\u0000${mark.day}`;
        let d = deltas.get(key);
        if (!d) deltas.set(key, (d = { mark, counts: STAT_COLUMNS.map(() => 0) }));
        if (sign > 0) d.mark = mark;
        for (let i = 0; i < STAT_COLUMNS.length; i++) d.counts[i] += sign * (mark.counts[i] ?? 0);
      };
      for (const row of rows) {
        const out = decide(row);
        alerts.push(...out.alerts);
        if (!out.update) continue;
        updates.push(out.update);
        add(row.mark, -1);
        add(out.update.mark, 1);
      }
      if (updates.length) {
        await tx.query(
          `UPDATE cases SET light = x.light, deadline = x.deadline, paused = x.paused, violations = x.violations,
             light_due_at = x.light_due_at, supervision = x.supervision
           FROM json_populate_recordset(NULL::cases, $1::json) AS x WHERE cases.supervision_code = x.supervision_code`,
          [jsonParam(JSON.stringify(updates.map((u) => ({
            supervision_code: u.code, light: u.light, deadline: u.deadline?.toISOString() ?? null, paused: u.paused, violations: u.violations,
            light_due_at: u.lightDueAt?.toISOString() ?? null, supervision: u.mark,
          }))))]);
      }
      await this.count(tx, [...deltas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d).filter((d) => d.counts.some((n) => n !== 0)));
      // Last: the alert lock is held from here to the commit.
      const stored = await this.insertAlerts(tx, alerts);
      return { updated: updates.length, alerts: stored };
    });
  }

  private async read(tx: SqlExecutor, codes: readonly string[]): Promise<SupervisedRow[]> {
    const r = await tx.query<{ rows: string | null }>(
      `SELECT json_agg(json_build_array(supervision_code, department_code, department_name, hall_code, hall_name, item_code, status, timeline,
         light, CASE WHEN deadline IS NULL THEN NULL ELSE (extract(epoch FROM deadline) * 1000)::float8 END, paused, violations,
         CASE WHEN light_due_at IS NULL THEN NULL WHEN isfinite(light_due_at) THEN (extract(epoch FROM light_due_at) * 1000)::float8 ELSE -1e300 END,
         supervision))::text AS rows
       FROM cases WHERE supervision_code = ANY($1::text[])`, [codes]);
    type Row = [string, string, string, string | null, string | null, string, CanonicalStatus, [string, number, CanonicalStatus, string, unknown][],
      Light | null, number | null, boolean, Violation[], number | null, StatsMark | null];
    const text = r.rows[0]?.rows;
    if (!text) return [];
    return (JSON.parse(text) as Row[]).map(([code, dc, dn, hc, hn, item, status, timeline, light, deadlineMs, paused, violations, dueMs, mark]) => ({
      code,
      department: { code: dc, name: dn },
      hall: hc ? { code: hc, name: hn ?? hc } : null,
      itemCode: item,
      status,
      timeline: timeline.map(([eventId, , s, time]) => ({ eventId, status: s, time })),
      light,
      deadlineMs,
      paused,
      violations: violations ?? [],
      dueMs: dueMs !== null && dueMs < -1e299 ? -Infinity : dueMs,
      mark,
    }));
  }

  /** Adds counter differences to case_stats, in key order (two nodes adding to the same rows never wait in a cycle). */
  private async count(tx: SqlExecutor, deltas: { mark: StatsMark; counts: number[] }[]): Promise<void> {
    if (!deltas.length) return;
    const rows = deltas.map(({ mark, counts }) => {
      const o: Record<string, unknown> = { department_code: mark.department.code, hall_code: mark.hall?.code ?? '', day: mark.day, department_name: mark.department.name, hall_name: mark.hall?.name ?? null };
      STAT_COLUMNS.forEach((c, i) => { o[c] = counts[i]; });
      return o;
    });
    await tx.query(
      `INSERT INTO case_stats (department_code, hall_code, day, department_name, hall_name, ${STAT_COLUMNS.join(', ')})
       SELECT department_code, hall_code, day, department_name, hall_name, ${STAT_COLUMNS.join(', ')}
       FROM ROWS FROM (json_populate_recordset(NULL::case_stats, $1::json)) WITH ORDINALITY AS x ORDER BY x.ordinality
       ON CONFLICT (department_code, hall_code, day) DO UPDATE SET department_name = EXCLUDED.department_name, hall_name = EXCLUDED.hall_name,
         ${STAT_COLUMNS.map((c) => `${c} = case_stats.${c} + EXCLUDED.${c}`).join(', ')}`,
      [jsonParam(JSON.stringify(rows))]);
  }

  private async insertAlerts(tx: SqlExecutor, alerts: readonly NewAlert[]): Promise<AlertItem[]> {
    if (!alerts.length) return [];
    await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [...ALERT_LOCK]);
    const r = await tx.query<{ ids: string }>(
      `WITH added AS (
         INSERT INTO alerts (kind, level, supervision_code, department_code, department_name, hall_code, from_light, to_light, violation, at)
         SELECT x.kind, x.level, x.code, x.dc, x.dn, x.hc, x.fl, x.tl, x.v, x.at
         FROM ROWS FROM (json_to_recordset($1::json) AS (kind text, level text, code text, dc text, dn text, hc text, fl text, tl text, v jsonb, at timestamptz))
           WITH ORDINALITY AS x(kind, level, code, dc, dn, hc, fl, tl, v, at, n) ORDER BY x.n
         RETURNING id)
       SELECT string_agg(id::text, ',' ORDER BY id) AS ids FROM added`,
      [jsonParam(JSON.stringify(alerts.map((a) => ({
        kind: a.kind, level: a.level, code: a.supervisionCode, dc: a.department.code, dn: a.department.name, hc: a.hallCode,
        fl: a.from ?? null, tl: a.to ?? null, v: a.violation ?? null, at: a.at.toISOString(),
      }))))]);
    // Inserted in order, so the ids (ascending) are the alerts' in order.
    const ids = r.rows[0].ids.split(',');
    return alerts.map((a, i) => ({
      id: ids[i], kind: a.kind, level: a.level, supervisionCode: a.supervisionCode, department: a.department,
      ...(a.kind === 'LIGHT_CHANGED' ? { from: a.from ?? null, to: a.to } : {}), ...(a.violation ? { violation: a.violation } : {}), at: a.at.toISOString(),
    }));
  }

  /**
   * How many of the sweep's transactions may run side by side: `wanted` on a PostgreSQL server,
   * whose pool gives each its own connection; 1 on the embedded store, whose one connection runs one
   * transaction at a time (side by side, they would only queue for it).
   */
  sweepLanes(wanted: number): number {
    return this.db.kind === 'pglite' ? 1 : Math.max(1, Math.floor(wanted));
  }

  /**
   * The lane of a case among `lanes` that share no case lock (CaseStore.lockCases): transactions of
   * different lanes side by side never wait for each other's case locks. Each lane takes about as
   * many cases as the others.
   */
  laneOf(code: string, lanes: number): number {
    return lanes <= 1 ? 0 : Math.floor((lockBucket(code) * lanes) / CASE_LOCK_BUCKETS);
  }

  /**
   * Cases whose light may have changed by `now` with no new event, the earliest due first, from
   * after `after` (where the last read ended); `next`: where this one ended, for the next read.
   */
  async due(now: Date, limit: number, after: DueCursor | null = null): Promise<{ codes: string[]; next: DueCursor | null }> {
    const r = await this.db.query<{ codes: string | null; due: string | null }>(
      `SELECT string_agg(supervision_code, ',' ORDER BY due_at, supervision_code) AS codes,
              (array_agg(due_at::text ORDER BY due_at DESC, supervision_code DESC))[1] AS due
       FROM (SELECT supervision_code, light_due_at AS due_at FROM cases
             WHERE light_due_at <= $1${after ? ' AND (light_due_at, supervision_code) > ($3::timestamptz, $4::text)' : ''}
             ORDER BY light_due_at, supervision_code LIMIT $2) d`,
      after ? [now.toISOString(), limit, after.due, after.code] : [now.toISOString(), limit]);
    const codes = r.rows[0]?.codes ? r.rows[0].codes.split(',') : [];
    return { codes, next: codes.length ? { due: r.rows[0].due!, code: codes[codes.length - 1] } : after };
  }

  /** Alerts in the order they were committed, after `after`. */
  async alerts(f: AlertFilter, db: SqlExecutor = this.db): Promise<{ items: AlertItem[]; more: boolean }> {
    const w = new Where();
    if (f.after !== undefined) w.add('id > ?', f.after);
    if (f.since) w.add('at >= ?', f.since.toISOString());
    if (f.department) w.add('(department_code = ? OR hall_code = ?)', f.department, f.department);
    if (f.scope) w.add('department_code = ANY(?::text[])', [...f.scope]);
    if (f.level) w.add('level = ?', f.level);
    if (f.kind) w.add('kind = ?', f.kind);
    if (f.unpublished) w.add('NOT published');
    const r = await db.query<{ items: string | null }>(
      `SELECT json_agg(json_build_array(id::text, kind, level, supervision_code, department_code, department_name, from_light, to_light, violation,
         ${isoBeijing('at')}) ORDER BY id)::text AS items
       FROM (SELECT * FROM alerts ${w} ORDER BY id LIMIT ${w.param(f.limit + 1)}) a`, w.params);
    type Row = [string, AlertKind, 'YELLOW' | 'RED', string, string, string, Light | null, Light | null, AlertItem['violation'] | null, string];
    const rows = r.rows[0]?.items ? (JSON.parse(r.rows[0].items) as Row[]) : [];
    const items = rows.slice(0, f.limit).map(([id, kind, level, code, dc, dn, from, to, violation, at]): AlertItem => ({
      id, kind, level, supervisionCode: code, department: { code: dc, name: dn },
      ...(kind === 'LIGHT_CHANGED' ? { from, to: to! } : {}),
      ...(violation ? { violation } : {}),
      at,
    }));
    return { items, more: rows.length > f.limit };
  }

  /** The id of the latest alert (0 when there is none): a live stream starts after it. */
  async lastAlertId(): Promise<number> {
    const r = await this.db.query<{ id: string | null }>('SELECT max(id)::text AS id FROM alerts');
    return Number(r.rows[0]?.id ?? 0);
  }

  /** Alerts not yet on the bus, oldest first. */
  async unpublished(limit: number): Promise<AlertItem[]> {
    return (await this.alerts({ unpublished: true, limit })).items;
  }

  async markPublished(ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    await this.db.query('UPDATE alerts SET published = true WHERE id = ANY($1::bigint[]) AND NOT published', [ids.map(Number)]);
  }

  /** Alerts not yet on the bus. */
  async unpublishedCount(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*)::text AS n FROM alerts WHERE NOT published');
    return Number(r.rows[0].n);
  }

  /** The counters summed per department and hall, over acceptance days in [from, to]. */
  async stats(f: { from?: string; to?: string; scope?: readonly string[] }): Promise<StatsRow[]> {
    const w = new Where();
    if (f.from) w.add('day >= ?::date', f.from);
    if (f.to) w.add('day <= ?::date', f.to);
    if (f.scope) w.add('department_code = ANY(?::text[])', [...f.scope]);
    const r = await this.db.query<{ rows: string | null }>(
      `SELECT json_agg(json_build_array(department_code, department_name, hall_code, hall_name, ${STAT_COLUMNS.join(', ')}) ORDER BY department_code, hall_code)::text AS rows
       FROM (SELECT department_code, max(department_name) AS department_name, hall_code, max(hall_name) AS hall_name,
               ${STAT_COLUMNS.map((c) => `sum(${c})::float8 AS ${c}`).join(', ')}
             FROM case_stats ${w} GROUP BY department_code, hall_code) s`, w.params);
    const rows = r.rows[0]?.rows ? (JSON.parse(r.rows[0].rows) as (string | number | null)[][]) : [];
    return rows.map(([dc, dn, hc, hn, ...counts]) => ({
      department: { code: dc as string, name: dn as string },
      hall: hc ? { code: hc as string, name: (hn as string | null) ?? (hc as string) } : null,
      counts: Object.fromEntries(STAT_COLUMNS.map((c, i) => [c, Number(counts[i])])) as StatsRow['counts'],
    }));
  }

  /** Cases per department and light (hub_cases), from the counters. */
  async lightCounts(): Promise<{ department: string; light: Light; n: number }[]> {
    const r = await this.db.query<{ department_code: string; green: string; yellow: string; red: string }>(
      'SELECT department_code, sum(green)::text AS green, sum(yellow)::text AS yellow, sum(red)::text AS red FROM case_stats GROUP BY department_code');
    return r.rows.flatMap((x) => [
      { department: x.department_code, light: 'GREEN' as const, n: Number(x.green) },
      { department: x.department_code, light: 'YELLOW' as const, n: Number(x.yellow) },
      { department: x.department_code, light: 'RED' as const, n: Number(x.red) },
    ]);
  }
}
