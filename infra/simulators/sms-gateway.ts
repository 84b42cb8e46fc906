// The city SMS gateway (departments/sms-gateway/SPEC.md), which the hub's notifier calls: it takes
// messages, drops a requestId it already took, holds its limit of 20 a second, and can be told to
// fail as the real one does (down, over its limit, no answer). It records every message it took, so
// that tests can count what each applicant's phone received.

import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import pino, { Logger } from 'pino';
import { maskedPhone } from './log-mask';

export const SMS_DEMO_TOKEN = 'sms-demo-token';
export const SMS_PATH = '/sms/v1/messages';
const TEMPLATES = new Set(['CASE_STATUS', 'CASE_EVALUATE']);
// SPEC: 11 digits starting with 1 (after removing +86, spaces and dashes: the sender's job).
const MOBILE = /^1\d{10}$/;
const MAX_BODY_BYTES = 64 * 1024;

export type SmsParams = { code: string; item: string; status: string; link?: string };

/** A message the gateway took: what the applicant's phone receives. */
export type AcceptedSms = { messageId: string; requestId: string; mobile: string; template: string; params: SmsParams; at: number };

/** A request and what it was answered (`hang`: no answer at all). */
export type SmsRequest = { at: number; answer: number | 'hang'; requestId?: string };

/**
 * One way of failing, for `requests` requests or `ms` milliseconds from when it begins (whichever
 * comes first; one request when neither is given): a status (503: down), 429 with a Retry-After,
 * or no answer at all (`hang`; `accept`: the message is taken first, as when the answer is lost).
 * `error`: the answer's text (a 400's reason, as a real gateway words it).
 */
export type SmsFailure =
  | { answer: number; retryAfterSeconds?: number; requests?: number; ms?: number; error?: string }
  | { answer: 'hang'; accept?: boolean; requests?: number; ms?: number };

export type SmsGatewaySimulator = {
  url: string;
  /** Every message taken, in the order taken; a requestId taken before is not taken again. */
  messages(): AcceptedSms[];
  /** The messages one mobile received. */
  messagesTo(mobile: string): AcceptedSms[];
  /** Every request that reached the message endpoint, and its answer. */
  requests(): SmsRequest[];
  /** Requests whose requestId had been taken already (answered 202 with the first messageId). */
  readonly duplicates: number;
  /** Fails as the phases say, one after the other, from now; then answers normally again. */
  fail(phases: SmsFailure[]): void;
  /** Answers normally again at once. */
  recover(): void;
  close(): Promise<void>;
};

export type SmsGatewayOptions = {
  port?: number;
  host?: string;
  token?: string;
  /** Messages taken per second (a sliding second); more are answered 429. */
  ratePerSecond?: number;
  logger?: Logger;
};

type Phase = SmsFailure & { began: number | null; served: number };

export async function startSmsGateway(options: SmsGatewayOptions = {}): Promise<SmsGatewaySimulator> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? SMS_DEMO_TOKEN;
  const rate = options.ratePerSecond ?? 20;
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ simulator: 'sms-gateway' });
  const taken: AcceptedSms[] = [];
  const byRequestId = new Map<string, AcceptedSms>();
  const log: SmsRequest[] = [];
  const recent: number[] = [];
  let phases: Phase[] = [];
  let duplicates = 0;
  let serial = 0;
  const hanging = new Set<http.ServerResponse>();

  /** The failure phase in force for a request arriving now (advancing past the phases that ended). */
  const currentPhase = (now: number): Phase | null => {
    while (phases.length) {
      const p = phases[0];
      p.began ??= now;
      const limitReached = (p.requests !== undefined && p.served >= p.requests) || (p.requests === undefined && p.ms === undefined && p.served >= 1);
      const timeUp = p.ms !== undefined && now - p.began >= p.ms;
      if (!limitReached && !timeUp) return p;
      phases.shift();
      // The next phase began when this one's time ran out, requests or not.
      if (phases.length) phases[0].began = timeUp && !limitReached ? p.began + p.ms! : now;
      else logger.info('sms gateway answers normally again');
    }
    return null;
  };

  const answer = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };

  const take = (m: Omit<AcceptedSms, 'messageId' | 'at'>, now: number): AcceptedSms => {
    const sms: AcceptedSms = { ...m, messageId: `sms-${++serial}-${randomBytes(4).toString('hex')}`, at: now };
    taken.push(sms);
    byRequestId.set(sms.requestId, sms);
    logger.info({ messageId: sms.messageId, requestId: sms.requestId, mobile: maskedPhone(sms.mobile), template: sms.template }, 'sms delivered');
    return sms;
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer) => {
    const now = Date.now();
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== SMS_PATH) return answer(res, 404, { error: 'not found' });
    let msg: any;
    try {
      msg = JSON.parse(raw.toString('utf8'));
    } catch {
      msg = null;
    }
    const requestId = typeof msg?.requestId === 'string' ? msg.requestId : undefined;
    const entry: SmsRequest = { at: now, answer: 0, ...(requestId ? { requestId } : {}) };
    log.push(entry);

    const phase = currentPhase(now);
    if (phase) {
      phase.served++;
      if (phase.answer === 'hang') {
        entry.answer = 'hang';
        if (phase.accept && requestId && !byRequestId.has(requestId) && valid(msg) === null) take(fields(msg), now);
        // No answer: the request stays open until the caller gives up (or the gateway closes).
        hanging.add(res);
        res.on('close', () => hanging.delete(res));
        return;
      }
      entry.answer = phase.answer;
      const headers: Record<string, string> = phase.answer === 429 ? { 'Retry-After': String(phase.retryAfterSeconds ?? 1) } : {};
      return answer(res, phase.answer, { error: phase.error ?? (phase.answer === 429 ? 'too many requests' : phase.answer >= 500 ? 'service unavailable' : 'refused') }, headers);
    }
    if ((req.headers.authorization ?? '') !== `Bearer ${token}`) {
      entry.answer = 401;
      return answer(res, 401, { error: 'unknown token' });
    }
    const problem = valid(msg);
    if (problem) {
      entry.answer = 400;
      return answer(res, 400, { error: problem });
    }
    // The limit: messages in the last second, whatever they were.
    while (recent.length && recent[0] <= now - 1000) recent.shift();
    if (recent.length >= rate) {
      entry.answer = 429;
      return answer(res, 429, { error: `over ${rate} messages per second` }, { 'Retry-After': String(Math.max(1, Math.ceil((recent[0] + 1000 - now) / 1000))) });
    }
    recent.push(now);
    entry.answer = 202;
    const first = byRequestId.get(msg.requestId);
    if (first) {
      duplicates++;
      logger.info({ requestId: first.requestId, messageId: first.messageId }, 'sms duplicate dropped');
      return answer(res, 202, { messageId: first.messageId });
    }
    return answer(res, 202, { messageId: take(fields(msg), now).messageId });
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return answer(res, 413, { error: `larger than ${MAX_BODY_BYTES} bytes` });
      handle(req, res, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  const url = `http://${host}:${port}`;

  return {
    url,
    messages: () => [...taken],
    messagesTo: (mobile) => taken.filter((m) => m.mobile === mobile),
    requests: () => [...log],
    get duplicates() {
      return duplicates;
    },
    fail(list) {
      phases = list.map((p) => ({ ...p, began: null, served: 0 }));
      if (phases.length) phases[0].began = Date.now();
      logger.info({ phases: list }, 'sms gateway told to fail');
    },
    recover() {
      phases = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Why a message is not one the gateway takes, or null. */
function valid(m: any): string | null {
  if (!m || typeof m !== 'object') return 'the body is not a JSON object';
  if (typeof m.requestId !== 'string' || !m.requestId) return 'requestId is required';
  if (typeof m.mobile !== 'string' || !MOBILE.test(m.mobile)) return 'mobile must be 11 digits starting with 1';
  if (!TEMPLATES.has(m.template)) return `unknown template ${JSON.stringify(m.template)}`;
  const p = m.params;
  if (!p || typeof p !== 'object') return 'params is required';
  for (const f of ['code', 'item', 'status']) if (typeof p[f] !== 'string' || !p[f]) return `params.${f} is required`;
  if (m.template === 'CASE_EVALUATE' && (typeof p.link !== 'string' || !/^https?:\/\/\S+$/.test(p.link))) return 'CASE_EVALUATE needs params.link, the evaluation address';
  return null;
}

function fields(m: any): Omit<AcceptedSms, 'messageId' | 'at'> {
  const p = m.params;
  return { requestId: m.requestId, mobile: m.mobile, template: m.template, params: { code: p.code, item: p.item, status: p.status, ...(p.link ? { link: p.link } : {}) } };
}
