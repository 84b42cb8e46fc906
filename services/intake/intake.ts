import type { RecordMapper, Profiles } from '../../core/ports/mapping';
import type { Intake as IntakePort, MappedRecord, ProcessOptions, Progress, RecordOutcome, RecordSource, RecoveryPlan } from '../../core/ports/intake';
import type { Store } from '../store/open-store';
import type { HubMetrics } from '../../core/kernel/metrics';
import type { Logger } from '../../core/kernel/logger';
import type { NewRawMessage, RawMessage } from '../store/store';
import type { ApplyBatch } from '../cases/case-store';
import { GroupCommit } from './group-commit';
import type { NewDeadLetter } from '../cases/dead-letter-store';
import type { SqlExecutor } from '../store/sql-driver';
import type { ApplyInput } from '../../core/ports/event-row';
import { activeTraceparent, annotate, annotateActive, inSpan, SPAN_ATTRS } from '../../core/kernel/tracing';

/**
 * The path every department message takes, whatever its transport: the raw bytes are stored first
 * (nothing is acknowledged before that), then each record is mapped, and its events, its dead
 * letters and the raw message's outcome are committed in one transaction.
 */
export class Intake implements IntakePort {
  /** Raw messages received at the same moment, stored in one statement. */
  private readonly inbox: GroupCommit<NewRawMessage, RawMessage>;
  /** Messages' records mapped at the same moment, applied in one transaction. */
  private readonly applying: GroupCommit<ApplyPart, RecordOutcome[]>;

  constructor(private readonly deps: { store: Store; profiles: Profiles; metrics: HubMetrics; logger: Logger }) {
    // A store of one backend (embedded) commits one group at a time; PostgreSQL overlaps two, so
    // that one group's statements travel while the next is gathered.
    const concurrency = deps.store.driver.kind === 'postgres' ? 2 : 1;
    this.inbox = new GroupCommit({
      run: (items) => deps.store.inbox.putMany(items),
      maxParts: 64, maxWeight: GROUP_BYTES, weight: (m) => m.body.length, concurrency,
    });
    this.applying = new GroupCommit({
      run: (parts) => this.applyParts(parts),
      maxParts: 64, maxWeight: GROUP_RECORDS, weight: (p) => p.mapped.length, concurrency,
    });
  }

  get dataKeys() {
    return this.deps.store.keys;
  }

  /** The mapping profile in force for an adapter (a transport that maps in a worker thread loads the same file and version). */
  profileOf(adapter: string): RecordMapper {
    return this.deps.profiles.get(adapter);
  }

  /** Stores the raw message durably. Only after this may a transport acknowledge anything. */
  async receive(adapter: string, body: Buffer, contentType: string | null, headers: Record<string, string>): Promise<RawMessage> {
    // The first step of a message's trace: the transport's span is its parent.
    const raw = await inSpan('inbox', { attributes: () => ({ [SPAN_ATTRS.adapter]: adapter, 'hub.bytes': body.length }) }, async (span) => {
      const stored = await this.deps.metrics.time('inbox', () => this.inbox.submit({ adapter, body, contentType, headers }));
      annotate(span, () => ({ [SPAN_ATTRS.messageId]: stored.id }));
      return stored;
    });
    // The transport's span, which the message's trace is found by.
    annotateActive(() => ({ [SPAN_ATTRS.messageId]: raw.id }));
    return raw;
  }

  async process(raw: RawMessage, records: readonly unknown[], opts: ProcessOptions = {}): Promise<RecordOutcome[]> {
    const { profiles, metrics, logger } = this.deps;
    const adapter = raw.adapter;
    const profile = profiles.get(adapter);
    const source: RecordSource = { adapter, rawMessageId: raw.id, receivedAt: raw.receivedAt, batch: opts.batch };
    const mapped: MappedRecord[] = await inSpan('map', { attributes: () => ({ [SPAN_ATTRS.adapter]: adapter, [SPAN_ATTRS.messageId]: raw.id, [SPAN_ATTRS.records]: records.length }) }, () => metrics.time('map', async () => {
      const out: MappedRecord[] = [];
      for (let i = 0; i < records.length; i++) {
        const pre = opts.precheck?.(records[i], i);
        if (pre) { out.push({ index: i, record: records[i], failure: { adapter, ...pre }, deadLetter: false }); continue; }
        const r = await profile.mapRecord(records[i], { rawMessageId: raw.id, recordIndex: i, batch: opts.batch });
        // Mapping resolves in microtasks only: let the event loop serve other requests and signals.
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
        out.push(r.ok ? { index: i, record: records[i], event: r.event } : { index: i, record: records[i], failure: r.failure, deadLetter: true });
      }
      return out;
    }));

    // Committed with the messages mapped at the same moment (group commit), answered after it.
    const applied = await this.applyCommitted(source, mapped, { commitWith: opts.commitWith }, raw.id);
    logger.info({ adapter, messageId: raw.id, records: records.length, accepted: count(applied, 'accepted'), duplicate: count(applied, 'duplicate'), rejected: count(applied, 'rejected'), ...supervisionCodes(applied) }, 'message processed');
    return applied;
  }

  /**
   * Applies mapped records in one transaction with the caller's own progress (`commitWith`: the raw
   * message's outcome, a poll cursor, a file's chunk), so that records and progress are durable
   * together or not at all; then counts them.
   */
  async apply(source: RecordSource, mapped: readonly MappedRecord[], progress: Progress = {}): Promise<RecordOutcome[]> {
    return this.applyCommitted(source, mapped, progress);
  }

  /**
   * One message's records applied in the next group commit (a file's chunk, heavier than a group
   * holds, goes alone), inside the store's span, timed; then counted. `processed`: the raw message
   * whose outcome commits with them.
   */
  private async applyCommitted(source: RecordSource, mapped: readonly MappedRecord[], progress: Progress, processed?: string): Promise<RecordOutcome[]> {
    const { metrics } = this.deps;
    // The store's span: the outbox rows written in it keep its context for the bus (migration 026).
    const outcomes = await inSpan('store.apply', { attributes: () => ({ [SPAN_ATTRS.adapter]: source.adapter, [SPAN_ATTRS.messageId]: source.rawMessageId, [SPAN_ATTRS.records]: mapped.length }) }, async (span) => {
      const out = await metrics.time('apply', () => this.applying.submit({ source, mapped, progress, processed, traceparent: activeTraceparent() ?? null }));
      annotate(span, () => ({ [SPAN_ATTRS.accepted]: count(out, 'accepted'), [SPAN_ATTRS.duplicate]: count(out, 'duplicate'), [SPAN_ATTRS.rejected]: count(out, 'rejected'), ...singleCode(out) }));
      return out;
    });
    metrics.endToEnd.observe({ adapter: source.adapter }, (Date.now() - source.receivedAt.getTime()) / 1000);
    this.account(source, mapped, outcomes);
    return outcomes;
  }

  /**
   * Several messages' records in one transaction: each one's progress first, their events and dead
   * letters together, the raw messages' outcomes in one statement, each one's commitWith last.
   * Outcomes per part, each in the order of its records.
   */
  private applyParts(parts: readonly ApplyPart[]): Promise<RecordOutcome[][]> {
    const { store } = this.deps;
    return store.driver.transaction(async (tx) => {
      for (const p of parts) if (p.progress.before) await p.progress.before(tx);
      const outcomes = await this.applyMappedIn(tx, parts);
      const processed = parts.flatMap((p, i) => (p.processed ? [{ id: p.processed, records: p.mapped.length, result: outcomes[i].map(summarise) }] : []));
      await store.inbox.markProcessedMany(processed, tx);
      for (let i = 0; i < parts.length; i++) if (parts[i].progress.commitWith) await parts[i].progress.commitWith!(tx, outcomes[i]);
      return outcomes;
    });
  }

  /** The events and dead letters of mapped records, inside the caller's transaction. Outcomes per part, in the order of its `mapped`. */
  private async applyMappedIn(tx: SqlExecutor, parts: readonly ApplyPart[]): Promise<RecordOutcome[][]> {
    const { store } = this.deps;
    const batches: ApplyBatch[] = parts.map(({ source, mapped, traceparent }) => ({
      events: mapped.flatMap((m) => ('event' in m ? [m.event] : [])),
      opts: { receivedAt: source.receivedAt, traceparent },
    }));
    const results = await store.cases.applyGroupIn(tx, batches);
    const letters: NewDeadLetter[] = [];
    const outcomes = parts.map(({ source, mapped }, n) => {
      const { adapter, rawMessageId, receivedAt, batch } = source;
      const context = batch ? { batch } : {};
      let k = 0;
      return mapped.map((m): RecordOutcome => {
        const index = m.index;
        if ('failure' in m) {
          if (m.deadLetter) letters.push({ rawMessageId, recordIndex: index, record: m.record, context, failure: m.failure, receivedAt });
          return { index, result: 'rejected', field: m.failure.field, reason: m.failure.reason, rule: m.failure.rule };
        }
        const r = results[n][k++];
        if (r.result === 'rejected') {
          // The case store may refuse too (a carried supervision code that contradicts the case's).
          letters.push({ rawMessageId, recordIndex: index, record: m.record, context, receivedAt, failure: { adapter, field: r.field, value: r.value ?? null, rule: r.rule, reason: r.reason } });
          return { index, result: 'rejected', eventId: r.eventId, field: r.field, reason: r.reason, rule: r.rule };
        }
        return { index, result: r.result, eventId: r.eventId, supervisionCode: r.supervisionCode };
      });
    });
    await store.deadLetters.addIn(tx, letters);
    return outcomes;
  }

  /** Counts and logs committed outcomes (metrics of the public interface: one count per record). */
  private account(source: Pick<RecordSource, 'adapter' | 'rawMessageId'>, mapped: readonly MappedRecord[], outcomes: readonly RecordOutcome[]): void {
    const { metrics, logger } = this.deps;
    const { adapter } = source;
    const byResult = new Map<string, number>();
    const byStatus = new Map<string, { department: string; status: string; n: number }>();
    outcomes.forEach((o, i) => {
      byResult.set(o.result, (byResult.get(o.result) ?? 0) + 1);
      if (o.result === 'rejected') {
        logger.warn({ adapter, messageId: source.rawMessageId, record: o.index, field: o.field, rule: o.rule, reason: o.reason }, 'record refused');
      } else if (o.result === 'accepted') {
        const e = (mapped[i] as { event: ApplyInput }).event;
        const key = `${e.data.department.code}\u0000${e.data.status}`;
        const entry = byStatus.get(key) ?? { department: e.data.department.code, status: e.data.status, n: 0 };
        entry.n++;
        byStatus.set(key, entry);
      }
    });
    for (const [result, n] of byResult) metrics.inboundMessages.inc({ adapter, result }, n);
    // The department is talking (the quiet-department alert compares this with its quiet period).
    metrics.adapterLastMessage.set({ adapter }, Date.now() / 1000);
    for (const { department, status, n } of byStatus.values()) metrics.events.inc({ department, status }, n);
  }

  /**
   * Raw messages stored before a stop and never processed: claimed a few at a time (so that a node
   * starting beside this one takes others, never these) and handled as the transport's plan says,
   * so none is lost. One that fails stays in the inbox, claimed until its claim runs out, for a later
   * start, and does not stop the others.
   */
  async recover(adapter: string, plan: (raw: RawMessage) => Promise<RecoveryPlan>): Promise<number> {
    const { store, logger } = this.deps;
    const failed = new Set<string>();
    let n = 0;
    for (;;) {
      // A few at a time: what is claimed is done well within the claim.
      const pending = (await store.inbox.pending(adapter, 20)).filter((raw) => !failed.has(raw.id));
      if (!pending.length) return n;
      for (const raw of pending) {
        try {
          const p = await plan(raw);
          if (!p) await store.inbox.markProcessed(raw.id, 0, { refused: 'unreadable on recovery' });
          else if ('close' in p) await store.inbox.markProcessed(raw.id, 0, p.close);
          // A message taken up again begins a trace of its own, as it did when it arrived.
          else await inSpan(`recover ${adapter}`, { root: true, attributes: () => ({ [SPAN_ATTRS.adapter]: adapter, [SPAN_ATTRS.messageId]: raw.id }) }, () => this.process(raw, p.records, { batch: p.batch, precheck: p.precheck }));
          n++;
        } catch (err) {
          failed.add(raw.id);
          logger.error({ adapter, messageId: raw.id, err: (err as Error).message }, 'raw message left pending by the last stop could not be processed');
        }
      }
    }
  }
}

/** One message's mapped records waiting to be applied with others (group commit). */
interface ApplyPart {
  source: RecordSource;
  mapped: readonly MappedRecord[];
  progress: Progress;
  /** The raw message whose outcome is recorded in the same transaction. */
  processed?: string;
  /** The trace its events' outbox rows continue (the submitter's, not the one committing the group). */
  traceparent: string | null;
}

/** Records in one group commit at most: a group of small messages; a file's chunk of more goes alone. */
const GROUP_RECORDS = 2000;
/** Raw bytes stored in one statement at most. */
const GROUP_BYTES = 8 * 1024 * 1024;

function summarise(o: RecordOutcome) {
  return o.result === 'rejected' ? { i: o.index, r: o.result, field: o.field, rule: o.rule } : { i: o.index, r: o.result, e: o.eventId, c: o.supervisionCode };
}

/** How many supervision codes a message's log line names at most (a batch of 500 records names its first ones). */
const CODES_LOGGED = 20;

/** The supervision codes a message's records went to, for its log line: `supervisionCode` when there is one, else the first ones. */
function supervisionCodes(list: readonly RecordOutcome[]): { supervisionCode?: string; supervisionCodes?: string[]; moreSupervisionCodes?: number } {
  const codes = new Set<string>();
  for (const o of list) if (o.result !== 'rejected' && o.supervisionCode) codes.add(o.supervisionCode);
  if (codes.size === 0) return {};
  if (codes.size === 1) return { supervisionCode: [...codes][0] };
  const all = [...codes];
  return { supervisionCodes: all.slice(0, CODES_LOGGED), ...(all.length > CODES_LOGGED ? { moreSupervisionCodes: all.length - CODES_LOGGED } : {}) };
}

/** The supervision code of a span's records when they all went to one case (a span attribute holds one value). */
function singleCode(list: readonly RecordOutcome[]): Record<string, string> {
  const one = supervisionCodes(list).supervisionCode;
  return one ? { [SPAN_ATTRS.supervisionCode]: one } : {};
}

function count(list: readonly RecordOutcome[], result: string): number {
  return list.filter((o) => o.result === result).length;
}
