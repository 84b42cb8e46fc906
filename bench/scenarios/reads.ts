// Scenario `reads`: what a supervisor reads, with 100,000 and 1,000,000 cases in a PostgreSQL store
// (seeded here, test/support/case-seed.ts): the case list with filters, the case view and the
// department statistics, over HTTP through a hub started on that database as `make run` starts it,
// the requests made from a process of their own. p50 and p99 per route and size; beside each, the
// store alone: the same store calls the route makes, from the bench process, with no HTTP, gateway
// or bus. Goal: p99 ≤ 50 ms at 1,000,000 cases.
//
//   BENCH_READS_CASES=100000,1000000   the sizes (tiny: 2,000 and 10,000)
//   BENCH_READS_REQUESTS=2000          requests per route and run (tiny: 200)
//   BENCH_READS_CONNECTIONS=4          requests in flight at once, over as many connections

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fork, ChildProcess } from 'node:child_process';
import pg from 'pg';
import { BenchContext, Row, Scenario, percentile, repeat, row, benchDatabase } from '../harness';
import { openStore, Store } from '../../services/store/open-store';
import { CaseFilter } from '../../services/cases/case-store';
import { EvaluationStore } from '../../services/evaluations/evaluation-store';
import { supervisionCodeCheckChar } from '../../core/identifiers/supervision-code';
import { seedCases, fillCaseStats, registryCodes, STATUS_MIX } from '../../test/support/case-seed';
import { spawnHub, nodeSettings, HubProcess, waitFor } from '../../test/support/hub';

const GOAL_P99_MS = 50;
const JUDGED_AT = 1_000_000;
const TOKEN = 'demo-supervisor-token';
/** Cases given a valid supervision code for the case view (the seed's codes carry none). */
const VIEWED_CASES = 500;

/** One request of a route: its path, and the store calls its action makes. */
interface Query {
  path: string;
  direct(store: Store, evaluations: EvaluationStore): Promise<unknown>;
}

interface Route {
  name: string;
  queries: Query[];
}

/** p50 and p99 of one route's requests in one run, in ms, and the paths of its slowest requests. */
interface Timing {
  p50: number;
  p99: number;
  slowest: { path: string; ms: number }[];
}

/** The timing of requests, each one's path and time in ms. */
function timing(paths: string[], ms: number[]): Timing {
  const slowest = ms.map((t, i) => ({ path: paths[i % paths.length], ms: Math.round(t * 10) / 10 })).sort((a, b) => b.ms - a.ms).slice(0, 3);
  return { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), slowest };
}

/** A fixed shuffle, so that every run and size sends the same mix in the same order. */
function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  let seed = 20261207;
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * The console's reads: lists by department or hall, alone, with a status, with a light, and with a
 * light and a status; by status and by light across departments, and by both; by item; and unfiltered (first pages of 20, as the console asks); case views;
 * the statistics of all days, of a month and of single weeks (the statistics view's weekly chart).
 */
function routes(codes: string[]): Route[] {
  const { departments, halls, items } = registryCodes();
  const lights = ['GREEN', 'YELLOW', 'RED'];
  const filters: Omit<CaseFilter, 'limit'>[] = [{}];
  for (const department of [...departments, ...halls]) {
    filters.push({ department });
    for (const [status] of STATUS_MIX) filters.push({ department, status });
    for (const light of lights) {
      filters.push({ department, light });
      for (const [status] of STATUS_MIX) filters.push({ department, light, status });
    }
  }
  // The city's cases of one status, with a light or without (every department's), as the console's
  // status filter asks with no department chosen.
  for (const [status] of STATUS_MIX) {
    filters.push({ status });
    for (const light of lights) filters.push({ light, status });
  }
  for (const light of lights) filters.push({ light });
  for (const item of items) filters.push({ item });
  const list: Query[] = shuffled(filters).map((f) => ({
    path: `/api/v1/cases?${new URLSearchParams({ ...(f as Record<string, string>), limit: '20' })}`,
    direct: (store) => store.cases.list({ ...f, limit: 20, cursor: null }),
  }));
  const view: Query[] = codes.map((code) => ({ path: `/api/v1/cases/${code}`, direct: (store) => store.cases.read(code) }));
  const day = (d: number) => new Date(Date.UTC(2026, 0, 5) + d * 86_400_000).toISOString().slice(0, 10);
  const ranges: ({ from: string; to: string } | null)[] = [null, { from: day(0), to: day(30) }, ...Array.from({ length: 8 }, (_, i) => ({ from: day(i * 7), to: day(i * 7 + 6) }))];
  const stats: Query[] = ranges.map((r) => ({
    path: `/api/v1/stats/departments${r ? `?from=${r.from}&to=${r.to}` : ''}`,
    direct: (store, evaluations) => Promise.all([store.supervision.stats({ ...r }), evaluations.stats({ ...r, now: new Date() })]),
  }));
  return [
    { name: 'GET /cases?filters', queries: list },
    { name: 'GET /cases/{code}', queries: view },
    { name: 'GET /stats/departments', queries: stats },
  ];
}


/**
 * Gives `n` cases spread over the table a supervision code with its check character (the seed's
 * end in X, which the case view refuses as malformed), in the case, its events and its references,
 * and their events the department's own status the case view shows.
 */
async function validCodes(url: string, cases: number, n: number): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const percent = Math.min(100, (200 * n) / cases);
    const old = (await c.query<{ code: string }>(
      `SELECT supervision_code AS code FROM cases TABLESAMPLE BERNOULLI (${percent}) REPEATABLE (7) LIMIT ${n}`)).rows.map((r) => r.code);
    const renamed = old.map((code) => code.slice(0, 23) + supervisionCodeCheckChar(code.slice(0, 23)));
    await c.query('BEGIN');
    for (const table of ['cases', 'events', 'case_refs']) {
      await c.query(`UPDATE ${table} t SET supervision_code = m.new FROM unnest($1::text[], $2::text[]) AS m(old, new) WHERE t.supervision_code = m.old`, [old, renamed]);
    }
    // The seed's events carry no department status: each gets one, as a mapped event has.
    await c.query(`UPDATE events SET body = jsonb_set(body::jsonb, '{data,sourceStatus}', jsonb_build_object('code', status, 'label', status))::json
      WHERE supervision_code = ANY($1::text[])`, [renamed]);
    await c.query('COMMIT');
    if (renamed.length < Math.min(n, cases)) throw new Error(`only ${renamed.length} of ${n} cases sampled for the case view`);
    return renamed;
  } finally {
    await c.end();
  }
}

/** The load process: requests sent from a process of its own, as a console's browsers would. */
class Loader {
  private readonly child: ChildProcess;
  private pending: ((r: LoadAnswer) => void) | null = null;
  private exited: Promise<void>;

  constructor() {
    this.child = fork(__filename, ['--reads-load'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m) => { this.pending?.(m as LoadAnswer); this.pending = null; });
    this.exited = new Promise((resolve) => this.child.once('exit', () => {
      this.pending?.({ error: 'the load process ended' });
      resolve();
    }));
  }

  async run(job: LoadJob): Promise<Timing> {
    const answer = await new Promise<LoadAnswer>((resolve) => {
      this.pending = resolve;
      this.child.send(job);
    });
    if ('error' in answer) throw new Error(`load of ${job.paths[0]}…: ${answer.error}`);
    return timing(job.paths, answer.ms);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exited;
  }
}

interface LoadJob {
  url: string;
  paths: string[];
  requests: number;
  connections: number;
}
type LoadAnswer = { ms: number[] } | { error: string };

/** In the load process: `requests` GETs over the paths in turn, `connections` at a time, each one's time (in request order). */
async function sendRequests(job: LoadJob): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const ms: number[] = new Array(job.requests);
  let next = 0;
  const one = (i: number, p: string) => new Promise<void>((resolve, reject) => {
    const t = performance.now();
    const req = http.get(`${job.url}${p}`, { agent, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`GET ${p} answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
        ms[i] = performance.now() - t;
        resolve();
      });
      res.on('error', reject);
    });
    req.on('error', (err) => reject(new Error(`GET ${p}: ${err.message}`)));
  });
  const worker = async () => {
    while (next < job.requests) {
      const i = next++;
      await one(i, job.paths[i % job.paths.length]);
    }
  };
  try {
    await Promise.all(Array.from({ length: job.connections }, worker));
  } finally {
    agent.destroy();
  }
  return ms;
}

/** The same calls through the store from the bench process, as many at a time. */
async function direct(queries: Query[], requests: number, connections: number, store: Store, evaluations: EvaluationStore): Promise<Timing> {
  const ms: number[] = new Array(requests);
  let next = 0;
  const worker = async () => {
    while (next < requests) {
      const i = next++;
      const t = performance.now();
      await queries[i % queries.length].direct(store, evaluations);
      ms[i] = performance.now() - t;
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  return timing(queries.map((q) => q.path), ms);
}

/** Seeds a database of `cases` cases, starts a hub on it and measures each route and its store calls. */
async function measureSize(ctx: BenchContext, cases: number, requests: number, connections: number, loader: Loader): Promise<Row[]> {
  const db = await benchDatabase(ctx.pgAdminUrl, 'reads');
  const dataDir = fs.mkdtempSync(path.join(ctx.workDir, `reads-${cases}-`));
  let store: Store | null = null;
  let hub: HubProcess | null = null;
  try {
    // The schema as the hub's migrations make it (and the data key the hub will find in its folder).
    store = await openStore({ store: db.url, dataDir, region: '130100', poolSize: connections });
    const seeded = Date.now();
    await seedCases(db.url, cases);
    await fillCaseStats(db.url);
    const codes = await validCodes(db.url, cases, VIEWED_CASES).catch((err: Error) => {
      throw new Error(`giving ${VIEWED_CASES} seeded cases a valid supervision code: ${err.message}`);
    });
    ctx.log(`${cases.toLocaleString('en')} cases seeded in ${((Date.now() - seeded) / 1000).toFixed(1)} s`);

    const node = nodeSettings();
    hub = await spawnHub({ HUB_STORE: db.url, HUB_DATA_DIR: dataDir, HUB_POLLING_OFF: 'all', ...node.env }, [], node.flags);
    const url = hub.url;
    await waitFor('the hub to be ready', async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200, 60_000, 250);

    const running = hub;
    const load = (job: LoadJob) => loader.run(job).catch((err: Error) => {
      throw new Error(`${err.message}\nthe hub's last output:\n${running.output().slice(-3000)}`);
    });
    const evaluations = new EvaluationStore(store.driver);
    const all = routes(codes);
    const runs = await repeat(ctx, `${cases.toLocaleString('en')} cases`, async () => {
      const out: { hub: Timing; store: Timing }[] = [];
      for (const r of all) {
        // Every request once first, through each: the steady state of a running hub, not a cold cache.
        await load({ url, paths: r.queries.map((q) => q.path), requests: r.queries.length, connections });
        await direct(r.queries, r.queries.length, connections, store!, evaluations);
        out.push({
          hub: await load({ url, paths: r.queries.map((q) => q.path), requests, connections }),
          store: await direct(r.queries, requests, connections, store!, evaluations),
        });
      }
      return out;
    });
    const judged = cases >= JUDGED_AT;
    return all.flatMap((r, i) => (['p50', 'p99'] as const).map((q) => row(ctx, {
      scenario: 'reads',
      figure: `${r.name}, ${cases.toLocaleString('en')} cases, c${connections}: ${q}`,
      unit: 'ms',
      higherIsBetter: false,
      runs: runs.map((x) => x[i].hub[q]),
      baseline: { name: 'store alone', runs: runs.map((x) => x[i].store[q]) },
      goal: q === 'p99' ? (judged ? `≤ ${GOAL_P99_MS} ms` : `reported (judged at ${JUDGED_AT.toLocaleString('en')})`) : undefined,
      judge: q === 'p99' && judged ? (v) => v <= GOAL_P99_MS : undefined,
      details: {
        cases, requests, connections, paths: r.queries.length,
        slowest: runs.map((x) => x[i].hub.slowest), storeSlowest: runs.map((x) => x[i].store.slowest),
      },
    })));
  } finally {
    await hub?.stop('SIGTERM');
    await store?.close();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const sizes = (tiny: boolean): number[] => tiny
  ? [2_000, 10_000]
  : (process.env.BENCH_READS_CASES ?? '100000,1000000').split(',').map((s) => Number(s.trim())).filter((n) => {
    if (!Number.isInteger(n) || n < VIEWED_CASES) throw new Error(`BENCH_READS_CASES: ${JSON.stringify(process.env.BENCH_READS_CASES)} is not a list of case counts of at least ${VIEWED_CASES}`);
    return true;
  });

export const readsScenario: Scenario = {
  id: 'reads',
  title: 'supervisor reads: case list, case view, department statistics (PostgreSQL)',
  async run(ctx) {
    const requests = ctx.tiny ? 200 : Number(process.env.BENCH_READS_REQUESTS ?? 2000);
    const connections = Number(process.env.BENCH_READS_CONNECTIONS ?? 4);
    const loader = new Loader();
    try {
      const rows: Row[] = [];
      for (const cases of sizes(ctx.tiny)) rows.push(...await measureSize(ctx, cases, requests, connections, loader));
      return rows;
    } finally {
      await loader.stop();
    }
  },
};

if (require.main === module && process.argv.includes('--reads-load')) {
  process.on('message', (job: LoadJob) => {
    sendRequests(job).then((ms) => process.send!({ ms }), (err) => process.send!({ error: (err as Error).message }));
  });
}
