// Scenario 5 of `make bench`: how long an event takes from the moment a department sends it to the
// moment the case API shows its case (bench/scenarios/rest.md).
//
// A hub on PostgreSQL, configured and started as for `rest`, takes signed market-regulation batches
// of 100 new cases, open loop (one batch every 1/rate seconds, whatever the answers), at half the
// PostgreSQL batch rate `rest` measured in the same bench run (else at LATENCY_FIXED_RATE). For each
// batch the load process reads the case of its last event, by the supervision code the webhook
// answered, at GET /api/v1/cases/{code} until it answers 200: the time from the batch's due moment to
// that answer. The bare server of bench/baselines/rest-server.ts takes the same paced load on a
// database of its own, its events read at GET /events/{eventId}.
//
// BENCH_LATENCY_SECONDS sets how long each paced run lasts (default 10; 1 when tiny).

import { BenchContext, Row, Scenario, percentile, repeat, row, benchDatabase } from '../harness';
import { SUPERVISOR } from '../../test/support/hub';
import { runLoad, PacedResult } from '../load/jobs';
import { INBOUND, KEY, restPostgresEventsPerSecond, startBaseline, startBenchHub } from './rest';

/** Events/s when `rest` has not run in this bench run (tiny: a rate any hub holds). */
const LATENCY_FIXED_RATE = 5_000;
const LATENCY_FIXED_RATE_TINY = 200;

interface Paced {
  p50: number;
  p99: number;
  result: Omit<PacedResult, 'visibleMs'>;
}

async function paced(ctx: BenchContext, label: string, job: Parameters<typeof runLoad>[0] & { kind: 'paced' }): Promise<Paced> {
  const r = await runLoad(job);
  const { visibleMs, ...rest } = r;
  const failed = Object.values(rest.failures).reduce((a, b) => a + b, 0);
  if (!visibleMs.length) throw new Error(`${label}: no batch became visible: ${JSON.stringify(rest)}`);
  ctx.log(`${label}: ${visibleMs.length}/${rest.sent} batches visible, p50 ${percentile(visibleMs, 0.5).toFixed(1)} ms, p99 ${percentile(visibleMs, 0.99).toFixed(1)} ms, send lag ≤ ${rest.maxSendLagMs.toFixed(1)} ms${failed ? `, failures ${JSON.stringify(rest.failures)}` : ''}`);
  return { p50: percentile(visibleMs, 0.5), p99: percentile(visibleMs, 0.99), result: rest };
}

let runSeq = 0;
const prefix = () => `SJL${process.pid.toString(36)}${(runSeq++).toString(36)}${Date.now().toString(36)}`.toUpperCase();

export const latencyScenario: Scenario = {
  id: 'latency',
  title: 'from receipt to visible in the case API, at half the webhook\'s rate (PostgreSQL)',
  async run(ctx) {
    const seconds = Number(process.env.BENCH_LATENCY_SECONDS ?? (ctx.tiny ? 1 : 10));
    const batch = ctx.tiny ? 20 : 100;
    const fromRest = restPostgresEventsPerSecond !== undefined && restPostgresEventsPerSecond > 0;
    const rate = fromRest ? restPostgresEventsPerSecond! / 2 : ctx.tiny ? LATENCY_FIXED_RATE_TINY : LATENCY_FIXED_RATE;
    const rateLabel = `${Math.round(rate).toLocaleString('en-US')} events/s (${fromRest ? "half of rest's PostgreSQL figure" : 'fixed'})`;
    const batchesPerSecond = rate / batch;
    ctx.log(`pacing at ${rateLabel}: ${batchesPerSecond.toFixed(2)} batches of ${batch} a second`);

    const hubDb = await benchDatabase(ctx.pgAdminUrl, 'latency_hub');
    const baseDb = await benchDatabase(ctx.pgAdminUrl, 'latency_base');
    let hub: Awaited<ReturnType<typeof startBenchHub>> | null = null;
    let base: Awaited<ReturnType<typeof startBaseline>> | null = null;
    try {
      [hub, base] = await Promise.all([startBenchHub(ctx, hubDb.url), startBaseline(baseDb.url)]);
      const h = hub;
      const b = base;
      const common = { kind: 'paced' as const, batch, batchesPerSecond, seconds, ...KEY };
      const runs = await repeat(ctx, 'latency', async () => ({
        hub: await paced(ctx, 'hub', { ...common, url: `${h.url}${INBOUND}`, prefix: prefix(), visibleUrl: `${h.url}/api/v1/cases/{code}`, visibleHeaders: SUPERVISOR }),
        base: await paced(ctx, 'baseline', { ...common, url: `${b.url}${INBOUND}`, prefix: prefix(), visibleUrl: `${b.url}/events/{eventId}`, visibleHeaders: {} }),
      }));
      const figure = (q: string) => `batches of ${batch} at ${rateLabel}, PostgreSQL: receipt to visible ${q}`;
      const baseName = 'bare node:http + pg, event read back';
      const details = { rate, batchesPerSecond, seconds, hub: runs.map((r) => r.hub.result), baseline: runs.map((r) => r.base.result) };
      const rows: Row[] = [
        row(ctx, {
          scenario: 'latency', figure: figure('p50'), unit: 'ms', higherIsBetter: false, runs: runs.map((r) => r.hub.p50),
          baseline: { name: baseName, runs: runs.map((r) => r.base.p50) }, details,
        }),
        row(ctx, {
          scenario: 'latency', figure: figure('p99'), unit: 'ms', higherIsBetter: false, runs: runs.map((r) => r.hub.p99),
          baseline: { name: baseName, runs: runs.map((r) => r.base.p99) }, goal: '≤ 100 ms', judge: (v) => v <= 100,
        }),
      ];
      return rows;
    } finally {
      await Promise.all([hub?.stop(), base?.stop()]);
      await Promise.all([hubDb.drop(), baseDb.drop()]);
    }
  },
};
