// The bench's frame: scenarios, each run a few times after a warm-up, their figures set beside a
// baseline measured in the same run, one table printed and one JSON file written.
//
// A scenario measures the hub and its baseline itself (each in processes of their own, the load
// from another process) and returns rows: one figure each, with the runs it is the median of.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyStore } from '../test/support/hub';
import { withAdmin, databaseUrl } from '../test/support/servers';

/**
 * A new data folder under `parent` for a hub of the bench on `store` (HUB_STORE's value). On the
 * embedded store it holds a copy of
 * BENCH_STORE_TEMPLATE's store when that names a folder with one (an empty store migrated by this
 * build: `make test`'s tiny run passes its own, so that each hub does not make one first); otherwise
 * the hub makes its store as `make run` does. Nothing a figure measures runs before the hub is up.
 */
export function hubDataDir(parent: string, prefix: string, store: string): string {
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  const template = process.env.BENCH_STORE_TEMPLATE;
  if (store === 'embedded' && template) copyStore(template, dir);
  return dir;
}

/** What every scenario is given. */
export interface BenchContext {
  /** `make test`'s run: each scenario once, at a size that takes seconds; no goal is judged. */
  tiny: boolean;
  /** Measured runs per figure (3, or 1 when tiny); a warm-up run comes before them unless tiny. */
  runs: number;
  /** A folder of this bench run's own, for data dirs, generated files and logs. */
  workDir: string;
  /** A PostgreSQL server the scenario may create databases on (BENCH_PG, default the local one). */
  pgAdminUrl: string;
  log(line: string): void;
}

export interface Baseline {
  /** What the baseline is, e.g. "bare node:http + pg". */
  name: string;
  /** Its median over the runs, in the row's unit. */
  value: number;
  runs: number[];
}

export type Verdict = 'met' | 'missed' | 'not judged';

/** One figure of the table. */
export interface Row {
  /** The scenario's id (what ONLY= names), e.g. "rest". */
  scenario: string;
  /** What was measured, e.g. "batches of 100, c8, PostgreSQL: events/s stored". */
  figure: string;
  unit: string;
  /** The median of `runs`. */
  value: number;
  runs: number[];
  /** Whether a higher value is the better one (events/s) or a lower one (ms, µs, MB). */
  higherIsBetter: boolean;
  baseline?: Baseline;
  /** value / baseline.value. */
  ratio?: number;
  /** The goal in words, e.g. "≥ 80 % of baseline, ≥ 22,195/s, ≤ 30 µs CPU/event". */
  goal?: string;
  verdict: Verdict;
  /** Anything else worth keeping in the JSON (CPU per event, p50/p99, RSS, errors…). */
  details?: Record<string, unknown>;
}

export interface Scenario {
  /** Short id for ONLY=, e.g. "rest", "soap", "file", "latency", "reads", "cluster". */
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The spread of the runs around their median, as a fraction of it ((max - min) / median). */
export function spread(values: number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return m ? (Math.max(...values) - Math.min(...values)) / Math.abs(m) : 0;
}

export function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] : NaN;
}

/**
 * Runs `once` for a warm-up (unless tiny), then ctx.runs times. A scenario that compares the hub
 * with its baseline runs both inside one `once`, so that they alternate from run to run.
 */
export async function repeat<T>(ctx: BenchContext, label: string, once: (run: number) => Promise<T>): Promise<T[]> {
  if (!ctx.tiny) {
    ctx.log(`${label}: warm-up`);
    await once(0);
  }
  const out: T[] = [];
  for (let i = 1; i <= ctx.runs; i++) {
    ctx.log(`${label}: run ${i}/${ctx.runs}`);
    out.push(await once(i));
  }
  return out;
}

/**
 * A row from its runs: the median, the baseline's median and the ratio. `judge` decides the verdict
 * from the figures (it is not asked in a tiny run, whose sizes say nothing of the goal).
 */
export function row(ctx: BenchContext, r: {
  scenario: string; figure: string; unit: string; runs: number[]; higherIsBetter?: boolean;
  baseline?: { name: string; runs: number[] }; goal?: string;
  judge?: (value: number, ratio: number | undefined) => boolean; details?: Record<string, unknown>;
}): Row {
  const value = median(r.runs);
  const baseline = r.baseline ? { name: r.baseline.name, runs: r.baseline.runs, value: median(r.baseline.runs) } : undefined;
  const ratio = baseline && baseline.value ? value / baseline.value : undefined;
  const verdict: Verdict = ctx.tiny || !r.judge ? 'not judged' : r.judge(value, ratio) ? 'met' : 'missed';
  return { scenario: r.scenario, figure: r.figure, unit: r.unit, value, runs: r.runs, higherIsBetter: r.higherIsBetter ?? true, baseline, ratio, goal: r.goal, verdict, details: r.details };
}

const fmt = (v: number): string => {
  if (!Number.isFinite(v)) return String(v);
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
};

/** The table, as text: scenario, figure, baseline, ratio, goal, verdict. */
export function table(rows: Row[]): string {
  const head = ['scenario', 'figure', 'value (median, spread)', 'baseline', 'ratio', 'goal', 'verdict'];
  const cells = rows.map((r) => [
    r.scenario,
    r.figure,
    `${fmt(r.value)} ${r.unit}${r.runs.length > 1 ? ` (±${(spread(r.runs) * 50).toFixed(0)} %)` : ''}`,
    r.baseline ? `${fmt(r.baseline.value)} ${r.unit} (${r.baseline.name})` : '—',
    r.ratio !== undefined ? `${(r.ratio * 100).toFixed(0)} %` : '—',
    r.goal ?? '—',
    r.verdict,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export interface BenchRun {
  started: string;
  finished: string;
  tiny: boolean;
  runs: number;
  machine: { cpus: number; model: string; memoryGb: number; node: string; platform: string };
  scenarios: { id: string; title: string; seconds: number; error?: string }[];
  rows: Row[];
}

export function machine(): BenchRun['machine'] {
  const cpus = os.cpus();
  return { cpus: cpus.length, model: cpus[0]?.model ?? '?', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
}

/** Runs the scenarios in order; one that throws is recorded with its error and the rest go on. */
export async function runScenarios(scenarios: Scenario[], ctx: BenchContext): Promise<BenchRun> {
  const run: BenchRun = { started: new Date().toISOString(), finished: '', tiny: ctx.tiny, runs: ctx.runs, machine: machine(), scenarios: [], rows: [] };
  for (const s of scenarios) {
    const t = Date.now();
    ctx.log(`── ${s.id}: ${s.title}`);
    try {
      const rows = await s.run({ ...ctx, log: (l) => ctx.log(`[${s.id}] ${l}`) });
      run.rows.push(...rows);
      run.scenarios.push({ id: s.id, title: s.title, seconds: (Date.now() - t) / 1000 });
    } catch (err) {
      const e = err as Error;
      ctx.log(`[${s.id}] failed: ${e.stack ?? e.message}`);
      run.scenarios.push({ id: s.id, title: s.title, seconds: (Date.now() - t) / 1000, error: e.message });
    }
  }
  run.finished = new Date().toISOString();
  return run;
}

export function writeResults(run: BenchRun, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(`${file}.part`, JSON.stringify(run, null, 2) + '\n');
  fs.renameSync(`${file}.part`, file);
}

/** A database of its own on the bench's PostgreSQL server (BENCH_PG), dropped by drop(). */
export async function benchDatabase(adminUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `hub_bench_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = (sql: string) => withAdmin(adminUrl, async (c) => { await c.query(sql); }).catch((err: Error) => {
    throw new Error(`${sql} on ${adminUrl.replace(/\/\/[^@]*@/, '//')} (BENCH_PG): ${err.message}`);
  });
  await admin(`CREATE DATABASE ${name}`);
  return { url: databaseUrl(adminUrl, name), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
