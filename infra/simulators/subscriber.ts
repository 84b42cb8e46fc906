// A subscriber's system (services/subscriptions/SPEC.md), to which the hub delivers case events as
// signed CloudEvents: it checks each delivery's signature, takes an event id once (a redelivery is
// answered 200 again and counted), records per case the order the events came in, and can be told
// to fail as a real subscriber does (down, over its limit, slow, refusing), by a test or through
// its admin API. It verifies with the hub's own verifier, core/kernel/webhook-signature.ts, because
// the SPEC offers that verifier to subscribers: its tests sign with node:crypto from the SPEC, so
// that the verifier is still held to the SPEC rather than to itself.

import * as http from 'node:http';
import pino, { Logger } from 'pino';
import { WebhookRefusalType, readSignatureHeaders, verifyWebhook } from '../../core/kernel/webhook-signature';

export const SUBSCRIBER_PATH = '/hub/events';
export const SUBSCRIBER_ADMIN_PATH = '/_admin';
export const SUBSCRIBER_DEMO_KEY_ID = 'demo-subscriber';
export const SUBSCRIBER_DEMO_SECRET = 'demo-subscriber-secret-2026';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';
/** The event types the hub delivers (DESIGN, "Subscriptions"); others are taken all the same, as the SPEC asks of subscribers. */
export const HUB_EVENT_TYPES = ['cn.gov.hub.case.event.applied', 'cn.gov.hub.case.light.changed', 'cn.gov.hub.case.violation.raised'] as const;

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_ADMIN_BODY_BYTES = 4096;
const MAX_DELAY_MS = 120_000;
const PROBLEM_TYPE_BASE = 'urn:subscriber:problem:';

/**
 * How the subscriber answers deliveries: `ok` as it should; `error` with a status (any 4xx or 5xx;
 * 503 by default); `429` with a Retry-After when given; `slow`, answering 2xx (or whatever the
 * delivery earns) after `delayMs`; `refuse`, a 4xx the hub does not retry (400 by default). With
 * `for`, only the next `for` deliveries, then `ok` again.
 */
export type SubscriberMode =
  | { mode: 'ok' }
  | { mode: 'error'; status?: number; for?: number }
  | { mode: '429'; retryAfterSeconds?: number; for?: number }
  | { mode: 'slow'; delayMs: number; for?: number }
  | { mode: 'refuse'; status?: number; for?: number };

export type SubscriberModeName = SubscriberMode['mode'];

/** A delivery taken: the event, as parsed, and when it came. */
export type ReceivedDelivery = { id: string; type: string; subject: string; source: string; keyId: string; body: any; receivedAt: number };

/** A delivery whose signature did not pass, answered 401. */
export type RejectedDelivery = { type: WebhookRefusalType; detail: string; at: number };

/** A signed delivery that is no CloudEvent of the hub's, answered 400 (415 for the wrong content type). */
export type InvalidDelivery = { reason: string; id?: string; at: number };

export type SubscriberOutcome = 'accepted' | 'duplicate' | 'rejected' | 'invalid' | 'failed';

/** A request to the delivery path, the mode in force and its answer (`answerLost`: the hub had gone before a slow answer). */
export type SubscriberRequest = { at: number; mode: SubscriberModeName; status: number; outcome: SubscriberOutcome; id?: string; answerLost?: boolean };

/**
 * What `GET /_admin/state` answers: `received` counts every request to the delivery path, whatever
 * it was answered; `accepted` the deliveries taken (`received()`), `duplicates` the redeliveries of
 * an id taken before, `rejected` the signatures refused, `invalid` the bodies refused, `failed` the
 * requests answered with a failure as told; `byMode` the requests by the mode in force.
 */
export type SubscriberState = {
  mode: SubscriberMode & { remaining?: number };
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  invalid: number;
  failed: number;
  byMode: Record<SubscriberModeName, number>;
};

export type SubscriberSimulator = {
  /** Where the hub delivers: the base URL and the path. */
  url: string;
  /** The base URL; the admin API is under `/_admin`. */
  baseUrl: string;
  /** Every delivery taken, in the order taken; a redelivered id is not in it twice. */
  received(): ReceivedDelivery[];
  /** How many deliveries came again with an id already taken (each answered 200 again). */
  duplicates(): number;
  rejected(): RejectedDelivery[];
  invalid(): InvalidDelivery[];
  /** Every request to the delivery path and its answer, in the order they came. */
  requests(): SubscriberRequest[];
  /** Per subject (the case's supervision code), the ids taken in the order they came; the hub sends no sequence numbers. */
  bySubject(): Record<string, string[]>;
  /** Answers as told from the next delivery on (throws on a mode it cannot take, as the admin API answers 400). */
  setMode(mode: SubscriberMode): void;
  mode(): SubscriberMode & { remaining?: number };
  state(): SubscriberState;
  /** Forgets every delivery and count, and answers `ok` again. */
  reset(): void;
  /** Resolves once `count` deliveries are taken; rejects after `timeoutMs`. */
  waitForReceived(count: number, timeoutMs?: number): Promise<ReceivedDelivery[]>;
  close(): Promise<void>;
};

export type SubscriberOptions = {
  /** 0, the default: any free port. */
  port?: number;
  host?: string;
  /** Key id → shared secret, as the hub's subscription has them. */
  keys: Record<string, string>;
  /** The delivery path; SUBSCRIBER_PATH by default. */
  path?: string;
  maxSkewSeconds?: number;
  logger?: Logger;
};

const MODE_NAMES: readonly SubscriberModeName[] = ['ok', 'error', '429', 'slow', 'refuse'];

/** The mode a request body or a caller asks for, or why it cannot be taken. */
export function parseSubscriberMode(input: unknown): SubscriberMode | { error: string } {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return { error: 'expected a JSON object with a "mode"' };
  const m = input as Record<string, unknown>;
  if (!MODE_NAMES.includes(m.mode as SubscriberModeName)) return { error: `mode must be one of ${MODE_NAMES.join(', ')}` };
  const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
  if (m.for !== undefined && !int(m.for, 1, 1_000_000)) return { error: '"for" must be a whole number of deliveries, at least 1' };
  const count = m.for === undefined ? {} : { for: m.for as number };
  switch (m.mode as SubscriberModeName) {
    case 'ok':
      return { mode: 'ok' };
    case 'error':
      if (m.status !== undefined && !int(m.status, 400, 599)) return { error: 'status must be a 4xx or 5xx' };
      return { mode: 'error', status: (m.status as number | undefined) ?? 503, ...count };
    case '429':
      if (m.retryAfterSeconds !== undefined && !int(m.retryAfterSeconds, 0, 86_400)) return { error: 'retryAfterSeconds must be whole seconds, 0 to 86400' };
      return { mode: '429', ...(m.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: m.retryAfterSeconds as number }), ...count };
    case 'slow':
      if (!int(m.delayMs, 0, MAX_DELAY_MS)) return { error: `delayMs must be whole milliseconds, 0 to ${MAX_DELAY_MS}` };
      return { mode: 'slow', delayMs: m.delayMs as number, ...count };
    case 'refuse':
      // 408 and 429 are retried by the hub: a refusal it would retry is no refusal.
      if (m.status !== undefined && (!int(m.status, 400, 499) || m.status === 408 || m.status === 429)) return { error: 'status must be a 4xx other than 408 and 429' };
      return { mode: 'refuse', status: (m.status as number | undefined) ?? 400, ...count };
  }
  return { error: 'unknown mode' };
}

export async function startSubscriber(options: SubscriberOptions): Promise<SubscriberSimulator> {
  const host = options.host ?? '127.0.0.1';
  const deliveryPath = options.path ?? SUBSCRIBER_PATH;
  const keys = options.keys;
  // Own properties only: a key id such as "constructor" names no secret.
  const keyOf = (keyId: string) => (Object.prototype.hasOwnProperty.call(keys, keyId) ? keys[keyId] : undefined);
  // It may receive ID numbers and mobiles (a subscription allowed personal data): it logs ids,
  // types, subjects and outcomes only, never a body.
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ simulator: 'subscriber' });

  let taken: ReceivedDelivery[] = [];
  let takenIds = new Set<string>();
  let rejected: RejectedDelivery[] = [];
  let invalid: InvalidDelivery[] = [];
  let log: SubscriberRequest[] = [];
  let order = new Map<string, string[]>();
  let duplicates = 0;
  let byMode = zeroByMode();
  let current: SubscriberMode = { mode: 'ok' };
  let remaining: number | undefined;
  const pending = new Set<{ timer: NodeJS.Timeout; res: http.ServerResponse }>();

  const setMode = (mode: SubscriberMode) => {
    const parsed = parseSubscriberMode(mode);
    if ('error' in parsed) throw new Error(`subscriber mode refused: ${parsed.error}`);
    current = parsed;
    remaining = parsed.mode === 'ok' ? undefined : parsed.for;
    logger.info({ mode: parsed }, 'subscriber mode set');
  };

  /** The mode this delivery is answered under, counting it off a limited run. */
  const modeForDelivery = (): SubscriberMode => {
    const mode = current;
    if (remaining !== undefined && --remaining <= 0) {
      current = { mode: 'ok' };
      remaining = undefined;
      logger.info('subscriber answers normally again');
    }
    return mode;
  };

  const send = (res: http.ServerResponse, entry: SubscriberRequest, delayMs: number, status: number, body: unknown, headers: Record<string, string> = {}) => {
    entry.status = status;
    // The connection closing before the answer is written is the hub giving up on a slow answer.
    let gone = false;
    res.once('close', () => { gone = true; });
    const write = () => {
      if (gone || res.destroyed || res.writableEnded) {
        entry.answerLost = true;
        return;
      }
      res.writeHead(status, { 'Content-Type': status >= 400 ? 'application/problem+json; charset=utf-8' : 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    if (delayMs <= 0) return write();
    const p = { res, timer: setTimeout(() => { pending.delete(p); write(); }, delayMs) };
    pending.add(p);
  };

  const problem = (status: number, type: string, title: string, detail: string) => ({ type: PROBLEM_TYPE_BASE + type, title, status, detail });

  const deliver = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => {
    const mode = modeForDelivery();
    byMode[mode.mode]++;
    const entry: SubscriberRequest = { at: Date.now(), mode: mode.mode, status: 0, outcome: 'failed' };
    log.push(entry);
    if (mode.mode === 'error' || mode.mode === '429' || mode.mode === 'refuse') {
      // Which event was failed, for a test that counts the hub's attempts per id; nothing else of
      // the body is looked at (a failing subscriber does not get that far).
      const id = idOf(body);
      if (id) entry.id = id;
    }
    switch (mode.mode) {
      case 'error':
        logger.info({ status: mode.status }, 'delivery failed as told');
        return send(res, entry, 0, mode.status!, problem(mode.status!, 'unavailable', 'Subscriber unavailable (simulated)', 'try again later'));
      case '429':
        logger.info({ retryAfterSeconds: mode.retryAfterSeconds ?? null }, 'delivery throttled as told');
        return send(res, entry, 0, 429, problem(429, 'too-many-requests', 'Too many requests (simulated)', 'slow down'),
          mode.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(mode.retryAfterSeconds) });
      case 'refuse':
        logger.info({ status: mode.status }, 'delivery refused as told');
        return send(res, entry, 0, mode.status!, problem(mode.status!, 'refused', 'Delivery refused (simulated)', 'this subscriber does not take this delivery'));
    }
    const delay = mode.mode === 'slow' ? mode.delayMs : 0;

    const verified = verifyWebhook({ ...readSignatureHeaders(req.headers), body }, keyOf, { maxSkewSeconds: options.maxSkewSeconds, clockName: "the subscriber's clock" });
    if (!verified.ok) {
      entry.outcome = 'rejected';
      rejected.push({ type: verified.type, detail: verified.detail, at: entry.at });
      logger.warn({ problem: verified.type, detail: verified.detail }, 'delivery not authenticated');
      return send(res, entry, delay, 401, problem(401, verified.type, 'Delivery not authenticated', verified.detail));
    }
    const refuseInvalid = (status: number, type: string, reason: string, id?: string) => {
      entry.outcome = 'invalid';
      if (id) entry.id = id;
      invalid.push({ reason, at: entry.at, ...(id ? { id } : {}) });
      logger.warn({ problem: type, reason, id }, 'delivery invalid');
      return send(res, entry, delay, status, problem(status, type, 'Delivery is not a CloudEvent of the hub', reason));
    };
    const contentType = String(req.headers['content-type'] ?? '');
    if (contentType.split(';')[0].trim().toLowerCase() !== CLOUDEVENTS_CONTENT_TYPE) {
      return refuseInvalid(415, 'content-type', `content-type must be ${CLOUDEVENTS_CONTENT_TYPE}, not ${JSON.stringify(contentType)}`);
    }
    let event: any;
    try {
      event = JSON.parse(body.toString('utf8'));
    } catch {
      // Not the parser's message: it quotes the body, which may hold personal data, into the log.
      return refuseInvalid(400, 'not-json', 'the body is not JSON');
    }
    const reason = notAHubEvent(event);
    if (reason) return refuseInvalid(400, 'not-a-cloudevent', reason, typeof event?.id === 'string' ? event.id : undefined);

    entry.id = event.id;
    if (takenIds.has(event.id)) {
      duplicates++;
      entry.outcome = 'duplicate';
      logger.info({ id: event.id, type: event.type, subject: event.subject }, 'delivery duplicate dropped');
      return send(res, entry, delay, 200, { id: event.id, result: 'duplicate' });
    }
    // Taken now, whenever the answer leaves: a slow answer the hub gave up on is the delivery whose
    // answer was lost, and its redelivery a duplicate, as at a real subscriber.
    const delivery: ReceivedDelivery = { id: event.id, type: event.type, subject: event.subject, source: event.source, keyId: verified.keyId, body: event, receivedAt: entry.at };
    taken.push(delivery);
    takenIds.add(event.id);
    const ids = order.get(event.subject) ?? [];
    ids.push(event.id);
    order.set(event.subject, ids);
    entry.outcome = 'accepted';
    logger.info({ id: event.id, type: event.type, subject: event.subject }, 'delivery taken');
    return send(res, entry, delay, 200, { id: event.id, result: 'accepted' });
  };

  const state = (): SubscriberState => ({
    mode: { ...current, ...(remaining !== undefined ? { remaining } : {}) },
    received: log.length,
    accepted: taken.length,
    duplicates,
    rejected: rejected.length,
    invalid: invalid.length,
    failed: log.filter((r) => r.outcome === 'failed').length,
    byMode: { ...byMode },
  });

  const reset = () => {
    taken = [];
    takenIds = new Set();
    rejected = [];
    invalid = [];
    log = [];
    order = new Map();
    duplicates = 0;
    byMode = zeroByMode();
    current = { mode: 'ok' };
    remaining = undefined;
  };

  const admin = (req: http.IncomingMessage, res: http.ServerResponse, path: string, body: Buffer) => {
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': `${status >= 400 ? 'application/problem+json' : 'application/json'}; charset=utf-8` });
      res.end(JSON.stringify(value));
    };
    const route = `${req.method} ${path.slice(SUBSCRIBER_ADMIN_PATH.length)}`;
    if (route === 'GET /state') return json(200, state());
    if (route === 'POST /reset') {
      reset();
      return json(200, state());
    }
    if (route === 'POST /mode') {
      let input: unknown;
      try {
        input = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return json(400, problem(400, 'not-json', 'Body is not JSON', (err as Error).message));
      }
      const parsed = parseSubscriberMode(input);
      if ('error' in parsed) return json(400, problem(400, 'bad-mode', 'Mode not taken', parsed.error));
      setMode(parsed);
      return json(200, state().mode);
    }
    return json(404, problem(404, 'not-found', 'No such admin route', 'GET /_admin/state, POST /_admin/mode, POST /_admin/reset'));
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const isAdmin = path.startsWith(`${SUBSCRIBER_ADMIN_PATH}/`);
    if (!isAdmin && path !== deliveryPath) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'application/problem+json; charset=utf-8' });
      res.end(JSON.stringify(problem(404, 'not-found', 'Not found', `deliveries go to POST ${deliveryPath}`)));
      return;
    }
    if (!isAdmin && req.method !== 'POST') {
      req.resume();
      res.writeHead(405, { Allow: 'POST', 'Content-Type': 'application/problem+json; charset=utf-8' });
      res.end(JSON.stringify(problem(405, 'method', 'Method not allowed', 'deliveries are POSTed')));
      return;
    }
    const limit = isAdmin ? MAX_ADMIN_BODY_BYTES : MAX_BODY_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => {
      if (size > limit) {
        res.writeHead(413, { 'Content-Type': 'application/problem+json; charset=utf-8' });
        res.end(JSON.stringify(problem(413, 'body-too-large', 'Body too large', `larger than ${limit} bytes`)));
        return;
      }
      const body = Buffer.concat(chunks);
      if (isAdmin) admin(req, res, path, body);
      else deliver(req, res, body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  const baseUrl = `http://${host}:${port}`;

  return {
    url: `${baseUrl}${deliveryPath}`,
    baseUrl,
    received: () => [...taken],
    duplicates: () => duplicates,
    rejected: () => [...rejected],
    invalid: () => [...invalid],
    requests: () => log.map((r) => ({ ...r })),
    bySubject: () => Object.fromEntries([...order].map(([subject, ids]) => [subject, [...ids]])),
    setMode,
    mode: () => state().mode,
    state,
    reset,
    async waitForReceived(count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (taken.length < count) {
        if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${count} deliveries (${taken.length} taken)`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return [...taken];
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pending) {
          clearTimeout(p.timer);
          p.res.destroy();
        }
        pending.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The `id` of a body that is a JSON object with a string id, or undefined. */
function idOf(body: Buffer): string | undefined {
  try {
    const id = JSON.parse(body.toString('utf8'))?.id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined; // not JSON: a failed request with no id to record
  }
}

function zeroByMode(): Record<SubscriberModeName, number> {
  return { ok: 0, error: 0, '429': 0, slow: 0, refuse: 0 };
}

/** Why a parsed body is not a CloudEvent as the hub delivers them (SPEC, "The delivery"), or null. */
function notAHubEvent(e: any): string | null {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return 'the body is not a JSON object';
  if (e.specversion !== '1.0') return 'specversion must be "1.0"';
  for (const f of ['id', 'source', 'type', 'subject', 'time']) if (typeof e[f] !== 'string' || !e[f]) return `${f} is required`;
  if (e.datacontenttype !== 'application/json') return 'datacontenttype must be "application/json"';
  if (!e.data || typeof e.data !== 'object' || Array.isArray(e.data)) return 'data must be an object';
  if (typeof e.data.status !== 'string' || !e.data.status) return 'data.status, the canonical status, is required';
  return null;
}
