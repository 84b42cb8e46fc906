import { retryAfterHeaderMs, sendOnce } from '../../core/kernel/http';

/**
 * The city SMS gateway's one call (departments/sms-gateway/SPEC.md): `POST {url}/sms/v1/messages`
 * with a bearer token. Its answers, as the notifier acts on them.
 */

export type SmsTemplate = 'CASE_STATUS' | 'CASE_EVALUATE';

export interface SmsMessage {
  /** Unique per notification: the gateway drops a message whose requestId it already took. */
  requestId: string;
  mobile: string;
  template: SmsTemplate;
  params: { code: string; item: string; status: string; link?: string };
}

export type GatewayAnswer =
  /** 2xx: taken (or a duplicate of one taken: the first messageId again). */
  | { kind: 'accepted'; status: number; messageId: string | null }
  /** 429: over the gateway's limit; nothing may be sent before retryAfterMs. */
  | { kind: 'throttled'; status: number; retryAfterMs: number; reason: string }
  /** Down, no answer in time, or refused for a reason of ours that a fix on our side cures (token, address): try again later. */
  | { kind: 'unavailable'; status: number | null; reason: string }
  /** Refused the message itself (4xx): it will never be taken as it is. */
  | { kind: 'refused'; status: number; reason: string };

/** The wait a 429 asks for when it says none (or nothing readable). */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** Of a refusal's body, what a reason keeps. */
const BODY_CHARS = 200;

// Answers that say the gateway cannot take anything now, whatever the message: our token or its
// address is wrong (fixed in our configuration, then every waiting message goes), or it timed out.
const RETRYABLE_4XX = new Set([401, 403, 404, 408, 425]);

/** Milliseconds a Retry-After header asks for (core/kernel/http.ts), or DEFAULT_RETRY_AFTER_MS when it says nothing readable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  return retryAfterHeaderMs(header, now) ?? DEFAULT_RETRY_AFTER_MS;
}

export interface SmsGateway {
  send(message: SmsMessage, signal: AbortSignal): Promise<GatewayAnswer>;
}

export class SmsGatewayClient implements SmsGateway {
  private readonly endpoint: string;

  constructor(private readonly opts: { url: string; token: string; timeoutMs: number }) {
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/sms/v1/messages`;
  }

  /** Sends one message; never throws for what the gateway or the network did (aborted by `signal`: unavailable). */
  async send(message: SmsMessage, signal: AbortSignal): Promise<GatewayAnswer> {
    const sent = await sendOnce(this.endpoint, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.opts.token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(message),
    }, { timeoutMs: this.opts.timeoutMs, signal });
    if (!sent.ok) return { kind: 'unavailable', status: null, reason: `SMS gateway ${this.endpoint}: ${sent.reason}` };
    const { res, text } = sent;
    const body = text.replace(/\s+/g, ' ').slice(0, BODY_CHARS);
    if (res.status >= 200 && res.status < 300) {
      let messageId: string | null = null;
      try {
        const id = (JSON.parse(text) as { messageId?: unknown }).messageId;
        messageId = typeof id === 'string' || typeof id === 'number' ? String(id) : null;
      } catch {
        // Taken all the same: the status says so; the answer's id is only kept when there is one.
      }
      return { kind: 'accepted', status: res.status, messageId };
    }
    const reason = `SMS gateway answered ${res.status}${body ? `: ${body}` : ''}`;
    if (res.status === 429) return { kind: 'throttled', status: 429, retryAfterMs: retryAfterMs(res.header('retry-after')), reason };
    if (res.status >= 500 || RETRYABLE_4XX.has(res.status) || res.status < 200 || (res.status >= 300 && res.status < 400)) return { kind: 'unavailable', status: res.status, reason };
    return { kind: 'refused', status: res.status, reason };
  }
}
