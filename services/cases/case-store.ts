import type { CaseEvent } from '../../contracts/types';
import { SqlDriver, SqlExecutor, rowsAsJson, jsonParam, CopyJson } from '../store/sql-driver';
import { issueSupervisionCode } from '../../core/identifiers/supervision-code';
import { compactBody, expandBody, isPrepared, mayBeRefused, ApplyInput } from '../../core/ports/event-row';
import { Where } from '../store/where';
import type { ListCursor } from '../../core/kernel/list-cursor';
import { projectCase, projectOrdered, orderTimeline, StoredEvent, CaseProjection, ProjectedEvent } from './projection';
import { isoBeijing } from '../store/sql-time';
import type { DataKeys } from '../../core/kernel/data-keys';
import { activeTraceparent } from '../../core/kernel/tracing';
import { isSealedApplicant, lookupIdNumber, openApplicant, openEvent, openText, sealEvent, SEALED, StoredApplicant } from '../../core/ports/sealed-data';

export type ApplyResult =
  | { eventId: string; result: 'accepted' | 'duplicate'; supervisionCode: string }
  | { eventId: string; result: 'rejected'; field: string; reason: string; rule: string; value?: string };

export interface ApplyOptions {
  /** When the raw message arrived; events keep it for end-to-end timing. */
  receivedAt: Date;
  /**
   * The trace (W3C traceparent) the events' outbox rows continue, null for none; by default the
   * active one. Given when the events are committed together with other messages' (group commit).
   */
  traceparent?: string | null;
}

/** One message's events among those committed together (CaseStore.applyGroupIn). */
export interface ApplyBatch {
  events: readonly ApplyInput[];
  opts: ApplyOptions;
}

/** What an event's rows keep of the message it came in: its arrival and its trace. */
interface EventOrigin {
  receivedAt: string;
  traceparent: string | null;
}

/** An event to apply: whole, or with its stored body already prepared (a file's mapping worker prepares them). */
export type { ApplyInput };

export interface CaseRow {
  projection: CaseProjection;
  references: { system: string; localId: string }[];
  timeline: StoredEvent[];
}

/** A case as its row stores it (CaseStore.read): what the case views are made of. */
export interface StoredCase {
  projection: CaseProjection;
  references: { system: string; localId: string }[];
  /** Ordered by status time, then by arrival. */
  timeline: StoredTimelineEntry[];
}

/** One event of a stored case's timeline, with the provenance the case view shows. */
export interface StoredTimelineEntry {
  eventId: string;
  status: CaseEvent['data']['status'];
  /** The status time as the department sent it. */
  time: string;
  system: string;
  sourceStatus: CaseEvent['data']['sourceStatus'];
  remark: string | null;
  provenance: { adapter: string; rawMessageId: string; profileVersion?: string };
}

/** One batch of CaseStore.reproject. */
export interface ReprojectBatch {
  /** The cases recomputed, in supervision-code order. */
  codes: string[];
  /** Those whose stored row differed from their events' projection, and was rewritten. */
  changed: string[];
  /** Whether cases remain after the last one of this batch. */
  more: boolean;
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

export interface CaseFilter {
  department?: string;
  status?: string;
  light?: string;
  item?: string;
  /** The caller's departments (canonical codes); unset: every department. */
  scope?: readonly string[];
  limit: number;
  cursor?: ListCursor | null;
}

/**
 * Appends canonical events idempotently, finds or issues the supervision code, and keeps the case
 * projection in step with the timeline, all in the transaction that adds the events.
 */
export class CaseStore {
  constructor(private readonly db: SqlDriver, private readonly region: string, private readonly keys: DataKeys, private readonly now: () => Date = () => new Date()) {}

  /** Applies a batch in one transaction; the results are in the order of the events. */
  async apply(events: readonly ApplyInput[], opts: ApplyOptions): Promise<ApplyResult[]> {
    if (events.length === 0) return [];
    return this.db.transaction((tx) => this.applyIn(tx, events, opts));
  }

  /**
   * As apply, inside a transaction the caller holds (so a file's progress commits with its records).
   * Set-based: a handful of statements per batch whatever its size, because a file chunk holds
   * thousands of events and one round trip per event made large batches slow. The results are
   * those of applying the events one by one in order.
   *
   * The events are appended without conflict handling (COPY on the embedded store). Two nodes
   * storing the same event at once wait for each other on the case's lock; the second's insert then
   * violates the event's key, and its transaction is run again (RETRYABLE_UNIQUE), when it finds the
   * event stored and answers a duplicate.
   */
  async applyIn(tx: SqlExecutor, events: readonly ApplyInput[], opts: ApplyOptions): Promise<ApplyResult[]> {
    if (events.length === 0) return [];
    return (await this.applyGroupIn(tx, [{ events, opts }]))[0];
  }

  /**
   * Several messages' events in the caller's transaction, as few statements as one message's (group
   * commit of concurrent messages). The results, one list per batch, are those of applying the
   * batches one after another in this order: an event a later batch repeats is its duplicate.
   */
  async applyGroupIn(tx: SqlExecutor, batches: readonly ApplyBatch[]): Promise<ApplyResult[][]> {
    const all: ApplyInput[] = [];
    const origins: EventOrigin[] = [];
    for (const { events, opts } of batches) {
      const origin = { receivedAt: opts.receivedAt.toISOString(), traceparent: opts.traceparent === undefined ? activeTraceparent() ?? null : opts.traceparent };
      for (const e of events) { all.push(e); origins.push(origin); }
    }
    const flat = all.length ? await this.applyFlat(tx, all, origins) : [];
    const out: ApplyResult[][] = [];
    let at = 0;
    for (const { events } of batches) { out.push(flat.slice(at, at + events.length)); at += events.length; }
    return out;
  }

  private async applyFlat(tx: SqlExecutor, events: readonly ApplyInput[], origins: readonly EventOrigin[]): Promise<ApplyResult[]> {
    // Personal data is sealed before anything of the event is stored: a prepared event was sealed
    // when its body was prepared (prepareEvent), a whole one is sealed here.
    events = events.map((e) => {
      if (!isPrepared(e)) return sealEvent(this.keys, e);
      if (!isSealedApplicant(e.data.applicant)) throw new Error(`event ${e.id} was prepared with its personal data not sealed`);
      return e;
    });
    const firstOf = new Map<string, number>();
    const unique: ApplyInput[] = [];
    events.forEach((e, k) => {
      if (!firstOf.has(e.id)) { firstOf.set(e.id, k); unique.push(e); }
    });
    // Events already stored are answered from the store; only the others may create references
    // (a re-sent event naming another local case id must not leave an unused code behind).
    const { known, onRecord } = await this.lookUp(tx, unique);
    const unseen = unique.filter((e) => !known.has(e.id));
    const refs = await this.resolveRefs(tx, unseen, onRecord);
    // Each event's case code, looked up once (a chunk holds thousands of events).
    const codes = new Map<ApplyInput, string>();
    for (const e of unseen) codes.set(e, refs.get(refKey(e.data.system, e.data.localCaseId))!);

    const results: ApplyResult[] = new Array(events.length);
    const toInsert: { event: ApplyInput; code: string; origin: EventOrigin }[] = [];
    for (const event of unique) {
      const k = firstOf.get(event.id)!;
      const prior = known.get(event.id);
      if (prior !== undefined) { results[k] = { eventId: event.id, result: 'duplicate', supervisionCode: prior }; continue; }
      const code = codes.get(event)!;
      const carried = event.data.supervisionCode;
      if (mayBeRefused(event) && code !== carried) {
        // One case never gets two codes: the message contradicts what the hub already knows.
        results[k] = {
          eventId: event.id, result: 'rejected', field: 'supervisionCode', rule: 'conflict', value: carried as string,
          reason: `统一服务监管码与该业务已有的监管码 ${code} 不一致 (case ${event.data.localCaseId} of ${event.data.system} already has ${code})`,
        };
        continue;
      }
      results[k] = { eventId: event.id, result: 'accepted', supervisionCode: code };
      toInsert.push({ event, code, origin: origins[k] });
    }
    events.forEach((e, k) => {
      if (results[k]) return;
      // The same event twice in one batch: the second is what the first became.
      const first = results[firstOf.get(e.id)!];
      results[k] = first.result === 'rejected' ? first : { eventId: e.id, result: 'duplicate', supervisionCode: first.supervisionCode };
    });
    const seqs = await this.lockCasesForSeqs(tx, [...codes.values()], toInsert.length);
    await this.refreshMany(tx, await this.insertEvents(tx, toInsert, seqs));
    return results;
  }

  /**
   * Serialises the work on these cases across hub nodes; released at commit. Cases share a bounded
   * set of locks (a case always maps to the same one), so that a file chunk of thousands of cases
   * holds at most LOCK_BUCKETS locks and two nodes stay well inside PostgreSQL's lock table; locks
   * are taken in ascending order, so two transactions never wait for each other in a cycle.
   */
  async lockCases(tx: SqlExecutor, codes: readonly string[]): Promise<void> {
    if (!codes.length) return;
    await tx.query(`SELECT ${LOCK_CASES}`, [CASE_LOCKS, lockBuckets(codes)]);
  }

  /**
   * As lockCases, and in the same statement, once the locks are held, takes n seq values for new
   * events (which break ties of equal status times).
   */
  private async lockCasesForSeqs(tx: SqlExecutor, codes: readonly string[], n: number): Promise<number[]> {
    if (!n) {
      await this.lockCases(tx, codes);
      return [];
    }
    // The seq values are drawn as the locks' row is read, that is once they are all held.
    const r = await tx.query<{ starts: string }>(
      `WITH locked AS (SELECT ${LOCK_CASES})
       SELECT (SELECT string_agg(nextval('events_seq_seq')::text, ',') FROM generate_series(1, $3::int)) AS starts FROM locked`,
      [CASE_LOCKS, lockBuckets(codes), Math.ceil(n / SEQ_BLOCK)]);
    return seqValues(r.rows[0].starts, n);
  }

  /**
   * What the store holds of these events, in one statement: those already stored, with their case's
   * code, and the code on record of every (system, local id) they name.
   */
  private async lookUp(tx: SqlExecutor, events: readonly ApplyInput[]): Promise<{ known: Map<string, string>; onRecord: Map<string, string> }> {
    const pairs = new Map<string, { s: string; l: string }>();
    for (const e of events) pairs.set(refKey(e.data.system, e.data.localCaseId), { s: e.data.system, l: e.data.localCaseId });
    const r = await tx.query<{ known: string | null; refs: string | null }>(
      `SELECT (SELECT json_agg(json_build_array(id, supervision_code)) FROM events WHERE id = ANY(ARRAY(SELECT json_array_elements_text($1::json))))::text AS known,
              (${refsOf('$2')})::text AS refs`,
      [jsonParam(JSON.stringify(events.map((e) => e.id))), jsonParam(JSON.stringify([...pairs.values()]))]);
    return {
      known: new Map(parseJson<[string, string][]>(r.rows[0]?.known)),
      onRecord: new Map(parseJson<[string, string, string][]>(r.rows[0]?.refs).map(([s, l, c]) => [refKey(s, l), c])),
    };
  }

  // Rows travel as one JSON document each way rather than as one row or array element per value:
  // the embedded store spends most of its time per row returned and per array element parsed.

  /**
   * The supervision code of every (system, local id) the events name: the one on record, else the
   * code the first of them carries, else a new one. Inserted in key order, so that two batches
   * naming the same new cases wait for each other instead of deadlocking.
   */
  private async resolveRefs(tx: SqlExecutor, events: readonly ApplyInput[], onRecord: ReadonlyMap<string, string>): Promise<Map<string, string>> {
    const wanted = new Map<string, { s: string; l: string; c: string | null }>();
    for (const e of events) {
      const key = refKey(e.data.system, e.data.localCaseId);
      if (!wanted.has(key)) wanted.set(key, { s: e.data.system, l: e.data.localCaseId, c: e.data.supervisionCode || null });
    }
    if (!wanted.size) return new Map();
    const sorted = [...wanted.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    const refs = new Map<string, string>();
    for (const p of sorted) {
      const c = onRecord.get(refKey(p.s, p.l));
      if (c !== undefined) refs.set(refKey(p.s, p.l), c);
    }
    const missing = sorted.filter((p) => !refs.has(refKey(p.s, p.l)));
    // A code is issued only for a case the hub has not seen, and that carries none.
    for (const p of missing) p.c ??= issueSupervisionCode(this.region, this.now());
    if (missing.length) {
      const r = await tx.query<{ added: string | null }>(
        `WITH added AS (
           INSERT INTO case_refs (system, local_id, supervision_code)
           SELECT x.s, x.l, x.c FROM ROWS FROM (json_to_recordset($1::json) AS (s text, l text, c text)) WITH ORDINALITY AS x(s, l, c, n) ORDER BY x.n
           ON CONFLICT DO NOTHING RETURNING system, local_id, supervision_code)
         SELECT json_agg(json_build_array(system, local_id, supervision_code))::text AS added FROM added`, [jsonParam(JSON.stringify(missing))]);
      for (const [s, l, c] of parseJson<[string, string, string][]>(r.rows[0]?.added)) refs.set(refKey(s, l), c);
      // A pair not inserted here was inserted first by a concurrent batch, which decided its code.
      const taken = missing.filter((p) => !refs.has(refKey(p.s, p.l)));
      if (taken.length) for (const [k, c] of await this.selectRefs(tx, taken)) refs.set(k, c);
    }
    return refs;
  }

  private async selectRefs(tx: SqlExecutor, pairs: readonly { s: string; l: string }[]): Promise<Map<string, string>> {
    const r = await tx.query<{ refs: string | null }>(
      `SELECT (${refsOf('$1')})::text AS refs`,
      [jsonParam(JSON.stringify(pairs.map(({ s, l }) => ({ s, l }))))]);
    return new Map(parseJson<[string, string, string][]>(r.rows[0]?.refs).map(([s, l, c]) => [refKey(s, l), c]));
  }

  /**
   * Appends the events in batch order: their seq values (which break ties of equal status times)
   * are taken from the sequence first (lockCasesForSeqs), so the projection knows them without reading the rows back.
   * Returns them by case.
   */
  private async insertEvents(tx: SqlExecutor, rows: readonly { event: ApplyInput; code: string; origin: EventOrigin }[], seqs: readonly number[]): Promise<Map<string, StoredEvent<ProjectedEvent>[]>> {
    const byCase = new Map<string, StoredEvent<ProjectedEvent>[]>();
    if (!rows.length) return byCase;
    await tx.insertRows('events', ['id', 'seq', 'supervision_code', 'adapter', 'raw_message_id', 'status', 'status_time', 'received_at', 'body'], rows.map(({ event, code, origin }, i) => {
      const p = event.data.provenance;
      let list = byCase.get(code);
      if (!list) byCase.set(code, (list = []));
      list.push({ event, seq: seqs[i] });
      // The event as stored carries the code as its subject.
      const body = isPrepared(event) ? new CopyJson(event.body)
        : compactBody(event.subject === code ? event : { ...event, subject: code }, { id: event.id, adapter: p.adapter, rawMessageId: p.rawMessageId, supervisionCode: code });
      return [event.id, seqs[i], code, p.adapter, p.rawMessageId, event.data.status, event.data.statusTime, origin.receivedAt, body];
    }));
    // Each applied event waits in the outbox (migration 011), committed with it, until the bus has it.
    // With tracing on, the row keeps the trace of the message that applied it (migration 026).
    if (rows.some((r) => r.origin.traceparent)) await tx.insertRows('outbox', ['seq', 'event_id', 'traceparent'], rows.map(({ event, origin }, i) => [seqs[i], event.id, origin.traceparent]));
    else await tx.insertRows('outbox', ['seq', 'event_id'], rows.map(({ event }, i) => [seqs[i], event.id]));
    return byCase;
  }

  /**
   * Recomputes the projections of the cases these new events belong to. What the projection reads
   * of earlier events (id, seq, status, status time, hall) is kept in the case row's timeline, and
   * of the latest event the rest is in the row itself: one row read per case, never its events.
   * If projectCase ever reads more of an event that is not the latest, keep it in the timeline.
   */
  private async refreshMany(tx: SqlExecutor, byCase: ReadonlyMap<string, StoredEvent<ProjectedEvent>[]>): Promise<void> {
    if (!byCase.size) return;
    const codes = [...byCase.keys()].sort();
    const r = await tx.query<{ cases: string | null }>(
      `SELECT json_agg(json_build_array(supervision_code, timeline, department_code, department_name, item_code, item_name, applicant))::text AS cases
       FROM cases WHERE supervision_code = ANY(ARRAY(SELECT json_array_elements_text($1::json)))`, [jsonParam(JSON.stringify(codes))]);
    type Row = [string, TimelineEntry[], string, string, string, string, CaseEvent['data']['applicant']];
    const prior = new Map(parseJson<Row[]>(r.rows[0]?.cases).map((row) => [row[0], row]));
    const added: unknown[][] = [];
    const changed: unknown[][] = [];
    const newKeys: { k: string; c: string }[] = [];
    for (const code of codes) {
      const row = prior.get(code);
      const mine = byCase.get(code)!;
      const earlier: StoredEvent<ProjectedEvent>[] = (row?.[1] ?? []).map(([id, seq, status, statusTime, hall]) => ({
        seq,
        event: { id, data: { status, statusTime, department: { code: row![2], name: row![3], ...(hall ? { hall } : {}) }, item: { code: row![4], name: row![5] }, applicant: row![6] } },
      }));
      // An earlier event that is still the latest by status time was the latest before too: the row's
      // department, item and applicant are its own.
      const values = caseRowValues(code, orderTimeline([...earlier, ...mine]));
      (row ? changed : added).push(values);
      const key = idKeyOf(values[APPLICANT_AT] as StoredApplicant);
      if (key && key !== idKeyOf(row?.[6] as StoredApplicant | undefined)) newKeys.push({ k: key, c: code });
    }
    await this.addApplicantKeys(tx, newKeys);
    // The cases' locks are held and their rows were read under them: which cases are new is exact,
    // and new rows are appended like events (first seen and updated at take the transaction's time).
    await tx.insertRows('cases', CASE_COLUMNS, added);
    if (!changed.length) return;
    await tx.query(
      `UPDATE cases SET ${CASE_COLUMNS.slice(1).map((c) => `${c} = x.${c}`).join(', ')}, updated_at = now()
       FROM json_populate_recordset(NULL::cases, $1::json) AS x WHERE cases.supervision_code = x.supervision_code`,
      [rowsAsJson(CASE_COLUMNS, changed)]);
  }

  /**
   * Files a case under the keyed hash of its applicant's ID number (look-ups by ID number): in a
   * table of its own, so that the case rows carry no index for it. An entry whose case has since
   * named another applicant is left, and look-ups check the case row.
   */
  async addApplicantKeys(tx: SqlExecutor, keys: readonly { k: string; c: string }[]): Promise<void> {
    if (!keys.length) return;
    await tx.query(
      `INSERT INTO case_applicant_keys (id_key, supervision_code)
       SELECT x.k, x.c FROM json_to_recordset($1::json) AS x(k text, c text) ORDER BY x.k, x.c ON CONFLICT DO NOTHING`,
      [jsonParam(JSON.stringify(keys))]);
  }

  /** The cases whose applicant has this ID number (in any spelling the normalisers accept), newest first; only those in `scope` when given. */
  async findByIdNumber(idNumber: string, scope?: readonly string[], limit = 100): Promise<string[]> {
    const keys = this.keys.lookupKeys('idNumber', lookupIdNumber(idNumber));
    const r = await this.db.query<{ supervision_code: string }>(
      `SELECT c.supervision_code FROM case_applicant_keys k JOIN cases c ON c.supervision_code = k.supervision_code
       WHERE k.id_key = ANY($1::text[]) AND c.applicant->>'idKey' = ANY($1::text[]) AND ($2::text[] IS NULL OR c.department_code = ANY($2::text[]))
       GROUP BY c.supervision_code, c.first_seen ORDER BY c.first_seen DESC, c.supervision_code DESC LIMIT $3`,
      [keys, scope ? [...scope] : null, limit]);
    return r.rows.map((x) => x.supervision_code);
  }

  /**
   * The case as its events describe it, projected now, with the events whole. The read path serves
   * `read` (the stored row); this is what a stored row is checked against.
   */
  async get(code: string): Promise<CaseRow | null> {
    const events = await this.db.query<{ id: string; adapter: string; raw_message_id: string; body: Record<string, unknown>; seq: string }>(
      `SELECT e.id, e.adapter, e.raw_message_id, e.body, e.seq FROM cases c CROSS JOIN LATERAL json_array_elements(c.timeline) AS t(entry)
       JOIN events e ON e.id = t.entry->>0 AND e.supervision_code = c.supervision_code WHERE c.supervision_code = $1`, [code]);
    if (!events.rows.length) return null;
    const timeline = orderTimeline(events.rows.map((r) => ({
      event: openEvent(this.keys, expandBody(r.body, { id: r.id, adapter: r.adapter, rawMessageId: r.raw_message_id, supervisionCode: code })), seq: Number(r.seq),
    })));
    const refs = await this.db.query<{ system: string; local_id: string }>('SELECT system, local_id FROM case_refs WHERE supervision_code = $1 ORDER BY created_at, system, local_id', [code]);
    return { projection: projectCase(code, timeline), references: refs.rows.map((r) => ({ system: r.system, localId: r.local_id })), timeline };
  }

  /**
   * The case as its row stores it, in one statement by key: the row, its references, and its
   * timeline with what the case view shows of each event (source system, source status, remark,
   * provenance), read from the events the timeline names. Nothing is projected here, so the case
   * view, lists and statistics answer from the same stored projection (see `reproject`).
   */
  async read(code: string): Promise<StoredCase | null> {
    const r = await this.db.query<{
      department_code: string; department_name: string; hall_code: string | null; hall_name: string | null; item_code: string; item_name: string;
      status: CaseProjection['status']; applicant: CaseProjection['applicant']; light: CaseProjection['light']; deadline: string | null; paused: boolean;
      violations: CaseProjection['violations']; event_count: number; refs: [string, string][] | null;
      timeline: [string, CaseProjection['status'], string, string, StoredTimelineEntry['sourceStatus'], string | null, string, string, string | null][] | null;
    }>(
      `SELECT c.department_code, c.department_name, c.hall_code, c.hall_name, c.item_code, c.item_name, c.status, c.applicant, c.light,
         ${isoBeijing('c.deadline', 's')} AS deadline, c.paused, c.violations, c.event_count,
         (SELECT json_agg(json_build_array(r.system, r.local_id) ORDER BY r.created_at, r.system, r.local_id)
            FROM case_refs r WHERE r.supervision_code = c.supervision_code) AS refs,
         -- Ordered here rather than trusted: rows filled by migration 004 and not rewritten since keep arrival order.
         (SELECT json_agg(json_build_array(t.entry->>0, t.entry->>2, t.entry->>3, b.d->'system', b.d->'sourceStatus', b.d->'remark',
                   COALESCE(b.d->'provenance'->>'adapter', e.adapter),
                   COALESCE(b.d->'provenance'->>'rawMessageId', e.raw_message_id), b.d->'provenance'->'profileVersion') ORDER BY (t.entry->>3)::timestamptz, (t.entry->>1)::bigint)
            FROM json_array_elements(c.timeline) AS t(entry)
            JOIN events e ON e.id = t.entry->>0 AND e.supervision_code = c.supervision_code
            CROSS JOIN LATERAL (SELECT e.body->'data' AS d) AS b) AS timeline
       FROM cases c WHERE c.supervision_code = $1`, [code]);
    const row = r.rows[0];
    if (!row) return null;
    const timeline: StoredTimelineEntry[] = (row.timeline ?? []).map(([eventId, status, time, system, sourceStatus, remark, adapter, rawMessageId, profileVersion]) => ({
      eventId, status, time, system, sourceStatus, remark: openText(this.keys, remark, SEALED.remark),
      provenance: { adapter, rawMessageId, ...(profileVersion !== null ? { profileVersion } : {}) },
    }));
    return {
      projection: {
        supervisionCode: code,
        department: { code: row.department_code, name: row.department_name, ...(row.hall_code ? { hall: { code: row.hall_code, name: row.hall_name! } } : {}) },
        item: { code: row.item_code, name: row.item_name },
        status: row.status,
        // The latest status's time as the department sent it (the column holds the instant only).
        statusTime: timeline[timeline.length - 1]?.time ?? '',
        applicant: openApplicant(this.keys, row.applicant),
        light: row.light,
        deadline: row.deadline,
        paused: row.paused,
        violations: row.violations,
        eventCount: row.event_count,
      },
      references: (row.refs ?? []).map(([system, localId]) => ({ system, localId })),
      timeline,
    };
  }

  /**
   * Recomputes the stored projections of one batch of cases from their events, after a supervision
   * rule changed or a row went wrong: the first `limit` cases after `after` in supervision-code order
   * (keyset, so a run over every case never holds more than a batch), or only those of `codes`. One
   * transaction under the cases' locks, so events applied meanwhile wait for it and are projected
   * after it. A row is rewritten only when it differs from the projection.
   *
   * A case's events are those its row's timeline names, written in the transaction that stored
   * them (events have no index by case, which appending them would pay for); everything else in the
   * row, the timeline's statuses, times and order included, is recomputed from the events.
   */
  async reproject(scope: { codes?: readonly string[]; after?: string | null; limit: number }): Promise<ReprojectBatch> {
    return this.db.transaction(async (tx) => {
      const w = new Where();
      if (scope.after) w.add('supervision_code > ?', scope.after);
      if (scope.codes) w.add('supervision_code = ANY(?::text[])', [...scope.codes]);
      const picked = await tx.query<{ supervision_code: string }>(
        `SELECT supervision_code FROM cases ${w} ORDER BY supervision_code LIMIT ${w.param(scope.limit + 1)}`, w.params);
      const codes = picked.rows.slice(0, scope.limit).map((x) => x.supervision_code);
      const more = picked.rows.length > scope.limit;
      if (!codes.length) return { codes, changed: [], more };
      await this.lockCases(tx, codes);
      const r = await tx.query<{ events: string | null }>(
        `SELECT json_agg(json_build_array(c.supervision_code, e.id, e.seq, b.d->'status', b.d->'statusTime', b.d->'department', b.d->'item', b.d->'applicant'))::text AS events
         FROM cases c CROSS JOIN LATERAL json_array_elements(c.timeline) AS t(entry)
         JOIN events e ON e.id = t.entry->>0 AND e.supervision_code = c.supervision_code
         CROSS JOIN LATERAL (SELECT e.body->'data' AS d) AS b
         WHERE c.supervision_code = ANY($1::text[])`, [codes]);
      type Row = [string, string, number, ProjectedEvent['data']['status'], string, ProjectedEvent['data']['department'], ProjectedEvent['data']['item'], ProjectedEvent['data']['applicant']];
      const byCase = new Map<string, StoredEvent<ProjectedEvent>[]>();
      for (const [code, id, seq, status, statusTime, department, item, applicant] of parseJson<Row[]>(r.rows[0]?.events)) {
        let list = byCase.get(code);
        if (!list) byCase.set(code, (list = []));
        list.push({ seq: Number(seq), event: { id, data: { status, statusTime, department, item, applicant } } });
      }
      // A row whose timeline names no stored event has nothing to be projected from: left as it is.
      const rows = [...byCase].map(([code, events]) => caseRowValues(code, orderTimeline(events)));
      if (!rows.length) return { codes, changed: [], more };
      await this.addApplicantKeys(tx, rows.flatMap((v) => {
        const k = idKeyOf(v[APPLICANT_AT] as StoredApplicant);
        return k ? [{ k, c: v[0] as string }] : [];
      }));
      const plain = CASE_COLUMNS.filter((c) => !JSON_CASE_COLUMNS.includes(c)).slice(1);
      const u = await tx.query<{ supervision_code: string }>(
        `UPDATE cases SET ${CASE_COLUMNS.slice(1).map((c) => `${c} = x.${c}`).join(', ')}, updated_at = now()
         FROM json_populate_recordset(NULL::cases, $1::json) AS x
         WHERE cases.supervision_code = x.supervision_code
           AND ((${plain.map((c) => `cases.${c}`).join(', ')}) IS DISTINCT FROM (${plain.map((c) => `x.${c}`).join(', ')})
             ${JSON_CASE_COLUMNS.map((c) => `OR cases.${c}::jsonb IS DISTINCT FROM x.${c}::jsonb`).join(' ')})
         RETURNING cases.supervision_code`, [rowsAsJson(CASE_COLUMNS, rows)]);
      return { codes, changed: u.rows.map((x) => x.supervision_code).sort(), more };
    });
  }

  /** How many cases there are, and how many of them come at or before `after` in supervision-code order. */
  async countUpTo(after: string | null): Promise<{ total: number; done: number }> {
    const r = await this.db.query<{ total: number; done: number }>(
      'SELECT count(*)::int AS total, count(*) FILTER (WHERE supervision_code <= $1)::int AS done FROM cases', [after ?? '']);
    return r.rows[0];
  }

  /** The case of a department's local id; none when it is outside `scope` (the caller's departments). */
  async lookup(system: string, localId: string, scope?: readonly string[]): Promise<string | null> {
    const r = await this.db.query<{ supervision_code: string }>(
      `SELECT r.supervision_code FROM case_refs r WHERE r.system = $1 AND r.local_id = $2
         AND EXISTS (SELECT 1 FROM cases c WHERE c.supervision_code = r.supervision_code AND ($3::text[] IS NULL OR c.department_code = ANY($3::text[])))`,
      [system, localId, scope ? [...scope] : null]);
    return r.rows[0]?.supervision_code ?? null;
  }

  /** Newest first; the cursor is the last row's (first seen, code). */
  async list(f: CaseFilter): Promise<{ rows: CaseSummary[]; more: boolean }> {
    const w = new Where();
    if (f.status) w.add('status = ?', f.status);
    if (f.light) w.add('light = ?', f.light);
    if (f.item) w.add('item_code = ?', f.item);
    if (f.scope) w.add('department_code = ANY(?::text[])', [...f.scope]);
    if (f.cursor) w.add('(first_seen, supervision_code) < (?::timestamptz, ?)', f.cursor.time, f.cursor.key);
    // Ordered by the columns, named with their table: a bare first_seen is the select list's text form,
    // which no index orders, and every page sorted the whole table.
    const order = 'ORDER BY cases.first_seen DESC, cases.supervision_code DESC';
    let from = `cases ${w}`;
    if (f.department) {
      // A department's cases, or a hall's: each read through its own index in the list's order
      // (migration 017), the two pages merged. As one condition with OR, no index gives the order,
      // and PostgreSQL walked a light's whole index for a department with few cases of that light.
      const d = w.param(f.department);
      const where = (c: string) => `${w}`.length ? `${w} AND ${c}` : `WHERE ${c}`;
      const page = w.param(f.limit + 1);
      from = `((SELECT * FROM cases ${where(`department_code = ${d}`)} ${order} LIMIT ${page})
        UNION ALL (SELECT * FROM cases ${where(`hall_code = ${d} AND department_code <> ${d}`)} ${order} LIMIT ${page})) AS cases`;
    }
    const sql = `SELECT supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status,
        status_time::text AS status_time, light, ${isoBeijing('deadline', 's')} AS deadline, paused, violations, event_count,
        to_char(first_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS first_seen
      FROM ${from}
      ${order} LIMIT ${w.param(f.limit + 1)}`;
    const r = await this.db.query<any>(sql, w.params);
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

  async countEvents(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*)::text AS n FROM events');
    return Number(r.rows[0].n);
  }
}


/** The columns the case store writes; light, deadline, paused, violations and the rest are the supervisor's (migration 016). */
const CASE_COLUMNS = ['supervision_code', 'department_code', 'department_name', 'hall_code', 'hall_name', 'item_code', 'item_name', 'status',
  'status_time', 'applicant', 'event_count', 'timeline'];

/** Where the applicant is in caseRowValues. */
const APPLICANT_AT = CASE_COLUMNS.indexOf('applicant');

function idKeyOf(a: StoredApplicant | null | undefined): string | null {
  return a && isSealedApplicant(a) ? a.idKey : null;
}

/** The case row's columns that hold json (which has no equality: compared as jsonb). */
const JSON_CASE_COLUMNS = ['applicant', 'timeline'];

/** A case row's values in CASE_COLUMNS order, for a timeline in orderTimeline's order: applying events and reprojecting write the same row. */
function caseRowValues(code: string, ordered: readonly StoredEvent<ProjectedEvent>[]): unknown[] {
  const p = projectOrdered(code, ordered);
  const timeline: TimelineEntry[] = ordered.map(({ event: e, seq }) => [e.id, seq, e.data.status, e.data.statusTime, e.data.department.hall ?? null]);
  return [code, p.department.code, p.department.name, p.department.hall?.code ?? null, p.department.hall?.name ?? null,
    p.item.code, p.item.name, p.status, p.statusTime, p.applicant, p.eventCount, timeline];
}

/** One event of a case as its row's timeline keeps it: id, seq, status, status time as sent, hall. */
type TimelineEntry = [string, number, CaseEvent['data']['status'], string, { code: string; name: string } | null];

/** Events' seq values come in blocks of this many (migration 009): one nextval per block a batch needs. */
const SEQ_BLOCK = 65536;

/** n new seq values in increasing order, one round trip whatever n. */
/** The seq values of n new events, from the starts of the blocks drawn for them (comma-separated). */
function seqValues(startsText: string, n: number): number[] {
  const starts = startsText.split(',').map(Number).sort((a, b) => a - b);
  const seqs = new Array<number>(n);
  for (let i = 0; i < n; i++) seqs[i] = starts[Math.floor(i / SEQ_BLOCK)] + (i % SEQ_BLOCK);
  return seqs;
}

/**
 * The code on record of each (s, l) pair of the JSON parameter `param`, as one JSON array of
 * [system, local id, code]. One look-up by key per pair, whatever the size of the table: as a join,
 * the planner (which takes the pairs for 100 rows) hashed them against a sequential scan of every
 * reference, for each report. The LIMIT keeps the lateral subquery from being flattened into such a join.
 */
function refsOf(param: string): string {
  return `SELECT json_agg(json_build_array(x.s, x.l, r.supervision_code))
          FROM json_to_recordset(${param}::json) AS x(s text, l text)
          CROSS JOIN LATERAL (SELECT c.supervision_code FROM case_refs c WHERE c.system = x.s AND c.local_id = x.l LIMIT 1) AS r`;
}

/** Takes the case locks of buckets $2 (class $1), in the given (ascending) order; one row. */
const LOCK_CASES = 'count(pg_advisory_xact_lock($1::int, b))::int AS n FROM unnest($2::int[]) AS b';

/** The lock buckets of these cases, ascending: two transactions then never wait for each other in a cycle. */
function lockBuckets(codes: readonly string[]): number[] {
  return [...new Set(codes.map(lockBucket))].sort((a, b) => a - b);
}

// Advisory locks of the case store: the two-key form, in its own key space (class, bucket).
const CASE_LOCKS = 7342101;
export const LOCK_BUCKETS = 1024;

/** The lock bucket of a supervision code (FNV-1a: the same code always gives the same bucket); the sweep groups cases by it. */
export function lockBucket(code: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < code.length; i++) {
    h ^= code.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % LOCK_BUCKETS;
}

function refKey(system: string, localId: string): string {
  return `${system}\u0000${localId}`;
}

/** A json aggregate as text (one value for the drivers to pass through, parsed once here); null when there were no rows. */
function parseJson<T extends unknown[]>(v: T | string | null | undefined): T {
  if (v === null || v === undefined) return [] as unknown as T;
  return typeof v === 'string' ? JSON.parse(v) : v;
}
