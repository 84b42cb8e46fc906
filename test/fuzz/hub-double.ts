// What a fuzz target runs the hub's real entry points against: the intake of the hub (mapping,
// precheck, outcomes, dead letters) over a store held in memory, a logger whose lines are kept,
// and HTTP requests and answers without a socket. The store takes what the real one takes and
// says what PostgreSQL would refuse, so a record the real store could never take is a finding
// rather than a 503 the department retries for ever.

import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { threadId } from 'node:worker_threads';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Intake } from '../../services/intake/intake';
import type { Store } from '../../services/store/open-store';
import type { ApplyBatch, ApplyResult } from '../../services/cases/case-store';
import type { NewRawMessage } from '../../services/store/store';
import type { NewDeadLetter } from '../../services/cases/dead-letter-store';
import type { RawMessage } from '../../core/ports/inbox';
import type { Profiles, RecordMapper } from '../../core/ports/mapping';
import { ApplyInput, isPrepared } from '../../core/ports/event-row';
import { CopyJson } from '../../core/ports/copy-text';
import { sealEvent } from '../../core/ports/sealed-data';
import { DataKeys } from '../../core/kernel/data-keys';
import { HubMetrics } from '../../core/kernel/metrics';
import { createLogger, Logger } from '../../core/kernel/logger';
import { issueSupervisionCode } from '../../core/identifiers/supervision-code';
import type { TransportContext, AdapterDefinition } from '../../adapters/kit/transports/base';
import { unstorable } from './invariant';
import { scratchPrefix } from './engine/scratch';

/** A scratch folder of this thread (data keys, files of the file-drop target); see engine/scratch.ts. */
export function scratchDir(name: string): string {
  const dir = scratchPrefix(process.pid, threadId) + name;
  fs.mkdirSync(dir, { recursive: true });
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The log lines of one input, as the hub writes them (personal data already masked). */
export class LogCapture {
  lines: string[] = [];
  readonly logger: Logger;

  constructor(level = 'info') {
    this.logger = createLogger(level, { write: (line: string) => { this.lines.push(line); } });
  }

  /** The lines at `error` level or above: the hub saying that something of its own failed. */
  errors(): string[] {
    return this.lines.filter((l) => /"level":"(error|fatal)"/.test(l));
  }

  /**
   * Whether a number appears in the log as a whole token, the way the log's masking reads numbers
   * (digits inside a longer run of letters and digits belong to an identifier and stay: see
   * core/kernel/personal-data.ts). Read from the decoded lines, so that JSON escapes do not hide it.
   */
  shows(number: string): boolean {
    const token = new RegExp(`(?<![A-Za-z0-9])${number}(?![A-Za-z0-9])`);
    const strings = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...strings(x)]) : []);
    return this.lines.some((l) => strings(JSON.parse(l)).some((t) => token.test(t)));
  }
}

/** The region of the demo registry: supervision codes the double issues start with it. */
const REGION = '130100';

/**
 * The store as the intake uses it, in memory: every event accepted (a second one of the same id in
 * one input a duplicate), supervision codes issued as the case store issues them, and each value
 * checked as PostgreSQL would check it. `problems` says what the real store would have refused.
 */
export class StoreDouble {
  problems: string[] = [];
  events: ApplyInput[] = [];
  deadLetters: NewDeadLetter[] = [];
  private seen = new Set<string>();
  readonly keys: DataKeys;

  constructor() {
    this.keys = DataKeys.open(path.join(scratchDir('keys'), 'data-keys.json'), { create: true });
  }

  /** Forgets the last input. */
  reset(): void {
    this.problems = [];
    this.events = [];
    this.deadLetters = [];
    this.seen.clear();
  }

  /** Checks a value the hub stores as jsonb or text (a file's receipt lines, in the file ledger). */
  check(value: unknown, what: string): void {
    const why = unstorable(value);
    if (why) this.problems.push(`${what}: ${why}`);
  }

  asStore(): Store {
    const tx = {};
    const inbox = {
      putMany: async (items: readonly NewRawMessage[]): Promise<RawMessage[]> => items.map(({ adapter, body, contentType, headers }) => {
        this.check({ contentType, headers }, 'inbox row');
        return { id: randomUUID(), adapter, receivedAt: new Date(), contentType, headers, body, sha256: createHash('sha256').update(body).digest('hex') };
      }),
      markProcessedMany: async (outcomes: readonly { result: unknown }[]) => {
        for (const { result } of outcomes) this.check(result, 'inbox result');
      },
      pending: async () => [],
      get: async () => null,
    };
    const cases = {
      applyGroupIn: async (_tx: unknown, batches: readonly ApplyBatch[]): Promise<ApplyResult[][]> => batches.map(({ events }) => events.map((e) => this.apply(e))),
    };
    const deadLetters = {
      addIn: async (_tx: unknown, letters: readonly NewDeadLetter[]) => {
        for (const d of letters) {
          // The record is written as JSON and sealed, as the dead-letter store does (a record it
          // cannot write fails the transaction); reason and value are sealed; the rest is stored as it is.
          JSON.stringify(d.record ?? null);
          this.check({ context: d.context ?? {}, field: d.failure.field, rule: d.failure.rule, eventId: d.failure.eventId ?? null }, `dead letter of record ${d.recordIndex}`);
          this.deadLetters.push(d);
        }
      },
    };
    const driver = { kind: 'pglite', transaction: async <T>(fn: (t: unknown) => Promise<T>): Promise<T> => fn(tx) };
    return { driver, inbox, cases, deadLetters, keys: this.keys, onCommit: () => () => undefined } as unknown as Store;
  }

  private apply(e: ApplyInput): ApplyResult {
    this.events.push(e);
    if (isPrepared(e)) {
      this.check(e.data, `event ${e.id} (columns)`);
      this.check(new CopyJson(e.body).value(), `event ${e.id} (body)`);
    } else {
      this.check(sealEvent(this.keys, e), `event ${e.id}`);
    }
    if (this.seen.has(e.id)) return { eventId: e.id, result: 'duplicate', supervisionCode: e.data.supervisionCode ?? issueSupervisionCode(REGION, e.data.statusTime) };
    this.seen.add(e.id);
    return { eventId: e.id, result: 'accepted', supervisionCode: e.data.supervisionCode ?? issueSupervisionCode(REGION, e.data.statusTime) };
  }
}

/** One profile in force, as the intake asks for profiles. */
export function profilesOf(profile: RecordMapper): Profiles {
  return {
    get: () => profile,
    adapters: () => [profile.adapter],
    reload: () => ({}),
    watch: () => undefined,
    close: () => undefined,
  };
}

/** The real intake over the store double; what a transport is handed, with nothing behind leases, cursors or files. */
export function transportContext(adapter: AdapterDefinition, profile: RecordMapper, store: StoreDouble, log: LogCapture): { ctx: TransportContext; intake: Intake } {
  const metrics = new HubMetrics();
  const intake = new Intake({ store: store.asStore(), profiles: profilesOf(profile), metrics, logger: log.logger });
  const none = new Proxy({}, { get: (_t, p) => { throw new Error(`a fuzz target's transport has no ${String(p)}`); } });
  const config = { http: { host: '127.0.0.1', port: 8080 } };
  return { ctx: { adapter, intake, leases: none as never, cursors: none as never, files: none as never, logger: log.logger.child({ adapter: adapter.id }), metrics, config: config as never }, intake };
}

/** An HTTP request without a socket: the headers given and `body`, streamed as a client sends it. */
export function request(method: string, url: string, headers: Record<string, string>, body: Buffer): IncomingMessage {
  let sent = false;
  const req = new Readable({
    read() {
      if (sent) return;
      sent = true;
      // In two pieces, as a body that crosses more than one TCP segment arrives.
      const half = body.length >> 1;
      if (half) this.push(body.subarray(0, half));
      if (body.length - half) this.push(body.subarray(half));
      this.push(null);
    },
  }) as Readable & Record<string, unknown>;
  req.method = method;
  req.url = url;
  req.headers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  req.complete = false;
  req.once('end', () => { req.complete = true; });
  req.socket = { remoteAddress: '127.0.0.1', localPort: 8080, destroy: () => undefined, on: () => undefined, off: () => undefined };
  return req as unknown as IncomingMessage;
}

/** An answer as the hub wrote it. */
export interface Answer {
  status: number;
  headers: Record<string, string | number | readonly string[]>;
  body: string;
  /** Writes after the answer was ended, or a second writeHead: both throw on a real socket. */
  misuse: string[];
}

/** A ServerResponse that keeps what is written to it. */
export function response(): { res: ServerResponse; answer: Answer; ended: Promise<void> } {
  const answer: Answer = { status: 0, headers: {}, body: '', misuse: [] };
  let headersSent = false;
  let finished = false;
  let done!: () => void;
  const ended = new Promise<void>((r) => { done = r; });
  const res = {
    get headersSent() { return headersSent; },
    get writableEnded() { return finished; },
    statusCode: 200,
    setHeader(name: string, value: string) { answer.headers[name.toLowerCase()] = value; },
    writeHead(status: number, headers: Record<string, string> = {}) {
      if (headersSent) answer.misuse.push(`writeHead(${status}) after the headers were sent`);
      headersSent = true;
      answer.status = status;
      for (const [k, v] of Object.entries(headers)) answer.headers[k.toLowerCase()] = v;
      return res;
    },
    write(chunk: string | Buffer) {
      if (finished) answer.misuse.push('write after end');
      if (!headersSent) { headersSent = true; answer.status = res.statusCode; }
      answer.body += chunk.toString();
      return true;
    },
    end(chunk?: string | Buffer) {
      if (finished) answer.misuse.push('end after end');
      if (!headersSent) { headersSent = true; answer.status = res.statusCode; }
      if (chunk !== undefined) answer.body += chunk.toString();
      finished = true;
      done();
      return res;
    },
    on: () => res,
    once: () => res,
  };
  return { res: res as unknown as ServerResponse, answer, ended };
}
