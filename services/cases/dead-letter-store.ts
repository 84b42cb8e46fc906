import { randomUUID } from 'node:crypto';
import type { SqlDriver, SqlExecutor } from '../store/sql-driver';
import type { MappingFailure } from '../../core/ports/mapping';
import { Where } from '../store/where';
import { isoBeijing } from '../store/sql-time';
import type { DataKeys } from '../../core/kernel/data-keys';
import { sealedKeyId } from '../../core/kernel/data-keys';
import { openText, sealText, SEALED } from '../../core/ports/sealed-data';

export interface DeadLetter {
  id: string;
  adapter: string;
  rawMessageId: string;
  recordIndex: number;
  record: unknown;
  context: Record<string, unknown>;
  reason: string;
  rule: string | null;
  field: string | null;
  value: string | null;
  receivedAt: string;
  replays: number;
  resolvedAt: string | null;
  resolution: unknown;
}

export interface NewDeadLetter {
  rawMessageId: string;
  recordIndex: number;
  record: unknown;
  context?: Record<string, unknown>;
  failure: MappingFailure;
  receivedAt: Date;
}

const COLUMNS = `id, adapter, raw_message_id, record_index, record, context, reason, rule, field, value,
  ${isoBeijing('received_at')} AS received_at, replays, ${isoBeijing('resolved_at')} AS resolved_at, resolution, seq`;

/**
 * Records that could not be mapped: kept with their raw form and reason until fixed and replayed.
 * The record, the value refused and the reason (which may quote it) are sealed: they hold whatever
 * personal data the department sent.
 */
export class DeadLetterStore {
  constructor(private readonly db: SqlDriver, private readonly keys: DataKeys) {}

  /**
   * Adds dead letters inside the caller's transaction, in one statement however many there are
   * (a file may refuse thousands of records); a record already dead-lettered keeps its entry and
   * takes the newest reason.
   */
  async addIn(tx: SqlExecutor, letters: readonly NewDeadLetter[]): Promise<void> {
    if (!letters.length) return;
    // The same record twice in one batch: its first refusal is the entry.
    const seen = new Set<string>();
    const rows = letters.filter((d) => {
      const e = d.failure.eventId;
      if (!e) return true;
      const key = `${d.failure.adapter}\u0000${e}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }).map((d) => ({
      id: randomUUID(), a: d.failure.adapter, m: d.rawMessageId, i: d.recordIndex, rec: this.keys.seal(JSON.stringify(d.record ?? null), SEALED.deadLetterRecord),
      ctx: d.context ?? {}, r: sealText(this.keys, d.failure.reason, SEALED.deadLetterValue), ru: d.failure.rule, f: d.failure.field,
      v: sealText(this.keys, d.failure.value === null || d.failure.value === undefined ? null : String(d.failure.value), SEALED.deadLetterValue),
      t: d.receivedAt.toISOString(), e: d.failure.eventId ?? null,
    }));
    // A record already dead-lettered by another message (pushed, then polled) keeps its one open entry.
    await tx.query(
      `INSERT INTO dead_letters (id, adapter, raw_message_id, record_index, record, context, reason, rule, field, value, received_at, event_id)
       SELECT x.id, x.a, x.m, x.i, coalesce(x.rec, 'null'::jsonb), x.ctx, x.r, x.ru, x.f, x.v, x.t::timestamptz, x.e
       FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, a text, m text, i int, rec jsonb, ctx jsonb, r text, ru text, f text, v text, t text, e text))
            WITH ORDINALITY AS x(id, a, m, i, rec, ctx, r, ru, f, v, t, e, n)
       WHERE x.e IS NULL OR NOT EXISTS (
         SELECT 1 FROM dead_letters d WHERE d.adapter = x.a AND d.event_id = x.e AND d.resolved_at IS NULL
           AND (d.raw_message_id, d.record_index) <> (x.m, x.i))
       ORDER BY x.n
       ON CONFLICT (raw_message_id, record_index) DO UPDATE SET reason = EXCLUDED.reason, rule = EXCLUDED.rule,
         field = EXCLUDED.field, value = EXCLUDED.value`,
      [JSON.stringify(rows)],
    );
  }

  async get(id: string): Promise<DeadLetter | null> {
    const r = await this.db.query<any>(`SELECT ${COLUMNS} FROM dead_letters WHERE id = $1`, [id]);
    return r.rows[0] ? this.toDeadLetter(r.rows[0]) : null;
  }

  /** Oldest first; `state` open (default), resolved or all; cursor is the last entry's sequence number. */
  async list(f: { adapter?: string; state?: 'open' | 'resolved' | 'all'; limit: number; after?: number }): Promise<{ rows: DeadLetter[]; last: number | null; more: boolean }> {
    const w = new Where();
    if (f.adapter) w.add('adapter = ?', f.adapter);
    const state = f.state ?? 'open';
    if (state === 'open') w.add('resolved_at IS NULL');
    if (state === 'resolved') w.add('resolved_at IS NOT NULL');
    if (f.after !== undefined) w.add('seq > ?', f.after);
    const r = await this.db.query<any>(`SELECT ${COLUMNS} FROM dead_letters ${w} ORDER BY seq LIMIT ${w.param(f.limit + 1)}`, w.params);
    const rows = r.rows.slice(0, f.limit);
    return { rows: rows.map((x: any) => this.toDeadLetter(x)), last: rows.length ? Number(rows[rows.length - 1].seq) : null, more: r.rows.length > f.limit };
  }

  async recordReplayIn(tx: SqlExecutor, id: string, outcome: { resolved: boolean; resolution: unknown; failure?: MappingFailure }): Promise<void> {
    if (outcome.resolved) {
      await tx.query('UPDATE dead_letters SET replays = replays + 1, resolved_at = coalesce(resolved_at, now()), resolution = $2 WHERE id = $1', [id, JSON.stringify(outcome.resolution)]);
    } else {
      await tx.query('UPDATE dead_letters SET replays = replays + 1, reason = $2, rule = $3, field = $4, value = $5, resolution = $6 WHERE id = $1',
        [id, sealText(this.keys, outcome.failure!.reason, SEALED.deadLetterValue), outcome.failure!.rule, outcome.failure!.field,
          sealText(this.keys, outcome.failure!.value === null || outcome.failure!.value === undefined ? null : String(outcome.failure!.value), SEALED.deadLetterValue),
          JSON.stringify(outcome.resolution)]);
    }
  }

  async openCounts(): Promise<{ adapter: string; n: number }[]> {
    const r = await this.db.query<{ adapter: string; n: string }>('SELECT adapter, count(*)::text AS n FROM dead_letters WHERE resolved_at IS NULL GROUP BY adapter');
    return r.rows.map((x) => ({ adapter: x.adapter, n: Number(x.n) }));
  }

  /** A row as stored, opened (a row stored before sealing is read as it is). */
  private toDeadLetter(r: any): DeadLetter {
    return {
      id: r.id, adapter: r.adapter, rawMessageId: r.raw_message_id, recordIndex: r.record_index,
      record: sealedKeyId(r.record) !== null ? JSON.parse(this.keys.open(r.record, SEALED.deadLetterRecord)) : r.record, context: r.context,
      reason: openText(this.keys, r.reason, SEALED.deadLetterValue)!, rule: r.rule, field: r.field, value: openText(this.keys, r.value, SEALED.deadLetterValue),
      receivedAt: r.received_at, replays: r.replays, resolvedAt: r.resolved_at, resolution: r.resolution,
    };
  }
}
