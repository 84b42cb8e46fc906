// Departments retry what the hub did not take, waiting longer each time. Jitter keeps several
// simulated senders from retrying in lock-step after the hub comes back.

import { Random } from './random';

export type BackoffOptions = {
  /** Delay before the first retry. */
  initialMs: number;
  /** The delay doubles up to this. */
  maxMs: number;
};

/** The delay before retry number `attempt` (1 = the first retry), ±20 % jitter. */
export function backoffDelay(attempt: number, options: BackoffOptions, rng: Random): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * rng.next()));
}

/** `Retry-After` in seconds or as an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
