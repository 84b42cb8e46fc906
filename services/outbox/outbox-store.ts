import type { CaseEvent } from '../../contracts/types';
import type { SqlExecutor } from '../store/sql-driver';
import { expandBody } from '../../core/ports/event-row';
import type { DataKeys } from '../../core/kernel/data-keys';
import { openEvent } from '../../core/ports/sealed-data';

/** An event committed and not yet published, with its place in the outbox. */
export interface OutboxEntry {
  seq: number;
  eventId: string;
  /** The stored event as CloudEvents; null when the event row is gone (never expected). */
  event: CaseEvent | null;
  /** The W3C trace context of the message that applied the event (migration 026); null while tracing was off. */
  traceparent: string | null;
  /** When the event was applied (its transaction's time, migration 029), in ms since the epoch: how old it is on the bus. */
  appliedAt: number;
}

/**
 * The outbox table (migration 011): events committed and not yet on the bus. The case store writes
 * its rows in the transaction that appends the events; the dispatcher reads them in the order
 * they were applied and deletes each once the bus has taken it.
 */
export class OutboxStore {
  /** `keys`: events are published as the canonical contract states them, their personal data opened. */
  constructor(private readonly db: SqlExecutor, private readonly keys: DataKeys) {}

  /**
   * The oldest entries, in the order their events were applied (seq), each with its CloudEvents
   * envelope rebuilt from the events table. One JSON document for the whole batch: the embedded
   * store spends most of its time per row returned.
   */
  async next(limit: number): Promise<OutboxEntry[]> {
    const r = await this.db.query<{ rows: string | null }>(
      `SELECT json_agg(json_build_array(o.seq, o.event_id, e.adapter, e.raw_message_id, e.supervision_code, e.body, o.traceparent,
                (extract(epoch FROM o.applied_at) * 1000)::float8) ORDER BY o.seq)::text AS rows
       FROM (SELECT seq, event_id, traceparent, applied_at FROM outbox ORDER BY seq LIMIT $1) o LEFT JOIN events e ON e.id = o.event_id`, [limit]);
    const rows = r.rows[0]?.rows;
    if (!rows) return [];
    type Row = [number, string, string | null, string | null, string | null, Record<string, unknown> | null, string | null, number];
    return (JSON.parse(rows) as Row[]).map(([seq, eventId, adapter, rawMessageId, supervisionCode, body, traceparent, appliedAt]) => ({
      seq: Number(seq),
      eventId,
      event: body ? openEvent(this.keys, expandBody(body, { id: eventId, adapter: adapter!, rawMessageId: rawMessageId!, supervisionCode: supervisionCode! })) : null,
      traceparent,
      appliedAt: Math.round(Number(appliedAt)),
    }));
  }

  /** Deletes these entries (their events are on the bus). By seq, never by range: a lower seq may still be committing. */
  async remove(seqs: readonly number[]): Promise<void> {
    if (!seqs.length) return;
    // An array parameter: on the embedded store, a third of the cost of passing the seqs as JSON.
    await this.db.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [seqs]);
  }

  /**
   * Deletes the oldest entries without reading their events (nobody would receive them); answers
   * how many. Reading an event back costs the embedded store several times what deleting its
   * entry does, and a large file applies hundreds of thousands.
   */
  async discard(limit: number): Promise<number> {
    const r = await this.db.query<{ n: number }>(
      'WITH gone AS (DELETE FROM outbox WHERE seq = ANY(ARRAY(SELECT seq FROM outbox ORDER BY seq LIMIT $1)) RETURNING 1) SELECT count(*)::int AS n FROM gone', [limit]);
    return r.rows[0].n;
  }

  /** Events committed and not yet published (hub_queue_depth{queue="outbox"}). */
  async depth(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox');
    return Number(r.rows[0].n);
  }
}
