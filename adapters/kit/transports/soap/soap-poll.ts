// Polling a department's change feed over SOAP: a query by start time and page, answered with up to
// a page of records ordered by (time, key) and the number of pages now. The walk below neither
// loses nor double-applies records whose times tie across a page boundary, even while the
// department adds records between two pages.

import client from 'prom-client';
import * as soap from 'soap';
import type { Intake } from '../../../../core/ports/intake';
import type { Leases } from '../../../../core/ports/jobs';
import type { Logger } from '../../../../core/kernel/logger';
import type { HubMetrics } from '../../../../core/kernel/metrics';
import { ConfigError } from '../../../../core/kernel/errors';
import { normaliseLocalTime, LocalTimeFormat } from '../../../../core/identifiers/local-time';
import { LeasedPoll, PollRound } from '../../../../core/jobs/leased-poll';
import { readPath, textOf, AuthScheme } from './soap-auth';
import { HttpExchange, SoapHttpClient, resolveOperation, ResolvedOperation } from './soap-wsdl';
import { inSpan, SpanKind, SPAN_ATTRS } from '../../../../core/kernel/tracing';

export interface PollOptions {
  enabled: boolean;
  url: string;
  service: string;
  port: string;
  operation: string;
  requestElement: string;
  responseElement: string;
  auth: { scheme: AuthScheme; username: string; password: string };
  request: { startTimeField: string; pageField: string; timeFormat: LocalTimeFormat; firstPage: number };
  response: { totalPagesField: string; recordElement: string };
  record: { keyField: string; timeField: string };
  pageSize: number;
  intervalSeconds: number;
  leaseSeconds?: number;
  initialStartTime: string;
  timeoutSeconds: number;
  maxBodyBytes: number;
  maxBackoffSeconds: number;
  encodings: string[];
}

import type { CursorState, PollCursors } from '../../../../core/ports/poll-cursors';
export type { CursorState };

export interface FeedPage {
  records: unknown[];
  totalPages: number;
}

export interface FreshRecord {
  record: unknown;
  /** Position in the page. */
  index: number;
}

export interface WalkDeps<P extends FeedPage> {
  fetch(position: string, page: number): Promise<P>;
  keyOf(record: unknown): string | null;
  /** Canonical time of a record; null when it cannot be read (the mapping will refuse the record). */
  timeOf(record: unknown): string | null;
  /**
   * Applies the page's fresh records (those not applied before) and stores `next` with them, in one
   * transaction. Called for every page, also when there is nothing fresh; `moved` says whether
   * `next` differs from the cursor before the page.
   */
  apply(page: P, pageNo: number, fresh: FreshRecord[], next: CursorState, moved: boolean): Promise<void>;
  aborted(): boolean;
}

export interface WalkResult {
  state: CursorState;
  pages: number;
  fresh: number;
  /** Records appeared before the page being read: walk again from `state`. */
  restart: boolean;
}

/**
 * One walk through the feed from the cursor. Why it is exact:
 * - the department never makes a record visible with a time earlier than one it has served, so
 *   once a page with greatest time m is served, no record with a time before m can appear;
 * - a page read with the walk's fixed start time covers the offsets after the pages read before;
 *   records are never removed, so if a page holds none of the records read earlier in the walk,
 *   nothing was inserted before it, and every record with a time before m has been read;
 * - so after such a page the cursor may move to m, keeping the keys read at m; records at m are
 *   read again from there (inclusive), and those already applied are skipped by key;
 * - a page that does repeat records read earlier shows that records were inserted before it (they
 *   can only carry the cursor's time): it is not applied, and the walk starts again from the cursor.
 * So every record applied has a time before the cursor or a key listed at it, and a record is
 * applied by the poller once.
 * The cursor moves in the transaction that applies the page, so a crash moves it past nothing
 * unapplied.
 */
export async function walkFeed<P extends FeedPage>(start: CursorState, deps: WalkDeps<P>, firstPage = 1): Promise<WalkResult> {
  const knownAtStart = new Set(start.keys);
  const seen = new Map<string, string | null>();
  let state: CursorState = { position: start.position, keys: [...start.keys] };
  let totalPages = Infinity;
  let pages = 0;
  let freshCount = 0;
  for (let pageNo = firstPage; pageNo - firstPage < totalPages && !deps.aborted(); pageNo++) {
    const page = await deps.fetch(start.position, pageNo);
    pages++;
    totalPages = page.totalPages;
    if (page.records.length === 0) break;
    const entries = page.records.map((record, index) => ({ record, index, key: deps.keyOf(record), time: deps.timeOf(record) }));
    // Records read earlier in this walk again: records were inserted before this page. They can
    // only carry the cursor's time, so the page is left for the walk that starts again from there.
    if (pageNo > firstPage && entries.some((e) => e.key !== null && seen.has(e.key))) return { state, pages, fresh: freshCount, restart: true };
    const fresh = entries.filter((e) => e.key === null || (!seen.has(e.key) && !(e.time === start.position && knownAtStart.has(e.key))));
    for (const e of entries) if (e.key !== null) seen.set(e.key, e.time);

    let next = state;
    const times = entries.map((e) => e.time).filter((t): t is string => t !== null);
    const greatest = times.length ? times.reduce((a, b) => (a > b ? a : b)) : null;
    if (greatest !== null && greatest > state.position) {
      next = { position: greatest, keys: keysAt(seen, greatest) };
    } else {
      // The cursor stays; the keys read at its time now include this page's.
      const keys = new Set(state.keys);
      for (const e of entries) if (e.key !== null && e.time === state.position) keys.add(e.key);
      if (keys.size !== state.keys.length) next = { position: state.position, keys: [...keys] };
    }
    await deps.apply(page, pageNo, fresh.map(({ record, index }) => ({ record, index })), next, next !== state);
    state = next;
    freshCount += fresh.length;
  }
  return { state, pages, fresh: freshCount, restart: false };
}

function keysAt(seen: Map<string, string | null>, time: string): string[] {
  const out: string[] = [];
  for (const [k, t] of seen) if (t === time) out.push(k);
  return out;
}

type SoapPage = FeedPage & { raw: HttpExchange; request: Record<string, unknown> };

/** Canonical form of a time in the feed's notation (or any notation the normaliser knows). */
export function canonicalTime(value: string, format?: LocalTimeFormat): string | null {
  const n = normaliseLocalTime(value, format);
  return n.ok ? (n.value as string) : null;
}

/** A canonical time written in the feed's notation (fractions of a second dropped: the start time is inclusive). */
export function feedTime(canonical: string, format: LocalTimeFormat): string {
  if (format === 'iso8601') return canonical;
  const day = canonical.slice(0, 10);
  const time = canonical.slice(11, 19);
  return format === 'yyyy-MM-dd HH:mm:ss' ? `${day} ${time}` : `${day}${time}`.replace(/[-:]/g, '');
}

/**
 * The polling job of a SOAP transport: every `intervalSeconds`, walks the feed from the stored
 * cursor with node-soap's client; each page with fresh records is stored raw (Intake.receive)
 * before its records are applied. The interval, its backoff, the lease (`poll:<adapter>`: one node
 * of a cluster polls) and the hand-off of the cursor to the next holder are the polling base's
 * (core/jobs/leased-poll.ts); failures are logged and counted here.
 */
export class SoapPoller {
  private client: soap.Client | null = null;
  private operation: ResolvedOperation | null = null;
  /** The request element's fields in schema order (node-soap writes keys in object order). */
  private requestOrder: string[] = [];
  private readonly http: SoapHttpClient;
  private readonly job: LeasedPoll<CursorState>;
  private readonly cursors: PollCursors;
  private readonly initial: CursorState;
  private readonly errors: client.Counter<'adapter'>;
  private readonly pagesRead: client.Counter<'adapter'>;

  constructor(private readonly deps: { adapter: string; wsdlFile: string; options: PollOptions; intake: Intake; leases: Leases; cursors: PollCursors; logger: Logger; metrics: HubMetrics }) {
    const o = deps.options;
    const initial = canonicalTime(o.initialStartTime, undefined);
    if (!initial) throw new ConfigError(`${deps.adapter}: poll.initialStartTime ${JSON.stringify(o.initialStartTime)} is not a time`, { adapter: deps.adapter, field: 'poll.initialStartTime' });
    this.initial = { position: initial, keys: [] };
    this.cursors = deps.cursors;
    this.http = new SoapHttpClient({ timeoutMs: o.timeoutSeconds * 1000, maxBodyBytes: o.maxBodyBytes, encodings: o.encodings });
    this.errors = deps.metrics.pollErrors;
    this.pagesRead = deps.metrics.pollPages;
    this.job = new LeasedPoll({
      name: `poll:${deps.adapter}`,
      leases: deps.leases,
      leaseSeconds: o.leaseSeconds ?? Math.max(30, 3 * o.intervalSeconds),
      intervalMs: o.intervalSeconds * 1000,
      maxBackoffMs: o.maxBackoffSeconds * 1000,
      logger: deps.logger,
      says: { held: 'this node polls the feed', elsewhere: 'another node polls the feed' },
      progress: async () => (await this.cursors.load(deps.adapter)) ?? this.initial,
      round: (state, round) => this.walk(state, round),
      onError: (err, failures, retryInMs) => {
        this.errors.inc({ adapter: deps.adapter });
        deps.logger.warn({ url: o.url, operation: o.operation, err: (err as Error)?.message ?? String(err), failuresInARow: failures, retryInSeconds: Math.round(retryInMs / 100) / 10 }, 'poll failed; backing off');
      },
    });
    this.errors.inc({ adapter: deps.adapter }, 0);
    this.pagesRead.inc({ adapter: deps.adapter }, 0);
  }

  async start(): Promise<void> {
    const o = this.deps.options;
    const where = `${this.deps.adapter}: poll`;
    try {
      this.client = await soap.createClientAsync(this.deps.wsdlFile, { endpoint: o.url, httpClient: this.http, disableCache: true });
    } catch (err) {
      throw new ConfigError(`${where}: cannot read WSDL ${this.deps.wsdlFile}: ${(err as Error).message}`, { adapter: this.deps.adapter });
    }
    this.operation = resolveOperation(this.client.wsdl, o, where);
    const described = (this.client.describe() as any)[o.service][o.port][o.operation];
    this.requestOrder = Object.keys(described.input ?? {});
    const output = Object.keys(described.output ?? {}).map((k) => k.replace(/\[\]$/, ''));
    for (const [field, list, side] of [[o.request.startTimeField, this.requestOrder, o.requestElement], [o.request.pageField, this.requestOrder, o.requestElement], [o.response.totalPagesField, output, o.responseElement], [o.response.recordElement, output, o.responseElement]] as const) {
      if (!list.includes(field)) throw new ConfigError(`${where}: ${side} has no field ${field} (it has ${list.filter((k) => !k.startsWith('targetNS')).join(', ')})`, { adapter: this.deps.adapter });
    }
    this.client.setSecurity(o.auth.scheme === 'http-basic'
      ? new soap.BasicAuthSecurity(o.auth.username, o.auth.password)
      : new soap.WSSecurity(o.auth.username, o.auth.password, { passwordType: 'PasswordText', hasTimeStamp: false, hasTokenCreated: false }));
    this.job.start();
    this.deps.logger.info({ url: o.url, operation: o.operation, intervalSeconds: o.intervalSeconds }, 'polling started');
  }

  async stop(): Promise<void> {
    await this.job.stop();
  }

  /**
   * One walk through the feed from the stored cursor; 'again' (the base reads the cursor anew and
   * walks again) when records appeared behind the page being read.
   */
  private async walk(state: CursorState, round: PollRound): Promise<'done' | 'again'> {
    const { adapter } = this.deps;
    this.http.signal = round.signal;
    const r = await walkFeed(state, {
      fetch: async (position, page) => {
        // A node that lost the lease mid-walk (it stalled) stops: what it applied is kept, and the cursor only moves forward.
        await round.stillHeld();
        return this.fetch(position, page);
      },
      keyOf: (record) => textOf(readPath(record, this.deps.options.record.keyField)) || null,
      timeOf: (record) => canonicalTime(textOf(readPath(record, this.deps.options.record.timeField)), this.deps.options.request.timeFormat),
      // Each page of fresh records is one message: its trace begins here (core/kernel/tracing).
      apply: (page, pageNo, fresh, next, moved) => (fresh.length
        ? inSpan(`poll ${adapter}`, { root: true, kind: SpanKind.CLIENT, attributes: () => ({ [SPAN_ATTRS.adapter]: adapter, 'hub.page': pageNo, [SPAN_ATTRS.records]: fresh.length }) }, () => this.apply(page, pageNo, fresh, next, moved))
        : this.apply(page, pageNo, fresh, next, moved)),
      aborted: () => round.signal.aborted,
    }, this.deps.options.request.firstPage);
    this.deps.metrics.queueDepth.set({ queue: `poll:${adapter}` }, 0);
    if (r.fresh > 0 || r.restart) {
      this.deps.logger.info({ pages: r.pages, fresh: r.fresh, cursor: r.state.position, restart: r.restart }, r.restart ? 'records appeared behind the page being read; walking again from the cursor' : 'poll walk done');
    }
    return r.restart ? 'again' : 'done';
  }

  private async fetch(position: string, page: number): Promise<SoapPage> {
    const o = this.deps.options;
    const values: Record<string, unknown> = { [o.request.startTimeField]: feedTime(position, o.request.timeFormat), [o.request.pageField]: page };
    const request: Record<string, unknown> = {};
    for (const k of this.requestOrder) if (k in values) request[k] = values[k];
    const method = (this.client as any)[o.service][o.port][o.operation] as soap.SoapMethod;
    const result: any = await new Promise((resolve, reject) => {
      method(request, (err: any, res: any) => (err ? reject(new Error(`${o.operation} ${JSON.stringify(request)} failed: ${err.message ?? err}`)) : resolve(res)));
    });
    const raw = this.http.last;
    if (!raw) throw new Error(`${o.operation}: no answer was kept`);
    this.pagesRead.inc({ adapter: this.deps.adapter });
    const list = result?.[o.response.recordElement];
    const records: unknown[] = list === undefined || list === null ? [] : Array.isArray(list) ? list : [list];
    const totalPages = Number(textOf(result?.[o.response.totalPagesField]));
    if (!Number.isInteger(totalPages) || totalPages < 0) throw new Error(`${o.operation} ${JSON.stringify(request)}: ${o.response.totalPagesField} is not a page count: ${JSON.stringify(result?.[o.response.totalPagesField])}`);
    const nth = page - o.request.firstPage + 1;
    this.deps.metrics.queueDepth.set({ queue: `poll:${this.deps.adapter}` }, Math.max(0, totalPages - nth));
    if (records.length > o.pageSize || (nth < totalPages && records.length < o.pageSize)) {
      this.deps.logger.warn({ page, totalPages, records: records.length, pageSize: o.pageSize }, 'page size differs from the one configured');
    }
    return { records, totalPages, raw, request };
  }

  private async apply(page: SoapPage, pageNo: number, fresh: FreshRecord[], next: CursorState, moved: boolean): Promise<void> {
    const { adapter, intake } = this.deps;
    if (fresh.length === 0) {
      // Nothing new on this page (records read before, at the cursor): no raw message to keep.
      if (moved) await this.cursors.save(adapter, next);
      return;
    }
    const headers = {
      'x-hub-channel': 'poll',
      'x-hub-poll-request': Object.entries(page.request).map(([k, v]) => `${k}=${v}`).join('; '),
      ...(this.operation?.soapAction ? { soapaction: this.operation.soapAction } : {}),
    };
    const raw = await intake.receive(adapter, page.raw.body, page.raw.contentType, headers);
    await intake.process(raw, fresh.map((f) => f.record), {
      batch: { ...page.request, positions: fresh.map((f) => f.index) },
      commitWith: (tx) => this.cursors.saveIn(tx, adapter, next),
    });
    this.deps.logger.info({ messageId: raw.id, page: pageNo, totalPages: page.totalPages, records: page.records.length, fresh: fresh.length, cursor: next.position }, 'poll page applied');
  }
}
