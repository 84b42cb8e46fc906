// Market-regulation webhook load for `make bench` (test/bench/cluster.ts, test/bench/tracing.ts):
// batches of new cases posted by a few senders at once, with each request's latency.
import { randomUUID } from 'node:crypto';
import { postBatch, MarketBatch, MarketEvent } from '../../infra/simulators/market-regulation';
import { beijingIso } from '../../infra/simulators/beijing-time';

export function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/**
 * A batch of new cases, as test/roles.test.ts makes them (its item and applicant), each event a
 * case of its own. The status time is now rather than a fixed day: cases dated weeks back turn RED
 * and raise alerts (README, "Outbound subscriptions"), work no figure is meant to measure.
 */
export function marketBatch(prefix: string, seq: number, size: number): MarketBatch {
  const statusTime = beijingIso(Date.now());
  const events = Array.from({ length: size }, (_, i) => ({
    eventId: randomUUID(), caseNo: `${prefix}${seq}x${i}`, itemCode: 'SCJG-DJ-001', status: 'SUBMITTED', statusTime,
    applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241283', mobile: '15833321907' },
    officer: null, supervisionCode: null, remark: null,
  } as MarketEvent));
  return { batchId: `${prefix}-${seq}`, events };
}

export interface LoadResult {
  accepted: number;
  refused: Map<string, number>;
  batches: number;
  latencyMs: number[];
  firstPost: number;
  lastAnswer: number;
}

/** Posts batches of `batch` new cases to the webhook at `url` from `concurrency` senders until `seconds` have passed since the first post. */
export async function load(url: string, prefix: string, seconds: number, opts: { concurrency: number; batch: number }): Promise<LoadResult> {
  const result: LoadResult = { accepted: 0, refused: new Map(), batches: 0, latencyMs: [], firstPost: Date.now(), lastAnswer: 0 };
  const until = result.firstPost + seconds * 1000;
  let seq = 0;
  const refuse = (why: string, n: number) => result.refused.set(why, (result.refused.get(why) ?? 0) + n);
  const sender = async () => {
    while (Date.now() < until) {
      const batch = marketBatch(prefix, seq++, opts.batch);
      const t = performance.now();
      try {
        const r = await postBatch(url, batch);
        result.latencyMs.push(performance.now() - t);
        result.batches++;
        if (r.status !== 200) {
          refuse(`HTTP ${r.status}`, opts.batch);
        } else {
          for (const x of (r.body as { results: { result: string; reason?: string }[] }).results) {
            if (x.result === 'accepted') result.accepted++;
            else refuse(`${x.result}${x.reason ? ` (${x.reason})` : ''}`, 1);
          }
        }
      } catch (err) {
        refuse((err as Error).message, opts.batch);
      }
      result.lastAnswer = Date.now();
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, sender));
  return result;
}
