import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE } from './constants';

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) { super(`body larger than ${limit} bytes`); }
}

/** Reads a request body, refusing as soon as it passes the limit (nothing past it is buffered). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        // Keep draining so that the answer can still be read by the sender.
        req.resume();
        reject(new BodyTooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks)); } });
    req.on('error', (err) => { if (!done) { done = true; reject(err); } });
  });
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  [extension: string]: unknown;
}

/** RFC 9457 problem details. */
export function sendProblem(res: ServerResponse, status: number, type: string, title: string, detail?: string, ext: Record<string, unknown> = {}, headers: Record<string, string> = {}): void {
  const body: Problem = { type: PROBLEM_TYPE_BASE + type, title, status, ...(detail ? { detail } : {}), ...ext };
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': `${PROBLEM_CONTENT_TYPE}; charset=utf-8`, ...headers });
  res.end(JSON.stringify(body));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** Header values as one string each, lower-case names (what the inbox keeps). */
export function flatHeaders(req: IncomingMessage, keep?: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (keep && !keep.includes(k)) continue;
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** The longest wait a Retry-After is taken for: beyond it, a wrong header would hold a queue for days. */
export const MAX_RETRY_AFTER_MS = 3600_000;

/**
 * Milliseconds a Retry-After header asks for (RFC 9110, 10.2.3): delta-seconds, or an HTTP date,
 * which is in GMT and says so (anything else Date.parse might read is not one), at most
 * MAX_RETRY_AFTER_MS; null when there is none or it cannot be read. Read alike for every target the
 * hub sends to (the SMS gateway, subscribers).
 */
export function retryAfterHeaderMs(header: string | null | undefined, now = Date.now()): number | null {
  if (!header) return null;
  const v = header.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) ms = Number(v) * 1000;
  else if (/ GMT$/.test(v) && !Number.isNaN(Date.parse(v))) ms = Date.parse(v) - now;
  else return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, Math.ceil(ms)));
}

/** The answer of another system: its status, and its headers by name (any case). */
export interface Answer {
  status: number;
  header(name: string): string | null;
}

/** What one request to another system came to: its answer read whole, or why there is none. */
export type Sent = { ok: true; res: Answer; text: string } | { ok: false; reason: string };

/** A request to another system: method, headers and body (the body's length is sent with it). */
export interface OutgoingRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/**
 * Connections kept open to the systems the hub sends to, so that a stream of deliveries to one
 * subscriber does not open a connection each. Node's own client (node:http): per request it costs a
 * fraction of what fetch (undici's streams and abort signals) does, on the main thread that also
 * serves the API.
 */
const AGENTS: Record<string, http.Agent> = {
  'http:': new http.Agent({ keepAlive: true }),
  'https:': new https.Agent({ keepAlive: true }),
};

/**
 * One request to a system the hub sends to (the SMS gateway, a subscriber): never throws for what
 * the network or the other side did. No answer within `timeoutMs`, `signal` aborted (the sender
 * stopping), or the network's own reason (ECONNREFUSED…) is said in `reason`. A redirect is not
 * followed: the caller decides what a 3xx means.
 */
export function sendOnce(url: string, init: OutgoingRequest, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Sent> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      resolve({ ok: false, reason: `${JSON.stringify(url)} is not a URL` });
      return;
    }
    const agent = AGENTS[target.protocol];
    if (!agent) {
      resolve({ ok: false, reason: `${target.protocol} is not http: or https:` });
      return;
    }
    let settled = false;
    const finish = (sent: Sent) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', abandon);
      resolve(sent);
    };
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body;
    const req = (target.protocol === 'https:' ? https : http).request(target, {
      method: init.method, agent,
      headers: { ...init.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => finish({ ok: false, reason: networkReason(err) }));
      res.on('end', () => finish({
        ok: true,
        res: {
          status: res.statusCode ?? 0,
          header: (name) => {
            const v = res.headers[name.toLowerCase()];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
          },
        },
        text: Buffer.concat(chunks).toString('utf8'),
      }));
    });
    const timer = setTimeout(() => {
      finish({ ok: false, reason: `no answer within ${opts.timeoutMs} ms` });
      req.destroy();
    }, opts.timeoutMs);
    function abandon() {
      finish({ ok: false, reason: 'the request was abandoned (the sender stopped)' });
      req.destroy();
    }
    if (opts.signal?.aborted) abandon();
    else opts.signal?.addEventListener('abort', abandon, { once: true });
    req.on('error', (err) => finish({ ok: false, reason: networkReason(err) }));
    req.end(body);
  });
}

/** The network's reason, with its code when the message does not already say it. */
function networkReason(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
