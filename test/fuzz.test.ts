import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../core/kernel/paths';
import { fuzzTarget, runOnce, targetNames, TargetResult, DEFAULTS, FuzzOptions } from './fuzz/runner';
import { weakenVersionNeeds } from './fuzz/jazzer/elf';

// Every fuzz target of test/fuzz/targets/, for about two seconds each from its committed corpus
// (test/fuzz/README.md): the corpus itself is the regression suite of what fuzzing found, and a
// short run on top of it catches what a change broke nearby. `make fuzz` runs them for a million
// inputs each. Two targets run at once, each in its own worker thread.

const SECONDS = 2;
const work = path.join(ROOT, '.test-data', `fuzz-${process.pid}`);
// A fixed seed, so that a run makes the same inputs in the same order; HUB_FUZZ_SEED changes it.
const seed = Number(process.env.HUB_FUZZ_SEED ?? 20261124);
const options = (target: string, over: Partial<FuzzOptions> = {}): FuzzOptions => ({
  ...DEFAULTS, target, runs: Number.MAX_SAFE_INTEGER, seconds: SECONDS, work, seed, ...over,
});

function explain(r: TargetResult): string {
  const f = r.failure!;
  return `${r.target}: ${f.kind} after ${r.inputs} inputs (seed ${seed}): ${f.message.split('\n').slice(0, 6).join('\n')}\n  input saved as ${f.file}\n  reproduce: ${f.reproduce}`;
}

describe('fuzz targets, each for a few seconds from its corpus', function () {
  this.timeout(120_000);
  const targets = targetNames();
  const results = new Map<string, TargetResult>();

  before(async () => {
    const queue = [...targets];
    await Promise.all([0, 1].map(async () => {
      for (let t = queue.shift(); t !== undefined; t = queue.shift()) results.set(t, await fuzzTarget(options(t)));
    }));
  });

  for (const target of targets) {
    it(`${target}: no crash, hang or memory growth`, () => {
      const r = results.get(target)!;
      if (r.failure) assert.fail(explain(r));
      assert.ok(r.seeds > 0, `${target} has no committed corpus (test/fuzz/corpus/${target}/)`);
      assert.ok(r.inputs > 0, `${target} ran no mutated input in ${SECONDS} s`);
    });
  }
});

describe('fuzz runner: what it catches', function () {
  this.timeout(60_000);
  const bad = (name: string) => path.join(__dirname, 'fuzz', 'bad', `${name}.js`);

  it('a crash: saves the input that throws, and the saved input fails again', async () => {
    const r = await fuzzTarget(options(bad('crash'), { seconds: 10 }));
    assert.equal(r.failure?.kind, 'crash', JSON.stringify(r));
    assert.match(r.failure!.message, /TypeError/);
    assert.ok(fs.readFileSync(r.failure!.file).includes(0x7f));
    assert.match(r.failure!.reproduce, /--reproduce/);
    const again = await runOnce(bad('crash'), fs.readFileSync(r.failure!.file), DEFAULTS);
    assert.equal(again.ok, false);
    assert.match(again.message ?? '', /TypeError/);
  });

  it('a hang: kills the thread after the time limit, and keeps the input that ran too long', async () => {
    const r = await fuzzTarget(options(bad('hang'), { seconds: 20 }));
    assert.equal(r.failure?.kind, 'timeout', JSON.stringify(r));
    assert.match(r.failure!.message, /more than \d+ ms \(limit 1000 ms\)/);
    assert.ok(fs.readFileSync(r.failure!.file).includes(0x48));
  });

  it('memory growth: a heap that keeps growing after collections fails the run', async () => {
    const r = await fuzzTarget(options(bad('leak'), { seconds: 20, growthMb: 16 }));
    assert.equal(r.failure?.kind, 'memory-growth', JSON.stringify(r));
    assert.match(r.failure!.message, /the heap grew from .* past the limit of 16 MB/);
  });

  it('a target that runs clean: no failure, its coverage of the hub reported', async () => {
    const r = await fuzzTarget(options('uscc', { seconds: 1 }));
    assert.ok(!r.failure, JSON.stringify(r.failure));
    assert.ok(r.coverage && r.coverage.lines.covered > 0 && r.coverage.byFile.some((f) => f.file.endsWith('/core/identifiers/uscc.js')), JSON.stringify(r.coverage));
  });
});

describe('Jazzer.js on glibc 2.36: the versions the compatibility shim stands in for', () => {
  it('are marked weak in a copy of the packaged addon, and nothing else is changed', () => {
    const addon = path.join(path.dirname(require.resolve('@jazzer.js/fuzzer/package.json')), 'prebuilds', 'fuzzer-linux-x64.node');
    const packaged = fs.readFileSync(addon);
    const copy = Buffer.from(packaged);
    const weakened = weakenVersionNeeds(copy, ['GLIBC_2.38', 'GLIBCXX_3.4.32', 'GLIBC_9.99']);
    assert.deepEqual(weakened.sort(), ['GLIBCXX_3.4.32', 'GLIBC_2.38']);
    let changed = 0;
    for (let i = 0; i < copy.length; i++) if (copy[i] !== packaged[i]) changed++;
    assert.equal(changed, 2, 'one flag byte per version');
    assert.deepEqual(weakenVersionNeeds(Buffer.from(copy), ['GLIBC_2.38']), ['GLIBC_2.38'], 'marking it again changes nothing more');
  });
});
