// Runs the fuzz targets under Jazzer.js (libFuzzer, with Jazzer.js's instrumentation of the hub's
// code for coverage and comparisons), one process per target, with the same corpus, dictionary,
// time limit per input and memory limit as the runner of test/fuzz/runner.ts.
//
//   node dist/test/fuzz/jazzer/run.js <target>… [options]        (make fuzz FUZZ_ENGINE=jazzer)
//
// <target> is a file name under test/fuzz/targets/ or `all`. Options:
//   --runs N        inputs per target (default 1000000)
//   --seconds S     at most S seconds per target (default: no limit)
//   --work DIR      new corpus entries, failing inputs and the log go to DIR/jazzer/<target>/ (default data/fuzz)
//   --timeout-ms N  an input running longer is a hang (default 1000)
//   --rss-mb N      the process's resident memory that fails the run (default 2048)
//   --report FILE   writes the results as JSON

import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ROOT } from '../../../core/kernel/paths';
import { targetNames, slowAlone, DEFAULTS } from '../runner';
import { jazzerRuntime, JazzerRuntime } from './compat';

export interface JazzerResult {
  target: string;
  /** libFuzzer's executed units, over every session. */
  inputs: number;
  seconds: number;
  /** Entries of the corpus at the end (seeds included), and libFuzzer's coverage counters. */
  corpus: number | null;
  cov: number | null;
  features: number | null;
  peakRssMb: number | null;
  failure?: { kind: string; file: string | null; reproduce: string | null; log: string };
  /** Inputs libFuzzer timed out that ran within the limit when run again alone. */
  notes: string[];
}

interface Options { runs: number; seconds: number; work: string; timeoutMs: number; rssMb: number }

const TARGETS = path.join(__dirname, '..', 'targets');
const SOURCE = path.join(ROOT, 'test', 'fuzz');

/** Whether a compiled target's fuzz function is async (Jazzer.js runs the others in its faster synchronous mode). */
function isAsync(file: string): boolean {
  return /\basync function fuzz\(/.test(fs.readFileSync(file, 'utf8'));
}

/**
 * Fuzzes one target. libFuzzer times an input by the clock, so on a busy machine (this runs niced)
 * an input can pass the limit without being slow: an input it times out is run again alone by the
 * runner's watchdog, and if it finishes in time the run goes on in a new session, from the corpus
 * so far, for the inputs that are left.
 */
async function runTarget(target: string, o: Options, runtime: JazzerRuntime): Promise<JazzerResult> {
  const total: JazzerResult = { target, inputs: 0, seconds: 0, corpus: null, cov: null, features: null, peakRssMb: null, notes: [] };
  for (let session = 1; ; session++) {
    const left = { ...o, runs: o.runs - total.inputs, seconds: o.seconds > 0 ? Math.max(1, Math.round(o.seconds - total.seconds)) : 0 };
    const r = await runSession(target, left, runtime, session);
    total.inputs += r.inputs;
    total.seconds += r.seconds;
    [total.corpus, total.cov, total.features] = [r.corpus, r.cov, r.features];
    total.peakRssMb = Math.max(total.peakRssMb ?? 0, r.peakRssMb ?? 0) || null;
    if (r.failure?.kind === 'timeout' && r.failure.file) {
      const again = await slowAlone(target, fs.readFileSync(r.failure.file), { timeoutMs: o.timeoutMs, heapMb: DEFAULTS.heapMb });
      if (again !== null && total.inputs < o.runs && (o.seconds === 0 || total.seconds < o.seconds)) {
        total.notes.push(`libFuzzer timed out ${path.basename(r.failure.file)} (session ${session}); alone it ran within ${o.timeoutMs} ms (${again})`);
        process.stderr.write(`${target}: ${total.notes[total.notes.length - 1]}: going on\n`);
        continue;
      }
    }
    if (r.failure) total.failure = r.failure;
    return total;
  }
}

async function runSession(target: string, o: Options, runtime: JazzerRuntime, session: number): Promise<Omit<JazzerResult, 'notes'>> {
  const file = path.join(TARGETS, `${target}.js`);
  const dir = path.join(o.work, 'jazzer', target);
  const corpus = path.join(dir, 'corpus');
  fs.mkdirSync(corpus, { recursive: true });
  const logFile = path.join(dir, session === 1 ? 'fuzz.log' : `fuzz-${session}.log`);
  const log = fs.createWriteStream(logFile);
  const cli = path.join(path.dirname(require.resolve('@jazzer.js/core/package.json')), 'dist', 'cli.js');
  // New entries go to the first corpus folder, the work folder: the committed seeds stay as they are.
  const args = [
    ...runtime.nodeArgs, cli, file, corpus, path.join(SOURCE, 'corpus', target),
    ...(isAsync(file) ? [] : ['--sync']), `--timeout=${o.timeoutMs}`, '--',
    // Inputs as long as the runner's (libFuzzer's default is 4096 bytes): deep nesting needs some 10 kB.
    `-runs=${o.runs}`, ...(o.seconds > 0 ? [`-max_total_time=${o.seconds}`] : []), `-rss_limit_mb=${o.rssMb}`, `-max_len=${DEFAULTS.maxLen}`,
    `-dict=${path.join(SOURCE, 'dictionaries', `${target}.dict`)}`, `-artifact_prefix=${dir}${path.sep}`, '-print_final_stats=1',
  ];
  const started = Date.now();
  const result: Omit<JazzerResult, 'notes'> = { target, inputs: 0, seconds: 0, corpus: null, cov: null, features: null, peakRssMb: null };
  let artifact: string | null = null;
  let lastStatus = '';
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...runtime.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const onData = (chunk: Buffer) => {
      log.write(chunk);
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        const status = /^#(\d+)\s+\S+\s+cov: (\d+) ft: (\d+) corp: (\d+)\//.exec(line);
        if (status) {
          [result.inputs, result.cov, result.features, result.corpus] = status.slice(1, 5).map(Number);
          if (Date.now() - Number(lastStatus || 0) > 30_000) {
            process.stderr.write(`${target}: ${line.trim()}\n`);
            lastStatus = String(Date.now());
          }
        }
        const units = /^stat::number_of_executed_units:\s+(\d+)/.exec(line);
        if (units) result.inputs = Number(units[1]);
        const rss = /^stat::peak_rss_mb:\s+(\d+)/.exec(line);
        if (rss) result.peakRssMb = Number(rss[1]);
        const written = /Test unit written to (\S+)/.exec(line);
        if (written) artifact = path.resolve(ROOT, written[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (c) => resolve(c ?? 1));
  });
  log.end();
  result.seconds = (Date.now() - started) / 1000;
  if (code !== 0) {
    const name = artifact ? path.basename(artifact) : '';
    result.failure = {
      kind: /^(crash|timeout|oom|leak|slow-unit)-/.exec(name)?.[1] ?? `exit code ${code}`,
      file: artifact,
      reproduce: artifact ? `node dist/test/fuzz/runner.js ${target} --reproduce ${path.relative(ROOT, artifact)}` : null,
      log: logFile,
    };
  }
  return result;
}

async function main(argv: string[]): Promise<number> {
  const o: Options = { runs: 1_000_000, seconds: 0, work: path.join(ROOT, 'data', 'fuzz'), timeoutMs: 1000, rssMb: 2048 };
  const targets: string[] = [];
  let report: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--runs': o.runs = Number(value()); break;
      case '--seconds': o.seconds = Number(value()); break;
      case '--work': o.work = path.resolve(value()); break;
      case '--timeout-ms': o.timeoutMs = Number(value()); break;
      case '--rss-mb': o.rssMb = Number(value()); break;
      case '--report': report = value(); break;
      default:
        if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
        targets.push(...(a === 'all' ? targetNames() : [a]));
    }
  }
  if (!targets.length) throw new Error(`name a target (${targetNames().join(', ')}) or all`);
  const runtime = jazzerRuntime();
  process.stderr.write(`Jazzer.js: ${runtime.how}\n`);
  const results: JazzerResult[] = [];
  for (const t of targets) {
    const r = await runTarget(t, o, runtime);
    results.push(r);
    process.stderr.write(`${t}: ${r.inputs} inputs in ${r.seconds.toFixed(0)} s, ${r.failure ? `${r.failure.kind}: ${r.failure.file ?? `see ${r.failure.log}`}${r.failure.reproduce ? `\n  reproduce: ${r.failure.reproduce}` : ''}` : 'no failure'}\n`);
  }
  const rows = results.map((r) => `| ${r.target} | ${r.inputs.toLocaleString('en')} | ${r.seconds.toFixed(0)} s | ${r.corpus ?? '-'} | ${r.cov ?? '-'} / ${r.features ?? '-'} | ${r.peakRssMb ?? '-'} MB | ${r.failure ? `**${r.failure.kind}**` : 'none'} |`);
  process.stdout.write(['| target | inputs | time | corpus | cov / ft (libFuzzer) | peak RSS | failure |', '|---|---|---|---|---|---|---|', ...rows].join('\n') + '\n');
  if (report) fs.writeFileSync(report, JSON.stringify(results, null, 2));
  return results.some((r) => r.failure) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`fuzz (Jazzer.js): ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
}
