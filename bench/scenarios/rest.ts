// Scenarios 1 and 2 of `make bench`: market-regulation's signed webhook (bench/scenarios/rest.md).
//
// A hub started as `make run` starts it (heap cap, flags), configured with the market-regulation
// department alone, is loaded from a process of its own (bench/load/) with signed batches of new
// cases: batches of 100 at concurrency 8 on PostgreSQL and on the embedded store, and one event per
// request at concurrency 50 on PostgreSQL. Beside it, in the same run and alternating with it, the
// bare server of bench/baselines/rest-server.ts takes the same load on a database of its own (pg)
// or on PGlite. Events are counted in the store after each run, not from the answers.
//
// BENCH_REST_SECONDS sets how long each load runs (default 10; 1 when tiny); BENCH_REST_STORES=postgres
// or embedded runs one store's half alone.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fork, ChildProcess } from 'node:child_process';
import pg from 'pg';
import { BenchContext, Row, Scenario, median, percentile, repeat, row, benchDatabase, hubDataDir } from '../harness';
import { ROOT } from '../../core/kernel/paths';
import { spawnHub, nodeSettings, cpuSeconds, rssBytes, settled, waitFor, HubProcess } from '../../test/support/hub';
import { runLoad, WebhookResult } from '../load/jobs';

export const INBOUND = '/api/v1/inbound/market-regulation';
export const KEY = { keyId: 'scjg-demo', secret: 'scjg-demo-secret-2026' };
/** Node-RED's figure for the same job, measured elsewhere (the issue's reference). */
const NODE_RED_EVENTS_PER_SECOND = 22_195;

/** The PostgreSQL batch figure of this bench run, once `rest` has run (the latency scenario paces at half of it). */
export let restPostgresEventsPerSecond: number | undefined;

/** A hub of its own for a scenario: its process, how to count the events it stored, and its end. */
export interface BenchHub {
  hub: HubProcess;
  url: string;
  /** Events in its store now. */
  events(): Promise<number>;
  stop(): Promise<void>;
}


/** The hub's configuration for these scenarios: the market-regulation department alone, the supervisor token. */
function hubConfig(ctx: BenchContext): string {
  const file = path.join(ctx.workDir, 'rest-hub.yaml');
  fs.writeFileSync(file, [
    '# make bench (rest, latency): the market-regulation webhook alone.',
    'region: "130100"',
    'http: { host: 127.0.0.1, port: 0 }',
    'store: embedded',
    'services: all',
    'tokens:',
    '  - { name: bench supervisor, token: demo-supervisor-token, roles: [supervisor] }',
    'adapters:',
    `  - { id: market-regulation, dir: ${JSON.stringify(path.join(ROOT, 'adapters', 'market-regulation'))} }`,
    'shutdownGraceSeconds: 10',
    '',
  ].join('\n'));
  return file;
}

/** A hub on the given store ('embedded', or a postgres:// URL), started as `make run` starts it, once ready. */
export async function startBenchHub(ctx: BenchContext, store: string): Promise<BenchHub> {
  const { env: nodeEnv, flags } = nodeSettings();
  const dataDir = hubDataDir(ctx.workDir, 'rest-hub-', store);
  const hub = await spawnHub({
    HUB_CONFIG: hubConfig(ctx), HUB_DATA_DIR: dataDir, HUB_STORE: store, HUB_SERVICES: 'all', HUB_POLLING_OFF: 'all',
    HUB_LOG_LEVEL: 'warn', ...nodeEnv, OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  }, [], flags);
  const url = hub.url;
  const client = store === 'embedded' ? null : new pg.Client({ connectionString: store });
  try {
    await waitFor('the hub to be ready', async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200, 60_000, 250);
    await client?.connect();
  } catch (err) {
    await hub.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n${hub.output().slice(-4000)}`);
  }
  return {
    hub, url,
    async events() {
      if (client) return Number((await client.query<{ n: string }>('SELECT count(*)::text AS n FROM events')).rows[0].n);
      // PGlite lives in the hub's process: its count of events committed (hub_events_total).
      const text = await (await fetch(`${url}/metrics`)).text();
      return [...text.matchAll(/^hub_events_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    },
    async stop() {
      await client?.end().catch(() => undefined);
      await hub.stop('SIGTERM');
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The bare server of bench/baselines/rest-server.ts in its own process, on a postgres:// URL or pglite:<dir>. */
export async function startBaseline(store: string): Promise<{ url: string; pid: number; events(): Promise<number>; stop(): Promise<void> }> {
  const child: ChildProcess = fork(path.join(__dirname, '..', 'baselines', 'rest-server.js'), [], {
    env: { ...process.env, REST_BASELINE_STORE: store }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the REST baseline (${store.split(':')[0]}) did not start within 60 s:\n${stderr}`)); }, 60_000);
    child.once('message', (m: { port: number }) => { clearTimeout(timer); resolve(m.port); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the REST baseline (${store.split(':')[0]}) ended with ${code}:\n${stderr}`)); });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url, pid: child.pid!,
    async events() {
      const r = await fetch(`${url}/count`);
      if (r.status !== 200) throw new Error(`REST baseline GET /count: HTTP ${r.status}: ${await r.text()}`);
      return ((await r.json()) as { events: number }).events;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** One load run against a server, with what the store holds after it and the server's CPU. */
interface Measured {
  /** Events stored over the time from the load's start to the moment the last of them was in the store. */
  eventsPerSecond: number;
  stored: number;
  seconds: number;
  /** Server process CPU (user + system) per event stored, µs. */
  cpuUsPerEvent: number;
  p50: number;
  p99: number;
  /** The hub's /health/live p99 during the load, and its peak RSS (embedded run only). */
  healthP99?: number;
  peakRssMiB?: number;
  load: Omit<WebhookResult, 'latencyMs' | 'startedAt' | 'endedAt'>;
  /** /health/live polls not answered 200, and the RSS before the load, MiB (embedded run only). */
  healthFailures?: number;
  rssBeforeMiB?: number;
}

let runSeq = 0;

/**
 * Loads `target` with signed batches of `batch` at `connections`, then waits for the hub's bus
 * consumers to catch up (their CPU counts too) and counts the events stored.
 */
async function measure(ctx: BenchContext, label: string, target: { url: string; pid: number; events(): Promise<number>; hubUrl?: string }, opts: { batch: number; connections: number; seconds: number; health?: boolean }): Promise<Measured> {
  const before = await target.events();
  const cpu0 = cpuSeconds(target.pid);
  let peakRss = 0;
  const rssBefore = opts.health ? rssBytes(target.pid) : 0;
  const sampler = opts.health ? setInterval(() => { try { peakRss = Math.max(peakRss, rssBytes(target.pid)); } catch { /* the process ended: the load reports it */ } }, 100) : null;
  const prefix = `SJB${process.pid.toString(36)}${(runSeq++).toString(36)}${Date.now().toString(36)}`.toUpperCase();
  let load: WebhookResult;
  let loading = true;
  // Polled from this process, which is idle during the load: the load process is busy making requests.
  const health = opts.health && target.hubUrl ? pollHealth(`${target.hubUrl}/health/live`, () => loading) : null;
  try {
    load = await runLoad({ kind: 'webhook', url: `${target.url}${INBOUND}`, batch: opts.batch, connections: opts.connections, seconds: opts.seconds, prefix, ...KEY });
  } finally {
    loading = false;
    if (sampler) clearInterval(sampler);
  }
  const polled = await health;
  // Requests cut off at the end of the load may still commit: the run lasts until the count stops
  // growing (read every 100 ms), and ends at the first read that saw the final count.
  let count = await target.events();
  let storedAt = Date.now();
  const giveUp = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > giveUp) throw new Error(`${label}: ${count - before} events stored 60 s after the load, ${load.accepted} answered accepted`);
    await new Promise((r) => setTimeout(r, 100));
    const n = await target.events();
    if (n === count && n - before >= load.accepted) break;
    if (n !== count) storedAt = Date.now();
    count = n;
  }
  if (target.hubUrl) await settled(target.hubUrl, 120_000);
  const cpu1 = cpuSeconds(target.pid);
  const stored = count - before;
  const { latencyMs, startedAt, endedAt, ...rest } = load;
  if (stored <= 0) throw new Error(`${label}: no event stored by ${target.url} (${opts.batch} per request, c${opts.connections}): ${JSON.stringify({ ...rest, latencyMs: latencyMs.length })}`);
  const seconds = (storedAt - startedAt) / 1000;
  ctx.log(`${label}: ${stored} events stored in ${seconds.toFixed(2)} s (${(stored / seconds).toFixed(0)}/s; load ${((endedAt - startedAt) / 1000).toFixed(2)} s, ${rest.requests} requests, ${rest.accepted} answered accepted, load process CPU ${rest.loadCpuSeconds.toFixed(1)} s${Object.keys(rest.failures).length ? `, failures ${JSON.stringify(rest.failures)}` : ''})`);
  return {
    eventsPerSecond: stored / seconds, stored, seconds,
    cpuUsPerEvent: ((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / stored) * 1e6,
    p50: percentile(latencyMs, 0.5), p99: percentile(latencyMs, 0.99),
    healthP99: polled ? percentile(polled.ms, 0.99) : undefined,
    healthFailures: polled?.failures,
    rssBeforeMiB: opts.health ? rssBefore / 2 ** 20 : undefined,
    peakRssMiB: opts.health ? peakRss / 2 ** 20 : undefined,
    load: rest,
  };
}

/** GETs url every 50 ms while `on()`: each answer's time, ms (a failed one too), and how many were not 200. */
async function pollHealth(url: string, on: () => boolean): Promise<{ ms: number[]; failures: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out = { ms: [] as number[], failures: 0 };
  const get = () => new Promise<number>((resolve) => {
    const req = http.get(url, { agent }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(0));
  });
  try {
    while (on()) {
      const t = performance.now();
      const status = await get();
      out.ms.push(performance.now() - t);
      if (status !== 200) out.failures++;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    agent.destroy();
  }
  return out;
}

const pick = (runs: Measured[], f: (m: Measured) => number | undefined) => runs.map((m) => f(m) ?? NaN);
const loads = (runs: Measured[]) => runs.map((m) => ({ stored: m.stored, seconds: m.seconds, ...m.load, ...(m.healthFailures !== undefined ? { healthFailures: m.healthFailures, rssBeforeMiB: m.rssBeforeMiB } : {}) }));

type Judge = (value: number, ratio: number | undefined) => boolean;

/**
 * The rows of one load beside its baseline: events/s stored (with the runs' loads in its details),
 * the hub's CPU per event beside the baseline process's, and, unless `latency` is false, the request
 * p50 and p99 (otherwise in the first row's details).
 */
function loadRows(ctx: BenchContext, figure: string, base: string, hub: Measured[], baseline: Measured[], goals: {
  rate?: { goal: string; judge: Judge }; cpu?: { goal: string; judge: Judge }; latency?: boolean;
}): Row[] {
  const latency = goals.latency ?? true;
  const out = [
    row(ctx, {
      scenario: 'rest', figure: `${figure}: events/s stored`, unit: 'events/s', runs: pick(hub, (m) => m.eventsPerSecond),
      baseline: { name: base, runs: pick(baseline, (m) => m.eventsPerSecond) }, ...goals.rate,
      details: { hub: loads(hub), baseline: loads(baseline), ...(latency ? {} : { hubP50: pick(hub, (m) => m.p50), hubP99: pick(hub, (m) => m.p99), baselineP50: pick(baseline, (m) => m.p50), baselineP99: pick(baseline, (m) => m.p99) }) },
    }),
    row(ctx, {
      scenario: 'rest', figure: `${figure}: hub CPU per event`, unit: 'µs', higherIsBetter: false, runs: pick(hub, (m) => m.cpuUsPerEvent),
      baseline: { name: `${base}, its process`, runs: pick(baseline, (m) => m.cpuUsPerEvent) }, ...goals.cpu,
    }),
  ];
  if (latency) {
    for (const q of ['p50', 'p99'] as const) {
      out.push(row(ctx, {
        scenario: 'rest', figure: `${figure}: request ${q}`, unit: 'ms', higherIsBetter: false, runs: pick(hub, (m) => m[q]),
        baseline: { name: base, runs: pick(baseline, (m) => m[q]) },
      }));
    }
  }
  return out;
}

export const restScenario: Scenario = {
  id: 'rest',
  title: "market-regulation's signed webhook: batches of 100 (PostgreSQL, embedded) and one event per request",
  async run(ctx) {
    const seconds = Number(process.env.BENCH_REST_SECONDS ?? (ctx.tiny ? 1 : 10));
    const batch = ctx.tiny ? 20 : 100;
    const batchLabel = `batches of ${batch}, c8`;
    const rows: Row[] = [];
    const S = 'rest';

    // BENCH_REST_STORES=postgres or embedded: one store's half alone (to look at one path).
    const stores = (process.env.BENCH_REST_STORES ?? 'postgres,embedded').split(',');
    // PostgreSQL: batches at c8 and single events at c50, hub and baseline alternating.
    if (stores.includes('postgres')) {
      const hubDb = await benchDatabase(ctx.pgAdminUrl, 'rest_hub');
      const baseDb = await benchDatabase(ctx.pgAdminUrl, 'rest_base');
      let hub: BenchHub | null = null;
      let base: Awaited<ReturnType<typeof startBaseline>> | null = null;
      try {
        hub = await startBenchHub(ctx, hubDb.url);
        base = await startBaseline(baseDb.url);
        ctx.log('PostgreSQL: hub and baseline started');
        const h = { url: hub.url, hubUrl: hub.url, pid: hub.hub.proc.pid!, events: hub.events };
        const b = base;
        const runs = await repeat(ctx, 'PostgreSQL', async () => ({
          hubBatch: await measure(ctx, `hub, ${batchLabel}, PostgreSQL`, h, { batch, connections: 8, seconds }),
          baseBatch: await measure(ctx, `baseline, ${batchLabel}, PostgreSQL`, b, { batch, connections: 8, seconds }),
          hubOne: await measure(ctx, 'hub, one event per request, c50, PostgreSQL', h, { batch: 1, connections: 50, seconds }),
          baseOne: await measure(ctx, 'baseline, one event per request, c50, PostgreSQL', b, { batch: 1, connections: 50, seconds }),
        }));
        const hb = runs.map((r) => r.hubBatch);
        const bb = runs.map((r) => r.baseBatch);
        const ho = runs.map((r) => r.hubOne);
        const bo = runs.map((r) => r.baseOne);
        const pgBase = 'bare node:http + pg';
        rows.push(...loadRows(ctx, `${batchLabel}, PostgreSQL`, pgBase, hb, bb, {
          rate: { goal: `≥ ${NODE_RED_EVENTS_PER_SECOND.toLocaleString('en-US')}/s (Node-RED), ≥ 80 % of baseline`, judge: (v, ratio) => v >= NODE_RED_EVENTS_PER_SECOND && (ratio ?? 0) >= 0.8 },
          cpu: { goal: '≤ 30 µs', judge: (v) => v <= 30 },
        }));
        rows.push(...loadRows(ctx, 'one event per request, c50, PostgreSQL', pgBase, ho, bo, {
          rate: { goal: '≥ 3× baseline', judge: (_v, ratio) => (ratio ?? 0) >= 3 }, latency: false,
        }));
        restPostgresEventsPerSecond = median(pick(hb, (m) => m.eventsPerSecond));
      } finally {
        await Promise.all([hub?.stop(), base?.stop()]);
        await Promise.all([hubDb.drop(), baseDb.drop()]);
        ctx.log('PostgreSQL: hub and baseline stopped');
      }
    }

    // Embedded: batches at c8, /health/live polled and RSS sampled during the load.
    if (stores.includes('embedded')) {
      const baseDir = fs.mkdtempSync(path.join(ctx.workDir, 'rest-base-pglite-'));
      let hub: BenchHub | null = null;
      let base: Awaited<ReturnType<typeof startBaseline>> | null = null;
      try {
        [hub, base] = await Promise.all([startBenchHub(ctx, 'embedded'), startBaseline(`pglite:${baseDir}`)]);
        ctx.log('embedded: hub and baseline started');
        const h = { url: hub.url, hubUrl: hub.url, pid: hub.hub.proc.pid!, events: hub.events };
        const b = base;
        const runs = await repeat(ctx, 'embedded', async () => ({
          hub: await measure(ctx, `hub, ${batchLabel}, embedded`, h, { batch, connections: 8, seconds, health: true }),
          base: await measure(ctx, `baseline, ${batchLabel}, embedded`, b, { batch, connections: 8, seconds }),
        }));
        const hr = runs.map((r) => r.hub);
        const br = runs.map((r) => r.base);
        const liteBase = 'bare node:http + PGlite';
        rows.push(...loadRows(ctx, `${batchLabel}, embedded`, liteBase, hr, br, { rate: { goal: '≥ 10,000/s', judge: (v) => v >= 10_000 } }));
        rows.push(row(ctx, {
          scenario: S, figure: `${batchLabel}, embedded: /health/live p99 under load`, unit: 'ms', higherIsBetter: false, runs: pick(hr, (m) => m.healthP99),
          goal: '< 50 ms', judge: (v) => v < 50,
        }));
        rows.push(row(ctx, {
          scenario: S, figure: `${batchLabel}, embedded: hub peak RSS under load`, unit: 'MiB', higherIsBetter: false, runs: pick(hr, (m) => m.peakRssMiB),
          goal: '≤ 400 MiB', judge: (v) => v <= 400,
        }));
      } finally {
        await Promise.all([hub?.stop(), base?.stop()]);
        fs.rmSync(baseDir, { recursive: true, force: true });
      }
    }
    return rows;
  },
};
