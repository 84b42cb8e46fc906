// The one webhook signature the hub speaks, both ways: a department signs what it pushes to the
// hub, and the hub signs what it delivers to a subscriber, with the same headers and the same HMAC,
// so that one verifier serves both directions. The signature is `sha256=` + the lower-case hex
// HMAC-SHA256 of the shared secret over `<timestamp>.` followed by the raw body bytes; the
// timestamp is in the signed text so that a captured request cannot be replayed at another time.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The three headers a signed request carries, spelt as senders write them (HTTP header names are case-insensitive). */
export const WEBHOOK_SIGNATURE_HEADERS = {
  keyId: 'X-Hub-Key-Id',
  timestamp: 'X-Hub-Timestamp',
  signature: 'X-Hub-Signature',
} as const;

export type WebhookSignatureAlgorithm = 'sha256';

/** What a signature is made with unless a caller says otherwise; the replay window in seconds. */
export const WEBHOOK_SIGNATURE_DEFAULTS = {
  algorithm: 'sha256' as WebhookSignatureAlgorithm,
  prefix: 'sha256=',
  maxSkewSeconds: 300,
} as const;

export type WebhookSignOptions = {
  algorithm?: WebhookSignatureAlgorithm;
  /** Text before the lower-case hex digest. */
  prefix?: string;
};

export type WebhookVerifyOptions = WebhookSignOptions & {
  /** A timestamp further than this from `nowSeconds` is refused (replay protection). */
  maxSkewSeconds?: number;
  /** The verifier's clock in Unix seconds, fractions allowed; now by default (tests pass their own). */
  nowSeconds?: number;
  /** The header names the refusals name; a receiver configured with other names passes its own. */
  headerNames?: { keyId: string; timestamp: string; signature: string };
  /** Whose clock a stale timestamp is measured against, as the refusal says it. */
  clockName?: string;
};

export type WebhookSignatureHeaders = { keyId?: string; timestamp?: string; signature?: string };

export type WebhookRefusalType = 'missing-signature' | 'unknown-key' | 'bad-timestamp' | 'stale-timestamp' | 'bad-signature';

/** Why a signed request is refused: the type is the problem type the sender sees, the detail says what to fix. */
export type WebhookRefusal = { ok: false; type: WebhookRefusalType; detail: string };

/** A signer whose headers passed: the secret its key id names, and what to check the body against. */
export type WebhookSigner = { ok: true; keyId: string; secret: string; timestamp: string; signature: string };

/** The shared secret of a key id, or undefined for a key id the receiver does not know. */
export type WebhookKeyLookup = (keyId: string) => string | undefined;

// Unix seconds as digits only: no sign, no fraction, no exponent, nothing `Number()` would also take.
const UNIX_SECONDS = /^\d{1,12}$/;

/** The HMAC over `<timestamp>.` and the body, as the signature header carries it. */
export function signWebhook(body: Buffer | string, secret: string, timestamp: number, opts: WebhookSignOptions = {}): string {
  return expectedSignature(secret, String(timestamp), typeof body === 'string' ? Buffer.from(body, 'utf8') : body, opts);
}

/** The three headers for a body signed now (or at `timestamp`), named as WEBHOOK_SIGNATURE_HEADERS spells them. */
export function webhookSignatureHeaders(body: Buffer | string, keyId: string, secret: string, timestamp = Math.floor(Date.now() / 1000), opts: WebhookSignOptions = {}): Record<string, string> {
  return {
    [WEBHOOK_SIGNATURE_HEADERS.keyId]: keyId,
    [WEBHOOK_SIGNATURE_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_SIGNATURE_HEADERS.signature]: signWebhook(body, secret, timestamp, opts),
  };
}

/** The signature headers of a Node request (the first value of a repeated one). */
export function readSignatureHeaders(headers: IncomingHttpHeaders, names: { keyId: string; timestamp: string; signature: string } = WEBHOOK_SIGNATURE_HEADERS): WebhookSignatureHeaders {
  const header = (name: string) => {
    const v = headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  };
  return { keyId: header(names.keyId), timestamp: header(names.timestamp), signature: header(names.signature) };
}

/**
 * The checks that need no body: all three headers present, a known key id, a timestamp within the
 * window. A receiver runs them before it reads the body, so that an unauthenticated sender costs it
 * no more than its headers.
 */
export function checkSignatureHeaders(headers: WebhookSignatureHeaders, keyOf: WebhookKeyLookup, opts: WebhookVerifyOptions = {}): WebhookSigner | WebhookRefusal {
  const names = opts.headerNames ?? WEBHOOK_SIGNATURE_HEADERS;
  const maxSkew = opts.maxSkewSeconds ?? WEBHOOK_SIGNATURE_DEFAULTS.maxSkewSeconds;
  const { keyId, timestamp, signature } = headers;
  if (!keyId || !timestamp || !signature) return { ok: false, type: 'missing-signature', detail: `headers ${names.keyId}, ${names.timestamp} and ${names.signature} are required` };
  const secret = keyOf(keyId);
  // An empty secret would let anyone sign: it is no key at all.
  if (!secret) return { ok: false, type: 'unknown-key', detail: `unknown key id ${JSON.stringify(keyId)}` };
  if (!UNIX_SECONDS.test(timestamp)) return { ok: false, type: 'bad-timestamp', detail: `${names.timestamp} must be Unix seconds` };
  const skew = Math.abs((opts.nowSeconds ?? Date.now() / 1000) - Number(timestamp));
  if (skew > maxSkew) return { ok: false, type: 'stale-timestamp', detail: `timestamp is ${Math.round(skew)} s away from ${opts.clockName ?? "the hub's clock"} (limit ${maxSkew} s)` };
  return { ok: true, keyId, secret, timestamp, signature };
}

/**
 * Whether the signature is the HMAC of these body bytes, compared in constant time so that the
 * time taken does not tell a forger how many leading characters were right.
 */
export function signatureMatches(signer: { secret: string; timestamp: string; signature: string }, body: Buffer, opts: WebhookSignOptions = {}): boolean {
  const expected = Buffer.from(expectedSignature(signer.secret, signer.timestamp, body, opts));
  const given = Buffer.from(signer.signature);
  // timingSafeEqual needs equal lengths; a length is no secret (every signature has the same one).
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The refusal of a body whose signature does not match (after its headers passed). */
export const BAD_SIGNATURE: WebhookRefusal = Object.freeze({ ok: false, type: 'bad-signature', detail: 'signature does not match the body' });

/** Both checks at once, for a receiver that has the body in hand anyway. */
export function verifyWebhook(input: WebhookSignatureHeaders & { body: Buffer }, keyOf: WebhookKeyLookup, opts: WebhookVerifyOptions = {}): { ok: true; keyId: string } | WebhookRefusal {
  const signer = checkSignatureHeaders(input, keyOf, opts);
  if (!signer.ok) return signer;
  if (!signatureMatches(signer, input.body, opts)) return BAD_SIGNATURE;
  return { ok: true, keyId: signer.keyId };
}

function expectedSignature(secret: string, timestamp: string, body: Buffer, opts: WebhookSignOptions): string {
  const mac = createHmac(opts.algorithm ?? WEBHOOK_SIGNATURE_DEFAULTS.algorithm, secret).update(`${timestamp}.`).update(body);
  return (opts.prefix ?? WEBHOOK_SIGNATURE_DEFAULTS.prefix) + mac.digest('hex');
}
