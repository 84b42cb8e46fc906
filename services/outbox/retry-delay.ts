/** First wait before a consumer gets a message again after failing on it; doubled at each retry. */
const FIRST_RETRY_MS = 1000;
const LONGEST_RETRY_MS = 60_000;

/**
 * How long the bus waits before the n-th delivery retry (n from 1): 1, 2, 4… seconds, at most a
 * minute. A consumer that fails because something it needs is down would otherwise be handed the
 * same message again at once, as fast as it can fail.
 */
export function retryDelayMs(retry: number): number {
  return Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, retry - 1));
}
