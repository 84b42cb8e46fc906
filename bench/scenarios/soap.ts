// `make bench`, soap: the vehicle office's halls push status reports to the hub's SOAP endpoint
// (ReportCaseStatus with a UsernameToken, adapters/vehicle-office/), 20 at a time, every report new.
// A hub with the vehicle office alone (its poll off) is started as `make run` starts it, on a fresh
// PostgreSQL database and then on a fresh embedded store; the load comes from a process of its own
// (bench/load/soap-push.ts). Figures: reports per second answered FHDM 1 (every answer comes after
// the report is stored and applied), p50 and p99 latency, the hub's CPU per report, and that CPU in
// the first and the last third of each run, as the store grows.
//
// Baselines, in the same run and with the same load: a bare node-soap server answering the same
// WSDL with a constant FHDM 1, and the same server INSERTing each report into a fresh PostgreSQL
// database before it answers (bench/baselines/soap-server.ts).
//
// BENCH_SOAP_REPORTS: reports per run (default 60,000; tiny 300). The goal "cost per report flat as
// the store grows to 1,000,000 cases" is judged on runs that large (BENCH_SOAP_REPORTS=1000000).

import fs from 'node:fs';
import path from 'node:path';
import { fork, spawn, ChildProcess } from 'node:child_process';
import pg from 'pg';
import YAML from 'yaml';
import { DEMO_CONFIG } from '../../core/kernel/paths';
import { spawnHub, nodeSettings, cpuSeconds, settled, HubProcess } from '../../test/support/hub';
import { BenchContext, Row, Scenario, median, repeat, row, benchDatabase, hubDataDir } from '../harness';
import type { SoapLoadRequest, SoapLoadResult } from '../load/soap-push';

const ID = 'soap';
const CONCURRENCY = 20;
const PUSH_PATH = '/soap/vehicle-office';
const GOALS = { reportsPerSecond: 2000, ofBaseline: 0.8, lastThirdOverFirst: 1.2 };

export const soapScenario: Scenario = {
  id: ID,
  title: `vehicle-office SOAP push, c${CONCURRENCY}, new reports, on PostgreSQL and on the embedded store`,
  run,
};

/** One measured run of a server under the load. */
interface Measured {
  load: SoapLoadResult;
  /** Reports answered FHDM 1 per second, first request to last answer. */
  rate: number;
  /** Server CPU µs per report answered, within the load. */
  cpuUs: number;
  /** Hub only: CPU µs per report until every event was on the bus (outbox empty). */
  cpuToBusUs?: number;
  firstThirdUs: number;
  lastThirdUs: number;
}

async function run(ctx: BenchContext): Promise<Row[]> {
  const reports = Number(process.env.BENCH_SOAP_REPORTS ?? (ctx.tiny ? 300 : 60_000));
  if (!(reports >= 30)) throw new Error(`BENCH_SOAP_REPORTS must be a number ≥ 30, not ${process.env.BENCH_SOAP_REPORTS}`);
  ctx.log(`${reports} reports per run, ${CONCURRENCY} at a time`);

  const bare = await measureBaseline(ctx, reports, null);
  const db = await benchDatabase(ctx.pgAdminUrl, 'soap_baseline');
  let bareStored: Measured[];
  try {
    bareStored = await measureBaseline(ctx, reports, db.url);
  } finally {
    await db.drop();
  }
  const onPg = await measureHub(ctx, reports, 'postgres');
  const embedded = await measureHub(ctx, reports, 'embedded');

  const BARE = 'bare node-soap, constant answer';
  const BARE_PG = 'bare node-soap + one pg INSERT';
  const rows: Row[] = [];
  const figures = (label: string, hub: Measured[], base: Measured[], baseName: string, judged: boolean) => {
    const pick = (runs: Measured[], f: (m: Measured) => number) => runs.map(f);
    rows.push(row(ctx, {
      scenario: ID, figure: `c${CONCURRENCY}, ${label}: reports/s answered and stored`, unit: 'reports/s',
      runs: pick(hub, (m) => m.rate), baseline: { name: baseName, runs: pick(base, (m) => m.rate) },
      ...(judged ? {
        goal: `≥ ${GOALS.reportsPerSecond.toLocaleString('en-US')}/s, ≥ ${GOALS.ofBaseline * 100} % of ${BARE_PG}`,
        judge: (v: number, ratio: number | undefined) => v >= GOALS.reportsPerSecond && (ratio ?? 0) >= GOALS.ofBaseline,
      } : {}),
      details: {
        reportsPerRun: reports,
        refused: hub.map((m) => m.load.refused),
        loadCpuSecondsPerRun: pick(hub, (m) => m.load.loadCpuSeconds),
        connectionsPerRun: pick(hub, (m) => m.load.connections),
        [`of ${BARE}`]: median(pick(hub, (m) => m.rate)) / median(pick(bare, (m) => m.rate)),
        [`of ${BARE_PG}`]: median(pick(hub, (m) => m.rate)) / median(pick(bareStored, (m) => m.rate)),
      },
    }));
    for (const q of ['p50', 'p99'] as const) {
      rows.push(row(ctx, {
        scenario: ID, figure: `c${CONCURRENCY}, ${label}: ${q} latency`, unit: 'ms', higherIsBetter: false,
        runs: pick(hub, (m) => m.load[`${q}Ms`]), baseline: { name: baseName, runs: pick(base, (m) => m.load[`${q}Ms`]) },
      }));
    }
    rows.push(row(ctx, {
      scenario: ID, figure: `c${CONCURRENCY}, ${label}: hub CPU per report`, unit: 'µs', higherIsBetter: false,
      runs: pick(hub, (m) => m.cpuUs), baseline: { name: `${baseName} (its process)`, runs: pick(base, (m) => m.cpuUs) },
      details: { cpuToBusUs: pick(hub, (m) => m.cpuToBusUs ?? NaN) },
    }));
    rows.push(row(ctx, {
      scenario: ID, figure: `c${CONCURRENCY}, ${label}: hub CPU per report, last third of a run`, unit: 'µs', higherIsBetter: false,
      runs: pick(hub, (m) => m.lastThirdUs), baseline: { name: 'first third of the run', runs: pick(hub, (m) => m.firstThirdUs) },
      goal: `flat as the store grows (last third ≤ ${GOALS.lastThirdOverFirst} × first)`,
      judge: (_v: number, ratio: number | undefined) => ratio !== undefined && ratio <= GOALS.lastThirdOverFirst,
      details: { thirds: hub.map((m) => m.load.thirds) },
    }));
  };
  figures('PostgreSQL', onPg, bareStored, BARE_PG, true);
  figures('embedded', embedded, bare, BARE, false);
  return rows;
}

/** The figures of one load run against a server whose process is `pid`. */
function measured(load: SoapLoadResult): Measured {
  const us = (cpu: number, n: number) => (cpu / Math.max(1, n)) * 1e6;
  const [first, , last] = load.thirds;
  return {
    load,
    rate: load.accepted / load.seconds,
    cpuUs: us(load.cpuSeconds, load.accepted),
    firstThirdUs: us(first.cpuSeconds, first.reports),
    lastThirdUs: us(last.cpuSeconds, last.reports),
  };
}

/** Every report must have been answered FHDM 1: the figures would say nothing otherwise. */
function checkAnswers(what: string, load: SoapLoadResult, reports: number): void {
  if (load.accepted === reports) return;
  throw new Error(`${what}: ${load.accepted} of ${reports} reports answered FHDM 1; the others: ${JSON.stringify(load.refused)}; ` +
    `for example: ${Object.entries(load.examples).map(([k, v]) => `${k}: ${v}`).join(' | ')}`);
}

async function measureBaseline(ctx: BenchContext, reports: number, pgUrl: string | null): Promise<Measured[]> {
  const label = pgUrl ? 'bare node-soap + pg' : 'bare node-soap';
  const server = await startBaseline(ctx, pgUrl);
  try {
    return await repeat(ctx, label, async (i) => {
      const load = await forkLoad({ url: server.url, reports, concurrency: CONCURRENCY, tag: i, serverPid: server.proc.pid! });
      checkAnswers(label, load, reports);
      const m = measured(load);
      ctx.log(`${label}: ${m.rate.toFixed(0)} reports/s, p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms, ` +
        `CPU ${m.cpuUs.toFixed(0)} µs/report, over ${load.connections} connections`);
      return m;
    });
  } finally {
    await server.stop();
  }
}

async function measureHub(ctx: BenchContext, reports: number, store: 'postgres' | 'embedded'): Promise<Measured[]> {
  const label = `hub, ${store === 'postgres' ? 'PostgreSQL' : 'embedded store'}`;
  const dataDir = hubDataDir(ctx.workDir, `soap-${store}-`, store);
  const db = store === 'postgres' ? await benchDatabase(ctx.pgAdminUrl, 'soap_hub') : null;
  let hub: HubProcess | null = null;
  try {
    const node = nodeSettings();
    hub = await spawnHub({
      HUB_DATA_DIR: dataDir, HUB_CONFIG: writeHubConfig(dataDir), HUB_STORE: db?.url ?? 'embedded', ...node.env,
    }, [], node.flags);
    const h = hub;
    const pid = h.proc.pid!;
    let stored = 0;
    return await repeat(ctx, label, async (i) => {
      const acceptedBefore = await acceptedReports(h.url);
      const cpu = () => { const c = cpuSeconds(pid); return c.user + c.system; };
      const cpuBefore = cpu();
      const load = await forkLoad({ url: `${h.url}${PUSH_PATH}`, reports, concurrency: CONCURRENCY, tag: i, serverPid: pid });
      if (h.proc.exitCode !== null) throw new Error(`${label}: the hub exited during the load:\n${h.output().slice(-4000)}`);
      checkAnswers(label, load, reports);
      // The supervisor and the subscriptions take each event from the bus after the answer.
      await settled(h.url, 300_000);
      const cpuToBus = cpu() - cpuBefore;
      const accepted = (await acceptedReports(h.url)) - acceptedBefore;
      if (accepted !== load.accepted) throw new Error(`${label}: ${load.accepted} reports answered FHDM 1 but the hub counted ${accepted} accepted (hub_inbound_messages_total)`);
      stored += accepted;
      const m = measured(load);
      m.cpuToBusUs = (cpuToBus / accepted) * 1e6;
      ctx.log(`${label}: ${m.rate.toFixed(0)} reports/s, p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms, ` +
        `CPU ${m.cpuUs.toFixed(0)} µs/report (thirds ${load.thirds.map((t) => ((t.cpuSeconds / t.reports) * 1e6).toFixed(0)).join(', ')}), ` +
        `load CPU ${((load.loadCpuSeconds / reports) * 1e6).toFixed(0)} µs/report over ${load.connections} connections, ${stored} reports stored`);
      return m;
    });
  } finally {
    await hub?.stop('SIGTERM');
    await db?.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Reports the hub has counted accepted from the vehicle office so far. */
async function acceptedReports(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^hub_inbound_messages_total\{adapter="vehicle-office",result="accepted"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** The demo configuration with the vehicle office alone, its poll off: the other departments would only add noise. */
function writeHubConfig(dataDir: string): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  config.adapters = config.adapters
    .filter((a: { id: string }) => a.id === 'vehicle-office')
    .map((a: { dir?: string; id: string }) => ({ ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id), overrides: { transport: { options: { poll: { enabled: false } } } } }));
  const file = path.join(dataDir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}


/** The bare node-soap server in a process of its own, once it listens. */
async function startBaseline(ctx: BenchContext, pgUrl: string | null): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [path.join(__dirname, '..', 'baselines', 'soap-server.js')], {
    env: { ...process.env, ...(pgUrl ? { BASELINE_PG: pgUrl } : {}) }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`the soap baseline server did not listen within 30 s:\n${out}`)); }, 30_000);
    const check = () => {
      const m = /^\{"url":"([^"]+)"\}$/m.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the soap baseline server exited with ${code}:\n${out}`)); });
  });
  ctx.log(`${pgUrl ? 'bare node-soap + pg' : 'bare node-soap'} at ${url}`);
  return {
    url, proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** One load run from a process of its own (bench/load/soap-push.ts). */
function forkLoad(req: SoapLoadRequest): Promise<SoapLoadResult> {
  const child = fork(path.join(__dirname, '..', 'load', 'soap-push.js'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let answered = false;
    child.once('message', (msg: { result?: SoapLoadResult; error?: string }) => {
      answered = true;
      if (msg.result) resolve(msg.result);
      else reject(new Error(`the soap load process failed against ${req.url}: ${msg.error}`));
    });
    child.once('exit', (code) => { if (!answered) reject(new Error(`the soap load process exited with ${code} before answering (${req.url})`)); });
    child.send(req);
  });
}
