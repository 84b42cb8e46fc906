// `make bench`: every scenario of bench/scenarios/ against a freshly started hub, each beside its
// baseline from the same run; prints one table and writes bench/results/latest.json.
//
//   ONLY=rest,soap      the scenarios to run (ids as in the table), all by default
//   BENCH_TINY=1        each scenario once at a tiny size (what `make test` runs): no goal judged
//   BENCH_RUNS=3        measured runs per figure, after a warm-up
//   BENCH_RESULTS=file  where the JSON goes (default bench/results/latest.json; tiny: not there)
//   BENCH_PG=postgres://…  the PostgreSQL server scenarios create their databases on
//   BENCH_DIR=dir       the work folder (generated files are kept there between runs)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../core/kernel/paths';
import { runScenarios, table, writeResults, BenchContext } from './harness';
import { SCENARIOS } from './scenarios';

async function main(): Promise<number> {
  const tiny = process.env.BENCH_TINY === '1';
  const only = (process.env.ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = only.filter((id) => !SCENARIOS.some((s) => s.id === id));
  if (unknown.length) {
    process.stderr.write(`make bench: no scenario ${unknown.join(', ')}; there are ${SCENARIOS.map((s) => s.id).join(', ')}\n`);
    return 2;
  }
  const chosen = only.length ? SCENARIOS.filter((s) => only.includes(s.id)) : SCENARIOS;
  const workDir = process.env.BENCH_DIR ?? path.join(os.tmpdir(), 'hub-bench');
  fs.mkdirSync(workDir, { recursive: true });
  const results = process.env.BENCH_RESULTS ?? (tiny ? path.join(workDir, 'tiny.json') : path.join(ROOT, 'bench', 'results', 'latest.json'));
  const ctx: BenchContext = {
    tiny,
    runs: tiny ? 1 : Number(process.env.BENCH_RUNS ?? 3),
    workDir,
    pgAdminUrl: process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
  };
  const run = await runScenarios(chosen, ctx);
  writeResults(run, results);
  process.stdout.write(`\n${table(run.rows)}\n\n`);
  const failed = run.scenarios.filter((s) => s.error);
  for (const s of failed) process.stdout.write(`scenario ${s.id} failed: ${s.error}\n`);
  process.stdout.write(`${run.rows.length} figures from ${run.scenarios.length - failed.length}/${run.scenarios.length} scenarios; written to ${path.relative(process.cwd(), results)}\n`);
  return failed.length ? 1 : 0;
}

main().then((code) => process.exit(code), (err) => { process.stderr.write(`${(err as Error).stack}\n`); process.exit(1); });
