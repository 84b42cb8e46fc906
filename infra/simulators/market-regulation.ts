// The market-regulation system (SCJG): pushes batches of status events to the hub's signed
// webhook, per departments/market-regulation/SPEC.md.

import type { IncomingHttpHeaders } from 'node:http';
import pino, { Logger } from 'pino';
import { signWebhook } from '../../core/kernel/webhook-signature';
import { BackoffOptions, retryAfterMs } from './backoff';
import { beijingCompact, beijingIso } from './beijing-time';
import { DailySerial } from './daily-serial';
import { DeliveryQueue, DeliveryResult } from './delivery-queue';
import { breakCheckChar, enterprise, mobile, person, personName, Sector } from './identities';
import { CasePool, Step, planLifecycle } from './lifecycle';
import { httpPost } from './http-post';
import { OutageLog } from './outage-log';
import { Random } from './random';
import { SimulatorLoop } from './simulator-loop';

export const MARKET_REGULATION_KEY_ID = 'scjg-demo';
export const MARKET_REGULATION_SECRET = 'scjg-demo-secret-2026';

export type MarketStatus =
  | 'SUBMITTED' | 'ACCEPTED' | 'NOT_ACCEPTED' | 'IN_REVIEW' | 'NEED_MORE_INFO' | 'INFO_PROVIDED'
  | 'ON_HOLD' | 'RESUMED' | 'APPROVED' | 'REJECTED' | 'DONE' | 'CERT_ISSUED' | 'CANCELLED';

export type MarketApplicant =
  | { type: 'ENTERPRISE'; name: string; creditCode: string; mobile: string }
  | { type: 'PERSON'; name: string; idNumber: string; mobile: string };

export type MarketEvent = {
  eventId: string;
  caseNo: string;
  itemCode: string;
  status: MarketStatus;
  statusTime: string;
  applicant: MarketApplicant;
  officer: string | null;
  supervisionCode: string | null;
  remark: string | null;
};

export type MarketBatch = { batchId: string; events: MarketEvent[] };

const STATUS: Record<Step, MarketStatus> = {
  SUBMITTED: 'SUBMITTED',
  ACCEPTED: 'ACCEPTED',
  REFUSED: 'NOT_ACCEPTED',
  UNDER_REVIEW: 'IN_REVIEW',
  SUPPLEMENT_REQUESTED: 'NEED_MORE_INFO',
  SUPPLEMENTED: 'INFO_PROVIDED',
  SUSPENDED: 'ON_HOLD',
  RESUMED: 'RESUMED',
  APPROVED: 'APPROVED',
  DENIED: 'REJECTED',
  COMPLETED: 'DONE',
  DELIVERED: 'CERT_ISSUED',
  WITHDRAWN: 'CANCELLED',
};

type ItemProfile = { code: string; sector: Sector; personShare: number; instantShare: number; weight: number };
const ITEMS: ItemProfile[] = [
  { code: 'SCJG-SP-001', sector: 'food', personShare: 0.3, instantShare: 0, weight: 3 },
  { code: 'SCJG-DJ-001', sector: 'trade', personShare: 0.4, instantShare: 0.5, weight: 4 },
  { code: 'SCJG-DJ-002', sector: 'services', personShare: 0, instantShare: 0.3, weight: 3 },
  { code: 'SCJG-SC-001', sector: 'manufacturing', personShare: 0, instantShare: 0, weight: 1 },
];

const REMARKS: Partial<Record<MarketStatus, string[]>> = {
  NOT_ACCEPTED: ['申请事项不属于本机关职权范围', '经营场所不符合要求，不予受理', '申请人不具备申请资格'],
  NEED_MORE_INFO: [
    '请补充：食品安全管理制度文本', '请补充：从业人员健康证明', '请补充：经营场所使用证明',
    '请补充：股东会决议原件', '请补充：法定代表人任职文件；章程修正案',
  ],
  INFO_PROVIDED: ['已补齐材料'],
  ON_HOLD: ['需现场核查', '申请人申请延期现场核查', '待检验检测报告'],
  RESUMED: ['现场核查完毕'],
  REJECTED: ['现场核查不符合要求', '产品检验不合格'],
  DONE: ['准予许可', '当场办结'],
  CANCELLED: ['申请人主动撤回申请'],
};

type MarketCase = { caseNo: string; itemCode: string; applicant: MarketApplicant; officer: string };

/**
 * `sha256=` + lower-case hex HMAC-SHA256(secret, `${timestamp}.${body}`), per the SPEC: the hub's
 * own webhook signature, which it also signs its deliveries to subscribers with. Being the hub's
 * code, it cannot catch the hub's mistake by itself: the tests hold it to a reference value from
 * openssl and to an HMAC computed from the SPEC with node:crypto.
 */
export function signRequest(body: Buffer | string, secret: string, timestamp: number): string {
  return signWebhook(body, secret, timestamp);
}

export type PostBatchOptions = {
  keyId?: string;
  secret?: string;
  /** Unix seconds to sign with; now by default (a test passes a stale one). */
  timestamp?: number;
  signal?: AbortSignal;
};

export type PostBatchAnswer = { status: number; body: unknown; headers: IncomingHttpHeaders };

/** Signs and POSTs a batch (an object, or raw bytes to test malformed bodies). */
export async function postBatch(url: string, batch: MarketBatch | string | Buffer, options: PostBatchOptions = {}): Promise<PostBatchAnswer> {
  const body = Buffer.isBuffer(batch) ? batch : Buffer.from(typeof batch === 'string' ? batch : JSON.stringify(batch), 'utf8');
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const answer = await httpPost(
    url,
    body,
    {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Hub-Key-Id': options.keyId ?? MARKET_REGULATION_KEY_ID,
      'X-Hub-Timestamp': String(timestamp),
      'X-Hub-Signature': signRequest(body, options.secret ?? MARKET_REGULATION_SECRET, timestamp),
    },
    { signal: options.signal },
  );
  const text = answer.body.toString('utf8');
  let parsed: unknown = text;
  if (/json/i.test(String(answer.headers['content-type'] ?? '')) || /^\s*[{[]/.test(text)) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text; // not JSON after all: the caller sees the text as it came
    }
  }
  return { status: answer.status, body: parsed, headers: answer.headers };
}

export type MarketCaseStreamOptions = { seed?: number | string; rng?: Random; clock?: () => number; poolSize?: number };

/** Plausible SCJG case life-cycles, as the events the system would push. */
export class MarketCaseStream {
  readonly rng: Random;
  private readonly pool: CasePool<MarketCase>;
  private readonly serials: DailySerial;
  private batchSeq: number;
  private readonly clock: () => number;

  constructor(options: MarketCaseStreamOptions = {}) {
    this.rng = options.rng ?? new Random(options.seed);
    const clock = options.clock ?? Date.now;
    this.clock = clock;
    this.batchSeq = this.rng.int(1, 400_000);
    this.serials = new DailySerial(this.rng, 1, 9999);
    this.pool = new CasePool<MarketCase>({
      rng: this.rng,
      clock,
      size: options.poolSize,
      open: (rng, firstTime) => {
        const item = rng.weighted(ITEMS.map((i) => [i, i.weight] as const));
        const instant = rng.chance(item.instantShare);
        return {
          subject: {
            caseNo: this.newCaseNo(firstTime),
            itemCode: item.code,
            applicant: this.applicant(item),
            officer: personName(rng),
          },
          steps: planLifecycle(rng, { delivers: true, instant }),
          instant,
        };
      },
    });
  }

  nextEvent(): MarketEvent {
    const e = this.pool.next();
    const status = STATUS[e.step];
    const remarks = REMARKS[status];
    return {
      eventId: this.rng.uuid(),
      caseNo: e.subject.caseNo,
      itemCode: e.subject.itemCode,
      status,
      statusTime: beijingIso(e.time),
      applicant: { ...e.subject.applicant },
      officer: status === 'SUBMITTED' ? null : e.subject.officer,
      supervisionCode: null,
      remark: remarks && (status !== 'DONE' || this.rng.chance(0.2)) ? this.rng.pick(remarks) : null,
    };
  }

  /** A batch of `size` events (1–20 when not given), in the order they happened. */
  nextBatch(size = this.rng.int(1, 20)): MarketBatch {
    const events = Array.from({ length: size }, () => this.nextEvent());
    events.sort((a, b) => a.statusTime.localeCompare(b.statusTime));
    this.batchSeq = (this.batchSeq + 1) % 1_000_000;
    const day = beijingCompact(this.clock()).slice(0, 8);
    return { batchId: `b-${day}-${String(this.batchSeq).padStart(6, '0')}`, events };
  }

  private applicant(item: ItemProfile): MarketApplicant {
    if (this.rng.chance(item.personShare)) {
      const p = person(this.rng);
      return { type: 'PERSON', name: p.name, idNumber: p.idNumber, mobile: mobile(this.rng) };
    }
    const e = enterprise(this.rng, item.sector);
    return { type: 'ENTERPRISE', name: e.name, creditCode: e.creditCode, mobile: mobile(this.rng) };
  }

  // SJ + region + date of submission + a 4-digit serial of the day, e.g. SJ130100202611240031.
  private newCaseNo(at: number): string {
    const day = beijingCompact(at).slice(0, 8);
    return `SJ130100${day}${this.serials.next(day, 4)}`;
  }
}

/** A copy of the event whose applicant identifier has a wrong check character. */
export function withBadIdentifier(event: MarketEvent, rng: Random): MarketEvent {
  const a = event.applicant;
  const applicant: MarketApplicant =
    a.type === 'ENTERPRISE'
      ? { ...a, creditCode: breakCheckChar(a.creditCode, 'uscc') }
      : { ...a, idNumber: breakCheckChar(a.idNumber, 'citizen-id') };
  return { ...event, eventId: rng.uuid(), applicant };
}

export type MarketRegulationSimulatorOptions = {
  url: string;
  keyId?: string;
  secret?: string;
  intervalMs?: number;
  logger?: Logger;
  seed?: number | string;
  /** Clock for status times (not for retry delays); a test passes a virtual one. */
  clock?: () => number;
  /** Retry delays; the demo's are short so a hub that comes up is noticed quickly. */
  retry?: BackoffOptions;
  /** New batches wait while this many are still undelivered. */
  maxPending?: number;
  /** Chances per batch; defaults as the real system misbehaves (≈5 %, ≈3 %). */
  resendChance?: number;
  badIdentifierChance?: number;
};

/** Posts a batch of 1–20 events every interval and retries what the hub did not take. */
export class MarketRegulationSimulator {
  readonly stream: MarketCaseStream;
  private readonly logger: Logger;
  private readonly queue: DeliveryQueue<MarketBatch>;
  private readonly loop: SimulatorLoop;
  private previous?: MarketBatch;

  constructor(private readonly options: MarketRegulationSimulatorOptions) {
    this.logger = (options.logger ?? pino()).child({ simulator: 'market-regulation' });
    this.stream = new MarketCaseStream({ seed: options.seed, clock: options.clock });
    this.queue = new DeliveryQueue<MarketBatch>({
      endpoint: options.url,
      send: (batch, attempt, signal) => this.send(batch, attempt, signal),
      describe: (batch) => ({ batchId: batch.batchId, events: batch.events.length }),
      backoff: options.retry ?? { initialMs: 1000, maxMs: 30_000 },
      rng: this.stream.rng,
      logger: this.logger,
      outages: new OutageLog(this.logger),
    });
    this.loop = new SimulatorLoop(options.intervalMs ?? 3000, (signal) => this.tick(signal), this.logger);
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async tick(signal: AbortSignal): Promise<void> {
    await this.queue.deliverDue(signal);
    if (this.queue.size >= (this.options.maxPending ?? 20)) return;
    const rng = this.stream.rng;
    let batch: MarketBatch;
    if (this.previous && rng.chance(this.options.resendChance ?? 0.05)) {
      // The real system re-sends a batch it is unsure about, byte for byte the same events.
      batch = this.previous;
      this.logger.debug({ batchId: batch.batchId }, 're-sending the previous batch unchanged');
    } else {
      batch = this.stream.nextBatch();
      if (rng.chance(this.options.badIdentifierChance ?? 0.03)) {
        const i = rng.int(0, batch.events.length - 1);
        batch.events[i] = withBadIdentifier(batch.events[i], rng);
      }
    }
    this.previous = batch;
    this.queue.add(batch);
    await this.queue.deliverDue(signal);
  }

  private async send(batch: MarketBatch, attempt: number, signal: AbortSignal): Promise<DeliveryResult> {
    const answer = await postBatch(this.options.url, batch, {
      keyId: this.options.keyId,
      secret: this.options.secret,
      signal,
    });
    const s = answer.status;
    if (s >= 200 && s < 300) {
      const results = (answer.body as { results?: { result?: string; field?: string; reason?: string; eventId?: string }[] })?.results ?? [];
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.result ?? 'unknown'] = (counts[r.result ?? 'unknown'] ?? 0) + 1;
      for (const r of results.filter((x) => x.result === 'rejected')) {
        this.logger.info({ batchId: batch.batchId, eventId: r.eventId, field: r.field, reason: r.reason }, 'event rejected by the hub');
      }
      return { outcome: 'delivered', detail: { status: s, results: counts } };
    }
    const reason = `HTTP ${s}${problemTitle(answer.body)}`;
    if (s === 404 || s === 405 || s === 501) return { outcome: 'retry', reason, endpointMissing: true };
    // The sender's own fault (bad signature, malformed batch) will not mend itself: a few tries
    // as the real system makes, then the batch goes to a person instead of blocking the stream.
    if (s >= 400 && s < 500 && s !== 408 && s !== 429 && attempt >= 3) return { outcome: 'refused', reason };
    return { outcome: 'retry', reason, retryAfterMs: retryAfterMs(answer.headers['retry-after']) };
  }
}

function problemTitle(body: unknown): string {
  if (body && typeof body === 'object') {
    const p = body as { title?: unknown; detail?: unknown };
    const text = [p.title, p.detail].filter((x) => typeof x === 'string').join(': ');
    return text ? ` ${text}` : '';
  }
  return '';
}
