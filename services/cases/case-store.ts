import type { CaseEvent } from '../../contracts/types';
import type { SqlDriver, SqlExecutor } from '../store/sql-driver';
import { issueSupervisionCode } from './supervision-code';
import { projectCase, orderTimeline, StoredEvent, CaseProjection } from './projection';

export type ApplyResult =
  | { eventId: string; result: 'accepted' | 'duplicate'; supervisionCode: string }
  | { eventId: string; result: 'rejected'; field: string; reason: string; rule: string; value?: string };

export interface ApplyOptions {
  /** When the raw message arrived; events keep it for end-to-end timing. */
  receivedAt: Date;
}

export interface CaseRow {
  projection: CaseProjection;
  references: { system: string; localId: string }[];
  timeline: StoredEvent[];
}

export interface CaseSummary {
  supervisionCode: string;
  department: { code: string; name: string; hall?: { code: string; name: string } };
  item: { code: string; name: string };
  status: string;
  light: string | null;
  deadline: string | null;
  paused: boolean;
  violations: number;
  events: number;
  firstSeen: string;
}

export interface DepartmentStats {
  code: string;
  name: string;
  received: number;
  inProgress: number;
  completed: number;
  onTimeRate: number | null;
  avgWorkingDays: number | null;
  lights: { GREEN: number; YELLOW: number; RED: number };
  violations: number;
  halls?: DepartmentStats[];
}

export interface CaseFilter {
  department?: string;
  status?: string;
  light?: string;
  item?: string;
  limit: number;
  cursor?: { firstSeen: string; code: string } | null;
}

/**
 * Appends canonical events idempotently, finds or issues the supervision code, and keeps the case
 * projection in step with the timeline, all in the transaction that adds the events.
 */
export class CaseStore {
  constructor(private readonly db: SqlDriver, private readonly region: string, private readonly now: () => Date = () => new Date()) {}

  /** Applies a batch in one transaction; the results are in the order of the events. */
  async apply(events: readonly CaseEvent[], opts: ApplyOptions): Promise<ApplyResult[]> {
    if (events.length === 0) return [];
    return this.db.transaction((tx) => this.applyIn(tx, events, opts));
  }

  /** As apply, inside a transaction the caller holds (so a file's progress commits with its records). */
  async applyIn(tx: SqlExecutor, events: readonly CaseEvent[], opts: ApplyOptions): Promise<ApplyResult[]> {
    const results: ApplyResult[] = [];
    const touched = new Set<string>();
    for (const event of events) {
      const result = await this.applyOne(tx, event, opts);
      results.push(result);
      if (result.result === 'accepted') touched.add(result.supervisionCode);
    }
    // Locks in a fixed order, so that two batches touching the same cases cannot deadlock here.
    for (const code of [...touched].sort()) await this.refresh(tx, code);
    return results;
  }

  private async applyOne(tx: SqlExecutor, event: CaseEvent, opts: ApplyOptions): Promise<ApplyResult> {
    const existing = await tx.query<{ supervision_code: string }>('SELECT supervision_code FROM events WHERE id = $1', [event.id]);
    if (existing.rows.length) return { eventId: event.id, result: 'duplicate', supervisionCode: existing.rows[0].supervision_code };

    const { system, localCaseId, supervisionCode: carried } = event.data;
    let code: string;
    if (carried) {
      await tx.query('INSERT INTO case_refs (system, local_id, supervision_code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [system, localCaseId, carried]);
      const ref = await tx.query<{ supervision_code: string }>('SELECT supervision_code FROM case_refs WHERE system = $1 AND local_id = $2', [system, localCaseId]);
      code = ref.rows[0].supervision_code;
      if (code !== carried) {
        // One case never gets two codes: the message contradicts what the hub already knows.
        return {
          eventId: event.id, result: 'rejected', field: 'supervisionCode', rule: 'conflict', value: carried,
          reason: `统一服务监管码与该业务已有的监管码 ${code} 不一致 (case ${localCaseId} of ${system} already has ${code})`,
        };
      }
    } else {
      const fresh = issueSupervisionCode(this.region, this.now());
      const inserted = await tx.query<{ supervision_code: string }>(
        'INSERT INTO case_refs (system, local_id, supervision_code) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING supervision_code',
        [system, localCaseId, fresh],
      );
      code = inserted.rows.length
        ? inserted.rows[0].supervision_code
        : (await tx.query<{ supervision_code: string }>('SELECT supervision_code FROM case_refs WHERE system = $1 AND local_id = $2', [system, localCaseId])).rows[0].supervision_code;
    }

    const stored: CaseEvent = { ...event, subject: code };
    const ins = await tx.query(
      `INSERT INTO events (id, supervision_code, adapter, raw_message_id, status, status_time, received_at, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [event.id, code, event.data.provenance.adapter, event.data.provenance.rawMessageId, event.data.status, event.data.statusTime, opts.receivedAt.toISOString(), JSON.stringify(stored)],
    );
    // A concurrent transaction stored the same event first.
    if (!ins.rows.length) return { eventId: event.id, result: 'duplicate', supervisionCode: code };
    return { eventId: event.id, result: 'accepted', supervisionCode: code };
  }

  private async refresh(tx: SqlExecutor, code: string): Promise<void> {
    // Serialises projection updates of one case across hub nodes; released at commit.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [code]);
    const rows = await tx.query<{ body: CaseEvent; seq: string }>('SELECT body, seq FROM events WHERE supervision_code = $1', [code]);
    const p = projectCase(code, rows.rows.map((r) => ({ event: r.body, seq: Number(r.seq) })));
    await tx.query(
      `INSERT INTO cases (supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status, status_time,
                          applicant, light, deadline, paused, violations, event_count, first_seen, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, now(), now())
       ON CONFLICT (supervision_code) DO UPDATE SET
         department_code = EXCLUDED.department_code, department_name = EXCLUDED.department_name, hall_code = EXCLUDED.hall_code,
         hall_name = EXCLUDED.hall_name, item_code = EXCLUDED.item_code, item_name = EXCLUDED.item_name, status = EXCLUDED.status,
         status_time = EXCLUDED.status_time, applicant = EXCLUDED.applicant, light = EXCLUDED.light, deadline = EXCLUDED.deadline,
         paused = EXCLUDED.paused, violations = EXCLUDED.violations, event_count = EXCLUDED.event_count, updated_at = now()`,
      [code, p.department.code, p.department.name, p.department.hall?.code ?? null, p.department.hall?.name ?? null, p.item.code, p.item.name,
        p.status, p.statusTime, JSON.stringify(p.applicant), p.light, p.deadline, p.paused, JSON.stringify(p.violations), p.eventCount],
    );
  }

  async get(code: string): Promise<CaseRow | null> {
    const events = await this.db.query<{ body: CaseEvent; seq: string }>('SELECT body, seq FROM events WHERE supervision_code = $1', [code]);
    if (!events.rows.length) return null;
    const timeline = orderTimeline(events.rows.map((r) => ({ event: r.body, seq: Number(r.seq) })));
    const refs = await this.db.query<{ system: string; local_id: string }>('SELECT system, local_id FROM case_refs WHERE supervision_code = $1 ORDER BY created_at, system, local_id', [code]);
    return { projection: projectCase(code, timeline), references: refs.rows.map((r) => ({ system: r.system, localId: r.local_id })), timeline };
  }

  async lookup(system: string, localId: string): Promise<string | null> {
    const r = await this.db.query<{ supervision_code: string }>(
      `SELECT r.supervision_code FROM case_refs r WHERE r.system = $1 AND r.local_id = $2
         AND EXISTS (SELECT 1 FROM events e WHERE e.supervision_code = r.supervision_code)`, [system, localId]);
    return r.rows[0]?.supervision_code ?? null;
  }

  /** Newest first; the cursor is the last row's (first seen, code). */
  async list(f: CaseFilter): Promise<{ rows: CaseSummary[]; more: boolean }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => { params.push(v); where.push(sql.replace('?', `$${params.length}`)); };
    if (f.department) add('(department_code = ? OR hall_code = $' + (params.length + 1) + ')', f.department);
    if (f.status) add('status = ?', f.status);
    if (f.light) add('light = ?', f.light);
    if (f.item) add('item_code = ?', f.item);
    if (f.cursor) {
      params.push(f.cursor.firstSeen, f.cursor.code);
      where.push(`(first_seen, supervision_code) < ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(f.limit + 1);
    const sql = `SELECT supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status,
        status_time::text AS status_time, light, deadline::text AS deadline, paused, violations, event_count,
        to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_seen
      FROM cases ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY first_seen DESC, supervision_code DESC LIMIT $${params.length}`;
    const r = await this.db.query<any>(sql, params);
    const rows: CaseSummary[] = r.rows.slice(0, f.limit).map((x) => ({
      supervisionCode: x.supervision_code,
      department: { code: x.department_code, name: x.department_name, ...(x.hall_code ? { hall: { code: x.hall_code, name: x.hall_name } } : {}) },
      item: { code: x.item_code, name: x.item_name },
      status: x.status,
      light: x.light,
      deadline: x.deadline,
      paused: x.paused,
      violations: (x.violations as unknown[]).length,
      events: x.event_count,
      firstSeen: x.first_seen,
    }));
    return { rows, more: r.rows.length > f.limit };
  }

  /** Per department, and per hall within it: what the supervisor's statistics page shows. */
  async departmentStats(): Promise<DepartmentStats[]> {
    const r = await this.db.query<any>(`
      SELECT department_code, department_name, hall_code, hall_name, count(*)::int AS received,
        count(*) FILTER (WHERE status NOT IN ('REJECTED','DENIED','COMPLETED','DELIVERED','WITHDRAWN'))::int AS in_progress,
        count(*) FILTER (WHERE status IN ('COMPLETED','DELIVERED'))::int AS completed,
        count(*) FILTER (WHERE light = 'GREEN')::int AS green, count(*) FILTER (WHERE light = 'YELLOW')::int AS yellow,
        count(*) FILTER (WHERE light = 'RED')::int AS red, count(*) FILTER (WHERE jsonb_array_length(violations) > 0)::int AS violations
      FROM cases GROUP BY department_code, department_name, hall_code, hall_name ORDER BY department_code, hall_code NULLS FIRST`);
    const byDept = new Map<string, DepartmentStats>();
    const row = (x: any, code: string, name: string): DepartmentStats => ({
      code, name, received: x.received, inProgress: x.in_progress, completed: x.completed,
      // Need the supervision rules' deadlines; null until they are computed.
      onTimeRate: null, avgWorkingDays: null,
      lights: { GREEN: x.green, YELLOW: x.yellow, RED: x.red }, violations: x.violations, halls: [],
    });
    for (const x of r.rows) {
      let d = byDept.get(x.department_code);
      if (!d) { d = row({ received: 0, in_progress: 0, completed: 0, green: 0, yellow: 0, red: 0, violations: 0 }, x.department_code, x.department_name); byDept.set(x.department_code, d); }
      d.received += x.received; d.inProgress += x.in_progress; d.completed += x.completed; d.violations += x.violations;
      d.lights.GREEN += x.green; d.lights.YELLOW += x.yellow; d.lights.RED += x.red;
      if (x.hall_code) { const h = row(x, x.hall_code, x.hall_name); delete (h as Partial<DepartmentStats>).halls; d.halls!.push(h); }
    }
    return [...byDept.values()];
  }

  async countEvents(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*)::text AS n FROM events');
    return Number(r.rows[0].n);
  }

  async countsByDepartmentAndLight(): Promise<{ department: string; light: string | null; n: number }[]> {
    const r = await this.db.query<{ department_code: string; light: string | null; n: string }>(
      'SELECT department_code, light, count(*)::text AS n FROM cases GROUP BY department_code, light');
    return r.rows.map((x) => ({ department: x.department_code, light: x.light, n: Number(x.n) }));
  }
}
