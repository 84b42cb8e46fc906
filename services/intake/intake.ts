import type { CaseEvent } from '../../contracts/types';
import type { MappingFailure } from '../../adapters/kit/mapping/engine';
import type { Store } from '../store/open-store';
import type { HubMetrics } from '../hub/metrics';
import type { Logger } from '../hub/logger';
import type { RawMessage } from '../store/store';
import type { ProfileSet } from './profile-set';
import type { ApplyResult } from '../cases/case-store';
import type { NewDeadLetter } from '../cases/dead-letter-store';
import type { SqlExecutor } from '../store/sql-driver';
import type { SplitMessage } from '../../adapters/kit/transports/base';

export type RecordOutcome =
  | { index: number; result: 'accepted' | 'duplicate'; eventId: string; supervisionCode: string }
  | { index: number; result: 'rejected'; eventId?: string; field: string; reason: string; rule: string };

export interface ProcessOptions {
  /** Attributes of the batch or envelope (`$batch.X` in profiles). */
  batch?: Record<string, unknown>;
  /**
   * A transport's own check of a record before mapping (a sender reporting outside its scope).
   * Such a refusal is an authorisation matter, not a mapping one: it is answered and logged, but
   * not dead-lettered, so that no replay can apply it.
   */
  precheck?: (record: unknown, index: number) => Omit<MappingFailure, 'adapter'> | null;
  /**
   * Runs inside the transaction that commits the records' outcome, so that a transport's own state
   * (a poller's cursor) moves exactly when the records do. May run more than once if the
   * transaction is retried.
   */
  commitWith?: (tx: SqlExecutor, outcomes: RecordOutcome[]) => Promise<void>;
}

/**
 * The path every department message takes, whatever its transport: the raw bytes are stored first
 * (nothing is acknowledged before that), then each record is mapped, and its events, its dead
 * letters and the raw message's outcome are committed in one transaction.
 */
export class Intake {
  constructor(private readonly deps: { store: Store; profiles: ProfileSet; metrics: HubMetrics; logger: Logger }) {}

  /** Stores the raw message durably. Only after this may a transport acknowledge anything. */
  async receive(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage> {
    return this.deps.metrics.time('inbox', () => this.deps.store.inbox.put(adapter, body, contentType, headers));
  }

  async process(raw: RawMessage, records: readonly unknown[], opts: ProcessOptions = {}): Promise<RecordOutcome[]> {
    const { store, profiles, metrics, logger } = this.deps;
    const adapter = raw.adapter;
    const profile = profiles.get(adapter);
    const mapped: ({ event: CaseEvent } | { failure: MappingFailure; dead: boolean })[] = await metrics.time('map', async () => {
      const out = [];
      for (let i = 0; i < records.length; i++) {
        const pre = opts.precheck?.(records[i], i);
        if (pre) { out.push({ failure: { adapter, ...pre }, dead: false }); continue; }
        const r = await profile.mapRecord(records[i], { rawMessageId: raw.id, recordIndex: i, batch: opts.batch });
        // Mapping resolves in microtasks only: let the event loop serve other requests and signals.
        if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
        out.push(r.ok ? { event: r.event } : { failure: r.failure, dead: true });
      }
      return out;
    });
    const events = mapped.flatMap((m) => ('event' in m ? [m.event] : []));
    const letters: NewDeadLetter[] = [];
    mapped.forEach((m, i) => {
      if ('failure' in m && m.dead) letters.push({ rawMessageId: raw.id, recordIndex: i, record: records[i], context: opts.batch ? { batch: opts.batch } : {}, failure: m.failure, receivedAt: raw.receivedAt });
    });

    const applied = await metrics.time('apply', () =>
      store.driver.transaction(async (tx) => {
        const results = await store.cases.applyIn(tx, events, { receivedAt: raw.receivedAt });
        // The case store may refuse too (a carried supervision code that contradicts the case's).
        const extra: NewDeadLetter[] = [];
        results.forEach((r, k) => {
          if (r.result === 'rejected') {
            const idx = events[k].data.provenance.record ?? 0;
            extra.push({ rawMessageId: raw.id, recordIndex: idx, record: records[idx], context: opts.batch ? { batch: opts.batch } : {}, receivedAt: raw.receivedAt, failure: { adapter, field: r.field, value: r.value ?? null, rule: r.rule, reason: r.reason } });
          }
        });
        await store.deadLetters.addIn(tx, [...letters, ...extra]);
        const outcomes = toOutcomes(mapped, results);
        await store.inbox.markProcessed(raw.id, records.length, outcomes.map(summarise), tx);
        if (opts.commitWith) await opts.commitWith(tx, outcomes);
        return outcomes;
      }),
    );

    const seconds = (Date.now() - raw.receivedAt.getTime()) / 1000;
    metrics.endToEnd.observe({ adapter }, seconds);
    for (const o of applied) {
      metrics.inboundMessages.inc({ adapter, result: o.result });
      if (o.result === 'rejected') {
        logger.warn({ adapter, messageId: raw.id, record: o.index, field: o.field, rule: o.rule, reason: o.reason }, 'record refused');
      }
    }
    applied.forEach((o) => {
      if (o.result === 'accepted') {
        const e = events.find((x) => x.id === o.eventId)!;
        metrics.events.inc({ department: e.data.department.code, status: e.data.status });
      }
    });
    logger.info({ adapter, messageId: raw.id, records: records.length, accepted: count(applied, 'accepted'), duplicate: count(applied, 'duplicate'), rejected: count(applied, 'rejected') }, 'message processed');
    return applied;
  }

  /** Raw messages stored before a stop and never processed: processed now, so none is lost. */
  async recover(adapter: string, split: (raw: RawMessage) => SplitMessage | null | Promise<SplitMessage | null>): Promise<number> {
    let n = 0;
    for (;;) {
      const pending = await this.deps.store.inbox.pending(adapter, 50);
      if (!pending.length) return n;
      for (const raw of pending) {
        const parts = await split(raw);
        if (parts) await this.process(raw, parts.records, { batch: parts.batch });
        else await this.deps.store.inbox.markProcessed(raw.id, 0, { refused: 'unreadable on recovery' });
        n++;
      }
    }
  }
}

function toOutcomes(mapped: ({ event: CaseEvent } | { failure: MappingFailure; dead: boolean })[], results: ApplyResult[]): RecordOutcome[] {
  let k = 0;
  return mapped.map((m, index): RecordOutcome => {
    if ('failure' in m) return { index, result: 'rejected', field: m.failure.field, reason: m.failure.reason, rule: m.failure.rule };
    const r = results[k++];
    if (r.result === 'rejected') return { index, result: 'rejected', eventId: r.eventId, field: r.field, reason: r.reason, rule: r.rule };
    return { index, result: r.result, eventId: r.eventId, supervisionCode: r.supervisionCode };
  });
}

function summarise(o: RecordOutcome) {
  return o.result === 'rejected' ? { i: o.index, r: o.result, field: o.field, rule: o.rule } : { i: o.index, r: o.result, e: o.eventId, c: o.supervisionCode };
}

function count(list: RecordOutcome[], result: string): number {
  return list.filter((o) => o.result === result).length;
}
