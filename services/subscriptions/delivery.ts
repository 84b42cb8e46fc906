import { webhookSignatureHeaders } from '../../core/kernel/webhook-signature';
import { retryAfterHeaderMs, sendOnce } from '../../core/kernel/http';
import type { OutboundEvent } from '../../contracts/types';

export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

/** Longest part of a subscriber's answer kept as the reason of a failed attempt. */
const ANSWER_CHARS = 200;

/** What a subscriber's answer to one delivery means. */
export type DeliveryAnswer =
  | { kind: 'taken'; status: number }
  /** 429: the subscriber's limit; `retryAfterMs` when it said when. */
  | { kind: 'throttled'; status: 429; retryAfterMs?: number; reason: string }
  /** 408, 5xx, a network error or no answer in time: tried again later. */
  | { kind: 'unavailable'; status: number | null; reason: string }
  /** Any other 4xx, or a redirect: the subscriber refuses this delivery, and will again. */
  | { kind: 'refused'; status: number; reason: string };

/**
 * One delivery: the event POSTed as CloudEvents structured JSON, signed with the subscription's
 * secret over `timestamp.body`. The request has its own time limit and is never cut short by a
 * node stopping: an answer the subscriber gave is always read, so that an event it took is
 * recorded as taken and not sent again after the restart.
 */
export async function deliver(target: { url: string; keyId: string; secret: string }, event: OutboundEvent, timeoutMs: number): Promise<DeliveryAnswer> {
  const body = Buffer.from(JSON.stringify(event), 'utf8');
  const sent = await sendOnce(target.url, {
    method: 'POST',
    headers: {
      'content-type': CLOUDEVENTS_JSON,
      'user-agent': 'case-exchange-hub',
      // Signed as departments sign their webhooks to the hub (SPEC.md beside this file).
      ...webhookSignatureHeaders(body, target.keyId, target.secret),
    },
    body,
  }, { timeoutMs });
  if (!sent.ok) return { kind: 'unavailable', status: null, reason: `POST failed: ${sent.reason}` };
  const { res, text } = sent;
  const said = text ? `: ${text.replace(/\s+/g, ' ').slice(0, ANSWER_CHARS)}` : '';
  if (res.status >= 200 && res.status < 300) return { kind: 'taken', status: res.status };
  if (res.status === 429) {
    const retryAfterMs = retryAfterHeaderMs(res.header('retry-after'));
    return { kind: 'throttled', status: 429, ...(retryAfterMs !== null ? { retryAfterMs } : {}), reason: `429${said}` };
  }
  if (res.status === 408 || res.status >= 500) return { kind: 'unavailable', status: res.status, reason: `${res.status}${said}` };
  if (res.status >= 300 && res.status < 400) return { kind: 'refused', status: res.status, reason: `${res.status}: a redirect is not followed (to ${res.header('location') ?? 'nowhere'}): correct the subscription's url` };
  return { kind: 'refused', status: res.status, reason: `${res.status}${said}` };
}
