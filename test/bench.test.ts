// `make bench` works: every scenario once at a tiny size (BENCH_TINY=1), in the bench's own process
// as `make bench` starts it. No figure is judged here: speed belongs to `make bench` itself.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../core/kernel/paths';
import { testDataDir, STORE_TEMPLATE } from './support/hub';
import { storeExists } from '../services/store/pglite-driver';
import { POSTGRES_ADMIN_URL, requirePostgres, requireNats, requireRedis } from './support/servers';
import { SCENARIOS } from '../bench/scenarios';
import type { BenchRun } from '../bench/harness';

// The scenarios whose figures the issue sets beside a baseline measured in the same run.
const WITH_BASELINE = ['rest', 'soap', 'file', 'cluster'];

function bench(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'bench', 'run.js')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('make bench, each scenario once at a tiny size', function () {
  this.timeout(600_000);
  let dir: string;
  let results: string;
  let run: BenchRun;
  let out: { code: number | null; stdout: string; stderr: string };

  before(async () => {
    await requirePostgres();
    await requireNats();
    await requireRedis();
    dir = testDataDir('bench', { store: 'none' });
    results = path.join(dir, 'latest.json');
    // The embedded hubs start on copies of the suite's store template, when it was made (scripts/test.sh).
    const template = path.join(STORE_TEMPLATE, 'store');
    out = await bench({ BENCH_TINY: '1', BENCH_DIR: dir, BENCH_RESULTS: results, BENCH_PG: POSTGRES_ADMIN_URL, ONLY: '', ...(storeExists(template) ? { BENCH_STORE_TEMPLATE: template } : {}) });
  });

  it('runs every scenario to its end, prints the table and writes the JSON', () => {
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr.slice(-4000)}`);
    assert.ok(SCENARIOS.length >= 6, `the scenarios of the bench: ${SCENARIOS.map((s) => s.id).join(', ')}`);
    run = JSON.parse(fs.readFileSync(results, 'utf8'));
    assert.equal(run.tiny, true);
    assert.deepEqual(run.scenarios.map((s) => s.id), SCENARIOS.map((s) => s.id));
    assert.deepEqual(run.scenarios.filter((s) => s.error), []);
    assert.match(out.stdout, /^\| scenario +\| figure +\| value \(median, spread\) +\| baseline +\| ratio +\| goal +\| verdict +\|$/m);
    for (const r of run.rows) assert.ok(out.stdout.includes(`| ${r.scenario}`) && out.stdout.includes(r.figure), `the table shows ${r.scenario}: ${r.figure}`);
  });

  it('gives each scenario figures that were measured, and a baseline from the same run where one is due', () => {
    assert.ok(run, 'the bench ran');
    for (const s of SCENARIOS) {
      const rows = run.rows.filter((r) => r.scenario === s.id);
      assert.ok(rows.length > 0, `${s.id} has figures`);
      for (const r of rows) {
        assert.ok(Number.isFinite(r.value) && r.value > 0, `${s.id}: ${r.figure} = ${r.value}`);
        assert.equal(r.runs.length, 1, `${s.id}: ${r.figure} is one run`);
        assert.equal(r.verdict, 'not judged', `${s.id}: ${r.figure}: a tiny run judges no goal`);
        if (r.baseline) {
          assert.ok(Number.isFinite(r.baseline.value) && r.baseline.value > 0, `${s.id}: ${r.figure}: baseline ${r.baseline.name} = ${r.baseline.value}`);
          assert.ok(r.ratio !== undefined && Math.abs(r.ratio - r.value / r.baseline.value) < 1e-9);
        }
      }
      if (WITH_BASELINE.includes(s.id)) assert.ok(rows.some((r) => r.baseline), `${s.id} has a baseline beside its figures`);
      assert.ok(rows.some((r) => r.goal), `${s.id} names its goal`);
    }
  });

  it('ONLY= refuses a scenario that does not exist, naming those that do', async () => {
    const bad = await bench({ BENCH_TINY: '1', BENCH_DIR: dir, BENCH_RESULTS: path.join(dir, 'bad.json'), ONLY: 'no-such' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, new RegExp(`no scenario no-such; there are ${SCENARIOS.map((s) => s.id).join(', ')}`));
    assert.ok(!fs.existsSync(path.join(dir, 'bad.json')));
  });
});
