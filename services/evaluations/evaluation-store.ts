import type { SqlDriver, SqlExecutor } from '../store/sql-driver';
import { jsonParam } from '../store/sql-driver';
import { Where } from '../store/where';
import { isoBeijing } from '../store/sql-time';
import type { CanonicalStatus } from '../../contracts/types';
import type { StoredApplicant } from '../../core/ports/sealed-data';
import type { ListCursor } from '../../core/kernel/list-cursor';

/** A link as stored: the token's sha256 (how a presented token is found), the token and its applicant sealed. */
export interface LinkRow {
  tokenHash: string;
  supervisionCode: string;
  /** sealed: the applicant's ID number the link was issued for */
  applicant: string;
  /** sealed */
  token: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/** What an evaluation needs of its case: never the applicant's data beyond its stored (sealed) form. */
export interface CaseFacts {
  supervisionCode: string;
  department: { code: string; name: string };
  hall: { code: string; name: string } | null;
  item: { code: string; name: string };
  status: CanonicalStatus;
  applicant: StoredApplicant;
}

/** An evaluation as stored; comment and note are sealed. */
export interface EvaluationRow {
  id: string;
  supervisionCode: string;
  department: { code: string; name: string };
  hall: { code: string; name: string } | null;
  item: { code: string; name: string };
  rating: number;
  comment: string | null;
  /** ISO 8601 +08:00 */
  submittedAt: string;
  /** The time a list cursor carries back (microseconds). */
  submittedAtUs: string;
  followUp: null | {
    /** ISO 8601 +08:00, whole seconds (the end of a working day). */
    dueAt: string;
    dueMs: number;
    closedAt: string | null;
    closedMs: number | null;
    note: string | null;
    closedBy: string | null;
    alertId: string | null;
  };
}

export interface NewEvaluation {
  id: string;
  facts: CaseFacts;
  tokenHash: string;
  rating: number;
  /** sealed */
  comment: string | null;
  submittedAt: Date;
  followUpDue: Date | null;
}

/** Which follow-ups a list shows: still open, past their due time without being closed by it, or closed. */
export type FollowUpFilter = 'open' | 'late' | 'done';

export interface EvaluationFilter {
  /** A department or hall code. */
  department?: string;
  /** The caller's departments (canonical codes); unset: every department. */
  scope?: readonly string[];
  followUp?: FollowUpFilter;
  /** What "late" is measured against for a follow-up still open. */
  now: Date;
  cursor: ListCursor | null;
  limit: number;
}

export interface EvaluationStatsRow {
  department: { code: string; name: string };
  evaluations: number;
  satisfied: number;
  bad: number;
  onTime: number;
  late: number;
  open: number;
}

/** A FOLLOW_UP_OVERDUE alert as stored, with its id. */
export interface RaisedAlert {
  id: string;
  evaluationId: string;
  supervisionCode: string;
  department: { code: string; name: string };
  dueAt: string;
}

// The supervisor's advisory lock under which alert ids are taken, held to the commit
// (services/supervisor/supervision-store.ts, ALERT_LOCK): ids are committed in order, so that a
// reader that has seen alert n (the list's cursor, the stream's Last-Event-ID) has seen every alert
// before it. Kept in step by hand while that store offers no public way to add an alert.
const ALERT_LOCK = [7342102, 0] as const;
// Issuing a case's link takes this lock with the hash of its code: two calls at once for one case
// would otherwise each issue a token (sealed values differ each time, so no unique key can tell).
const LINK_LOCK = 7342104;

/** The follow-up conditions of the list filters and the statistics; `$now` is the hub's now. */
const FOLLOW_UP_SQL: Record<FollowUpFilter, (now: string) => string> = {
  open: () => 'follow_up_due IS NOT NULL AND follow_up_at IS NULL',
  late: (now) => `follow_up_due IS NOT NULL AND (follow_up_at > follow_up_due OR (follow_up_at IS NULL AND follow_up_due < ${now}))`,
  done: () => 'follow_up_at IS NOT NULL',
};
const ON_TIME_SQL = 'follow_up_at IS NOT NULL AND follow_up_at <= follow_up_due';

const EVALUATION_COLUMNS = `id, supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, rating, comment,
  ${isoBeijing('submitted_at')} AS submitted_at, ${isoBeijing('submitted_at', 'us')} AS submitted_us,
  ${isoBeijing('follow_up_due', 's')} AS follow_up_due, (extract(epoch FROM follow_up_due) * 1000)::float8 AS due_ms,
  ${isoBeijing('follow_up_at')} AS follow_up_at, (extract(epoch FROM follow_up_at) * 1000)::float8 AS closed_ms,
  follow_up_note, follow_up_by, overdue_alert_id::text AS overdue_alert_id`;

interface EvaluationSqlRow {
  id: string; supervision_code: string; department_code: string; department_name: string; hall_code: string | null; hall_name: string | null;
  item_code: string; item_name: string; rating: number; comment: string | null; submitted_at: string; submitted_us: string;
  follow_up_due: string | null; due_ms: number | null; follow_up_at: string | null; closed_ms: number | null;
  follow_up_note: string | null; follow_up_by: string | null; overdue_alert_id: string | null;
}

function toRow(r: EvaluationSqlRow): EvaluationRow {
  return {
    id: r.id,
    supervisionCode: r.supervision_code,
    department: { code: r.department_code, name: r.department_name },
    hall: r.hall_code ? { code: r.hall_code, name: r.hall_name ?? r.hall_code } : null,
    item: { code: r.item_code, name: r.item_name },
    rating: Number(r.rating),
    comment: r.comment,
    submittedAt: r.submitted_at,
    submittedAtUs: r.submitted_us,
    followUp: r.follow_up_due === null ? null : {
      dueAt: r.follow_up_due, dueMs: Number(r.due_ms),
      closedAt: r.follow_up_at, closedMs: r.closed_ms === null ? null : Number(r.closed_ms),
      note: r.follow_up_note, closedBy: r.follow_up_by, alertId: r.overdue_alert_id,
    },
  };
}

/** The evaluations' part of the store (migration 022): links, evaluations, follow-ups and their alerts. */
export class EvaluationStore {
  constructor(private readonly db: SqlDriver) {}

  /** The case an evaluation is about, as its row stores it; null for an unknown case. */
  async caseFacts(code: string): Promise<CaseFacts | null> {
    const r = await this.db.query<{
      department_code: string; department_name: string; hall_code: string | null; hall_name: string | null;
      item_code: string; item_name: string; status: CanonicalStatus; applicant: StoredApplicant | string;
    }>('SELECT department_code, department_name, hall_code, hall_name, item_code, item_name, status, applicant FROM cases WHERE supervision_code = $1', [code]);
    const row = r.rows[0];
    if (!row) return null;
    return {
      supervisionCode: code,
      department: { code: row.department_code, name: row.department_name },
      hall: row.hall_code ? { code: row.hall_code, name: row.hall_name ?? row.hall_code } : null,
      item: { code: row.item_code, name: row.item_name },
      status: row.status,
      applicant: typeof row.applicant === 'string' ? (JSON.parse(row.applicant) as StoredApplicant) : row.applicant,
    };
  }

  /**
   * The case's link for its applicant: the stored one `isTheirs` recognises (given each stored link
   * of the case), else the one `issue` makes, stored. Under the case's link lock, so that two calls
   * at once answer the same link.
   */
  async linkOf(code: string, isTheirs: (link: LinkRow) => boolean, issue: () => LinkRow): Promise<{ link: LinkRow; issued: boolean }> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2))', [LINK_LOCK, code]);
      const r = await tx.query<LinkSqlRow>(`${LINK_SELECT} WHERE supervision_code = $1 ORDER BY issued_at`, [code]);
      const found = r.rows.map(toLink).find(isTheirs);
      if (found) return { link: found, issued: false };
      const link = issue();
      await tx.query(
        `INSERT INTO evaluation_links (token_hash, supervision_code, applicant, token, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
        [link.tokenHash, link.supervisionCode, link.applicant, link.token, new Date(link.issuedAtMs).toISOString(), new Date(link.expiresAtMs).toISOString()]);
      return { link, issued: true };
    });
  }

  async linkByHash(tokenHash: string): Promise<LinkRow | null> {
    const r = await this.db.query<LinkSqlRow>(`${LINK_SELECT} WHERE token_hash = $1`, [tokenHash]);
    return r.rows[0] ? toLink(r.rows[0]) : null;
  }

  /** Stores an evaluation; false when the case has one already (one per case, whichever link it came through). */
  async addEvaluation(e: NewEvaluation): Promise<boolean> {
    const r = await this.db.query(
      `INSERT INTO evaluations (id, supervision_code, token_hash, department_code, department_name, hall_code, hall_name, item_code, item_name,
         rating, comment, submitted_at, follow_up_due)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (supervision_code) DO NOTHING RETURNING id`,
      [e.id, e.facts.supervisionCode, e.tokenHash, e.facts.department.code, e.facts.department.name, e.facts.hall?.code ?? null, e.facts.hall?.name ?? null,
        e.facts.item.code, e.facts.item.name, e.rating, e.comment, e.submittedAt.toISOString(), e.followUpDue?.toISOString() ?? null]);
    return r.rows.length === 1;
  }

  async byId(id: string, db: SqlExecutor = this.db): Promise<EvaluationRow | null> {
    const r = await db.query<EvaluationSqlRow>(`SELECT ${EVALUATION_COLUMNS} FROM evaluations WHERE id = $1`, [id]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  async byCase(code: string): Promise<EvaluationRow | null> {
    const r = await this.db.query<EvaluationSqlRow>(`SELECT ${EVALUATION_COLUMNS} FROM evaluations WHERE supervision_code = $1`, [code]);
    return r.rows[0] ? toRow(r.rows[0]) : null;
  }

  /**
   * Closes a follow-up under its row's lock, if `check` (given the row as stored) lets it: `check`
   * throws to refuse (not found, nothing to follow up, closed already). Answers the row as closed.
   */
  async closeFollowUp(id: string, close: { at: Date; note: string; by: string }, check: (row: EvaluationRow | null) => void): Promise<EvaluationRow> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM evaluations WHERE id = $1 FOR UPDATE', [id]);
      check(await this.byId(id, tx));
      await tx.query('UPDATE evaluations SET follow_up_at = $2, follow_up_note = $3, follow_up_by = $4 WHERE id = $1',
        [id, close.at.toISOString(), close.note, close.by]);
      return (await this.byId(id, tx))!;
    });
  }

  /** Newest first, `limit` of them after the cursor; `more` when others follow. */
  async list(f: EvaluationFilter): Promise<{ rows: EvaluationRow[]; more: boolean }> {
    const w = new Where();
    if (f.scope) w.add('department_code = ANY(?::text[])', [...f.scope]);
    if (f.department) w.add('(department_code = ? OR hall_code = ?)', f.department, f.department);
    // The hub's now is a parameter only where the condition reads it: an unused one has no type.
    if (f.followUp) w.add(FOLLOW_UP_SQL[f.followUp](f.followUp === 'late' ? `${w.param(f.now.toISOString())}::timestamptz` : ''));
    if (f.cursor) w.add('(submitted_at, id) < (?::timestamptz, ?)', f.cursor.time, f.cursor.key);
    const r = await this.db.query<EvaluationSqlRow>(
      `SELECT ${EVALUATION_COLUMNS} FROM evaluations ${w} ORDER BY submitted_at DESC, id DESC LIMIT ${w.param(f.limit + 1)}`, w.params);
    return { rows: r.rows.slice(0, f.limit).map(toRow), more: r.rows.length > f.limit };
  }

  /**
   * Per department (halls rolled up), over evaluations submitted on Beijing dates in [from, to]:
   * how many, how many satisfied (4, 5), how many bad (1, 2), and their follow-ups closed on time,
   * late (closed after the due time, or still open past it) and open (not closed).
   */
  async stats(f: { from?: string; to?: string; scope?: readonly string[]; now: Date }): Promise<EvaluationStatsRow[]> {
    const w = new Where();
    if (f.from) w.add("(submitted_at AT TIME ZONE 'Asia/Shanghai')::date >= ?::date", f.from);
    if (f.to) w.add("(submitted_at AT TIME ZONE 'Asia/Shanghai')::date <= ?::date", f.to);
    if (f.scope) w.add('department_code = ANY(?::text[])', [...f.scope]);
    const now = `${w.param(f.now.toISOString())}::timestamptz`;
    const r = await this.db.query<{ dc: string; dn: string; n: number; satisfied: number; bad: number; on_time: number; late: number; open: number }>(
      `SELECT department_code AS dc, max(department_name) AS dn, count(*)::int AS n,
         (count(*) FILTER (WHERE rating >= 4))::int AS satisfied, (count(*) FILTER (WHERE rating <= 2))::int AS bad,
         (count(*) FILTER (WHERE ${ON_TIME_SQL}))::int AS on_time,
         (count(*) FILTER (WHERE ${FOLLOW_UP_SQL.late(now)}))::int AS late,
         (count(*) FILTER (WHERE ${FOLLOW_UP_SQL.open(now)}))::int AS open
       FROM evaluations ${w} GROUP BY department_code ORDER BY department_code`, w.params);
    return r.rows.map((x) => ({
      department: { code: x.dc, name: x.dn }, evaluations: Number(x.n), satisfied: Number(x.satisfied), bad: Number(x.bad),
      onTime: Number(x.on_time), late: Number(x.late), open: Number(x.open),
    }));
  }

  /**
   * Raises one FOLLOW_UP_OVERDUE alert (RED) for each of up to `limit` follow-ups still open past
   * their due time by `now` and not alerted yet, and records it on the evaluation, in one
   * transaction: a follow-up never raises a second alert, and one closed meanwhile raises none (its
   * row is locked, or skipped while another transaction holds it, until the next sweep). The alerts
   * go where the supervisor's go (the alerts table), so the list, the stream and the outbox
   * dispatcher (which publishes them on the bus) take them up as they are.
   */
  async raiseOverdue(now: Date, limit: number, reason: string): Promise<RaisedAlert[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx.query<{ id: string; supervision_code: string; department_code: string; department_name: string; hall_code: string | null; due: string }>(
        `SELECT id, supervision_code, department_code, department_name, hall_code, ${isoBeijing('follow_up_due', 's')} AS due
         FROM evaluations
         WHERE follow_up_at IS NULL AND overdue_alert_id IS NULL AND follow_up_due IS NOT NULL AND follow_up_due < $1
         ORDER BY follow_up_due, id LIMIT $2 FOR UPDATE SKIP LOCKED`, [now.toISOString(), limit]);
      if (!due.rows.length) return [];
      // Last: the alert lock is held from here to the commit (see ALERT_LOCK).
      await tx.query('SELECT pg_advisory_xact_lock($1::int, $2::int)', [...ALERT_LOCK]);
      const r = await tx.query<{ ids: string }>(
        `WITH added AS (
           INSERT INTO alerts (kind, level, supervision_code, department_code, department_name, hall_code, from_light, to_light, violation, at)
           SELECT 'FOLLOW_UP_OVERDUE', 'RED', x.code, x.dc, x.dn, x.hc, NULL, NULL, x.v, x.at
           FROM ROWS FROM (json_to_recordset($1::json) AS (code text, dc text, dn text, hc text, v jsonb, at timestamptz))
             WITH ORDINALITY AS x(code, dc, dn, hc, v, at, n) ORDER BY x.n
           RETURNING id)
         SELECT string_agg(id::text, ',' ORDER BY id) AS ids FROM added`,
        [jsonParam(JSON.stringify(due.rows.map((d) => ({
          code: d.supervision_code, dc: d.department_code, dn: d.department_name, hc: d.hall_code,
          v: { code: 'FOLLOW_UP_OVERDUE', reason, evaluationId: d.id, dueAt: d.due }, at: now.toISOString(),
        }))))]);
      // Inserted in order, so the ids (ascending) are the follow-ups' in order.
      const ids = r.rows[0].ids.split(',');
      await tx.query(
        'UPDATE evaluations SET overdue_alert_id = x.a FROM json_to_recordset($1::json) AS x(id text, a bigint) WHERE evaluations.id = x.id',
        [jsonParam(JSON.stringify(due.rows.map((d, i) => ({ id: d.id, a: Number(ids[i]) }))))]);
      return due.rows.map((d, i) => ({ id: ids[i], evaluationId: d.id, supervisionCode: d.supervision_code, department: { code: d.department_code, name: d.department_name }, dueAt: d.due }));
    });
  }
}

const LINK_SELECT = `SELECT token_hash, supervision_code, applicant, token,
  (extract(epoch FROM issued_at) * 1000)::float8 AS issued_ms, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_ms
  FROM evaluation_links`;

interface LinkSqlRow { token_hash: string; supervision_code: string; applicant: string; token: string; issued_ms: number; expires_ms: number }

function toLink(r: LinkSqlRow): LinkRow {
  return {
    tokenHash: r.token_hash, supervisionCode: r.supervision_code, applicant: r.applicant, token: r.token,
    issuedAtMs: Number(r.issued_ms), expiresAtMs: Number(r.expires_ms),
  };
}
