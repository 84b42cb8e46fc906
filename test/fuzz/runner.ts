// The fuzzing runner: each target runs in a worker thread, seeded from its corpus, fed inputs
// mutated from it, with V8 block coverage deciding which inputs join the corpus. The main thread
// is the watchdog: an input that runs longer than the timeout is a hang (the worker is killed and
// the input kept), a thread that runs out of its heap limit or whose heap grows past the growth
// limit is a failure too. Every failing input is saved with the command that reproduces it.
//
//   node dist/test/fuzz/runner.js <target>… [options]      (make fuzz runs every target)
//
// <target> is a file name under test/fuzz/targets/ (webhook, soap-envelope…), `all`, or the path
// of a compiled target module. Options:
//   --runs N          mutated inputs per target (default 1000000; 0: the corpus only)
//   --seconds S       at most S seconds per target (default: no limit)
//   --corpus DIR      seed corpus folder of the target (default test/fuzz/corpus/<target>)
//   --work DIR        new corpus entries and failures go to DIR/<target>/ (default data/fuzz)
//   --timeout-ms N    an input running longer is a hang (default 1000)
//   --growth-mb N     heap growth after a collection that fails the run (default 64)
//   --heap-mb N       the worker's heap limit; reaching it fails the run (default 1024)
//   --max-len N       longest mutated input in bytes (default 16384)
//   --seed N          seed of the mutations (default: the clock)
//   --jobs N          targets fuzzed at once (default 1)
//   --no-feedback     no coverage feedback (mutations of the seeds only; coverage still reported)
//   --report FILE     writes the results as JSON
//   --reproduce FILE  runs the target once on FILE (with the watchdog); exits 1 if it fails
//   --minimise FILE   shrinks a failing input while it fails the same way; writes FILE.min

import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { ROOT } from '../../core/kernel/paths';
import type { CoverageSummary } from './engine/coverage';
import { readDictionary } from './engine/dictionary';
import { CONTROL_BYTES, FromWorker, WorkerSetup } from './engine/worker';
import { removeScratch } from './engine/scratch';

export type FailureKind = 'crash' | 'unhandled-rejection' | 'memory-growth' | 'timeout' | 'out-of-memory' | 'worker-exit' | 'setup';

export interface Failure {
  kind: FailureKind;
  message: string;
  input: Buffer;
  /** Where the input was saved, and the command that runs it again. */
  file: string;
  reproduce: string;
}

export interface TargetResult {
  target: string;
  /** Mutated inputs run (seeds and the re-runs that find which input reached new code not counted). */
  inputs: number;
  seconds: number;
  seeds: number;
  /** Inputs that reached new code and joined the corpus in this run. */
  newEntries: number;
  coverage: CoverageSummary | null;
  failure?: Failure;
  /** Inputs that ran past the timeout once but not when run again alone (a busy machine). */
  notes: string[];
}

export interface FuzzOptions {
  target: string;
  runs: number;
  seconds: number;
  corpus?: string;
  work: string;
  timeoutMs: number;
  growthMb: number;
  heapMb: number;
  maxLen: number;
  seed: number;
  feedback: boolean;
  log?: (line: string) => void;
}

export const DEFAULTS = { runs: 1_000_000, seconds: 0, work: path.join(ROOT, 'data', 'fuzz'), timeoutMs: 1000, growthMb: 64, heapMb: 1024, maxLen: 16384, feedback: true };

const TARGETS = path.join(__dirname, 'targets');
const SOURCE = path.join(ROOT, 'test', 'fuzz');

/** Every target of test/fuzz/targets/. */
export function targetNames(): string[] {
  return fs.readdirSync(TARGETS).filter((f) => f.endsWith('.js')).map((f) => f.slice(0, -3)).sort();
}

function targetFile(target: string): string {
  return /^[a-z0-9-]+$/.test(target) ? path.join(TARGETS, `${target}.js`) : path.resolve(target);
}

function targetName(target: string): string {
  return path.basename(target).replace(/\.[jt]s$/, '');
}

function readCorpus(dir: string): Buffer[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).sort().filter((f) => !f.startsWith('.') && !f.endsWith('.md')).map((f) => fs.readFileSync(path.join(dir, f)));
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

/** A worker running a target, with the watchdog over its inputs. */
class Session {
  readonly worker: Worker;
  private readonly control: Int32Array;
  private readonly area: Uint8Array;
  private readonly watchdog: NodeJS.Timeout;
  private seen = { iteration: -1, since: 0 };
  onHang: (input: Buffer, ms: number) => void = () => undefined;

  constructor(setup: Omit<WorkerSetup, 'shared'>, heapMb: number, timeoutMs: number, capacity: number) {
    const shared = new SharedArrayBuffer(CONTROL_BYTES + capacity);
    this.control = new Int32Array(shared, 0, 4);
    this.area = new Uint8Array(shared, CONTROL_BYTES);
    this.worker = new Worker(path.join(__dirname, 'engine', 'worker.js'), {
      workerData: { ...setup, shared },
      // The stack of the hub's main thread (V8's default, about 1 MB), not a worker's 4 MB: an input
      // nested deep enough to exhaust the hub's stack must exhaust the target's.
      resourceLimits: { maxOldGenerationSizeMb: heapMb, stackSizeMb: 1 },
      stdout: false,
    });
    // An input is timed from the first look that finds it running: what is reported ran at least that long.
    this.watchdog = setInterval(() => {
      const now = Date.now();
      const iteration = Atomics.load(this.control, 1);
      if (Atomics.load(this.control, 0) !== 1 || iteration !== this.seen.iteration) {
        this.seen = { iteration, since: now };
        return;
      }
      if (now - this.seen.since > timeoutMs) {
        clearInterval(this.watchdog);
        this.onHang(this.current(), now - this.seen.since);
      }
    }, Math.max(10, Math.min(100, timeoutMs / 10)));
  }

  /** The input the worker is running (or ran last). */
  current(): Buffer {
    const n = Math.min(Atomics.load(this.control, 2), this.area.length);
    return Buffer.from(this.area.subarray(0, n));
  }

  async stop(): Promise<void> {
    clearInterval(this.watchdog);
    const thread = this.worker.threadId;
    await this.worker.terminate();
    removeScratch(process.pid, thread);
  }
}

type SessionEnd =
  | { done: Extract<FromWorker, { type: 'done' }> }
  | { failure: { kind: FailureKind; message: string; input: Buffer }; inputs: number };

function runSession(o: FuzzOptions, seeds: Buffer[], runs: number, seconds: number, onEntry: (b: Buffer) => void): Promise<SessionEnd> {
  const capacity = Math.max(o.maxLen, ...seeds.map((s) => s.length));
  const dict = /^[a-z0-9-]+$/.test(o.target) ? path.join(SOURCE, 'dictionaries', `${o.target}.dict`) : targetFile(o.target).replace(/\.js$/, '.dict');
  const session = new Session({
    targetFile: targetFile(o.target), mode: 'fuzz', seeds, tokens: readDictionary(dict), runs, seconds,
    maxLen: o.maxLen, seed: o.seed, feedback: o.feedback, coverage: true, growthMb: o.growthMb,
  }, o.heapMb, o.timeoutMs, capacity);
  let inputs = 0;
  let logged = 0;
  return new Promise((resolve) => {
    let settled = false;
    const end = (r: SessionEnd) => {
      if (settled) return;
      settled = true;
      void session.stop().then(() => resolve(r));
    };
    session.onHang = (input, ms) => end({ failure: { kind: 'timeout', message: `an input ran for more than ${ms} ms (limit ${o.timeoutMs} ms)`, input }, inputs });
    session.worker.on('message', (m: FromWorker) => {
      if (m.type === 'stats') {
        inputs = m.inputs;
        if (Date.now() - logged >= 30_000) {
          logged = Date.now();
          o.log?.(`${targetName(o.target)}: ${m.inputs} inputs, corpus ${m.corpus}, heap ${m.heapMb.toFixed(1)} MB`);
        }
      } else if (m.type === 'entry') onEntry(Buffer.from(m.input));
      else if (m.type === 'failure') end({ failure: { kind: m.kind, message: m.message, input: Buffer.from(m.input) }, inputs });
      else if (m.type === 'done') end({ done: m });
    });
    session.worker.on('error', (err: Error & { code?: string }) => {
      const oom = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      end({ failure: { kind: oom ? 'out-of-memory' : 'crash', message: oom ? `the target's thread reached its heap limit of ${o.heapMb} MB` : `uncaught in the target's thread: ${err.stack ?? err.message}`, input: session.current() }, inputs });
    });
    session.worker.on('exit', (code) => end({ failure: { kind: 'worker-exit', message: `the target's thread exited with code ${code}`, input: session.current() }, inputs }));
  });
}

/** Runs a target on one input in a fresh worker, with the watchdog. */
export async function runOnce(target: string, input: Buffer, o: Pick<FuzzOptions, 'timeoutMs' | 'heapMb'>): Promise<{ ok: boolean; kind?: FailureKind; message?: string; ms: number }> {
  const session = new Session({
    targetFile: targetFile(target), mode: 'serve', seeds: [], tokens: [], runs: 0, seconds: 0, maxLen: input.length, seed: 0, feedback: false, coverage: false, growthMb: 0,
  }, o.heapMb, o.timeoutMs, Math.max(1, input.length));
  const started = Date.now();
  const r = await new Promise<{ ok: boolean; kind?: FailureKind; message?: string }>((resolve) => {
    session.onHang = (_input, ms) => resolve({ ok: false, kind: 'timeout', message: `ran for more than ${ms} ms (limit ${o.timeoutMs} ms)` });
    session.worker.on('message', (m: FromWorker) => {
      if (m.type === 'ready') { session.worker.postMessage({ input }); return; }
      if (m.type === 'result') resolve(m.ok ? { ok: true } : { ok: false, kind: 'crash', message: m.message });
      if (m.type === 'failure') resolve({ ok: false, kind: m.kind, message: m.message });
    });
    session.worker.on('error', (err: Error & { code?: string }) => resolve({ ok: false, kind: err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out-of-memory' : 'crash', message: err.stack ?? err.message }));
  });
  const ms = Date.now() - started;
  await session.stop();
  return { ...r, ms };
}

/**
 * An input that ran past the time limit, timed again alone, up to three times: a machine busy with
 * other work (fuzzing runs niced) can hold any input past the limit once. Null when it ran past
 * the limit every time (a hang); else how it ran.
 */
export async function slowAlone(target: string, input: Buffer, o: Pick<FuzzOptions, 'timeoutMs' | 'heapMb'>): Promise<string | null> {
  const tries: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runOnce(target, input, o);
    if (r.ok) return [...tries, `passed in ${r.ms} ms, its thread's start included`].join(', ');
    if (r.kind !== 'timeout') return null;
    tries.push('timed out');
  }
  return null;
}

function saveFailure(o: FuzzOptions, f: { kind: FailureKind; message: string; input: Buffer }): Failure {
  const dir = path.join(o.work, targetName(o.target), 'crashes');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${f.kind}-${sha1(f.input).slice(0, 16)}`);
  fs.writeFileSync(file, f.input);
  const runner = path.relative(process.cwd(), __filename) || __filename;
  const reproduce = `node ${runner} ${o.target} --reproduce ${path.relative(process.cwd(), file)}`;
  fs.writeFileSync(`${file}.txt`, `${f.kind}: ${f.message}\n\nreproduce: ${reproduce}\n`);
  return { ...f, file, reproduce };
}

/** Fuzzes one target: its corpus, then mutations, until the runs or seconds are used up or an input fails. */
export async function fuzzTarget(o: FuzzOptions): Promise<TargetResult> {
  const name = targetName(o.target);
  const corpusDir = o.corpus ?? path.join(SOURCE, 'corpus', name);
  const workCorpus = path.join(o.work, name, 'corpus');
  const seeds = [...readCorpus(corpusDir), ...readCorpus(workCorpus)];
  const result: TargetResult = { target: name, inputs: 0, seconds: 0, seeds: seeds.length, newEntries: 0, coverage: null, notes: [] };
  const found: Buffer[] = [];
  const onEntry = (b: Buffer) => {
    found.push(b);
    fs.mkdirSync(workCorpus, { recursive: true });
    fs.writeFileSync(path.join(workCorpus, sha1(b)), b);
  };
  const started = Date.now();
  for (let session = 0; ; session++) {
    const left = o.seconds > 0 ? Math.max(0.001, o.seconds - (Date.now() - started) / 1000) : 0;
    // Another seed for each session after the first, so that one does not make the same inputs again.
    const end = await runSession({ ...o, seed: o.seed + session }, [...seeds, ...found], o.runs - result.inputs, left, onEntry);
    result.newEntries = found.length;
    if ('done' in end) {
      result.inputs += end.done.inputs;
      result.coverage = end.done.coverage;
      break;
    }
    result.inputs += end.inputs;
    const f = end.failure;
    if (f.kind === 'timeout') {
      const again = await slowAlone(o.target, f.input, o);
      if (again !== null) {
        result.notes.push(`an input ran past ${o.timeoutMs} ms once and within it alone (${again}; sha1 ${sha1(f.input)})`);
        continue;
      }
    }
    result.failure = saveFailure(o, f);
    break;
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}

/** Shrinks a failing input while it fails the same way (same kind, same first line). */
export async function minimise(target: string, input: Buffer, o: Pick<FuzzOptions, 'timeoutMs' | 'heapMb'>, log: (s: string) => void = () => undefined): Promise<Buffer> {
  const signature = (r: { kind?: FailureKind; message?: string }) => `${r.kind}:${(r.message ?? '').split('\n')[0].replace(/\d+/g, 'N').slice(0, 120)}`;
  const first = await runOnce(target, input, o);
  if (first.ok) throw new Error('the input does not fail');
  const want = signature(first);
  let best = input;
  for (let size = best.length >> 1; size >= 1; size >>= 1) {
    for (let at = 0; at + size <= best.length;) {
      const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + size)]);
      const r = await runOnce(target, candidate, o);
      if (!r.ok && signature(r) === want) {
        best = candidate;
        log(`${best.length} bytes`);
      } else at += size;
    }
  }
  return best;
}

function table(results: TargetResult[]): string {
  const pct = (c: { covered: number; total: number } | undefined) => (c && c.total ? `${c.covered}/${c.total} (${((100 * c.covered) / c.total).toFixed(1)} %)` : '-');
  const rows = results.map((r) => `| ${r.target} | ${r.inputs.toLocaleString('en')} | ${r.seconds.toFixed(0)} s | ${r.seeds} + ${r.newEntries} | ${pct(r.coverage?.lines)} | ${pct(r.coverage?.functions)} | ${r.failure ? `**${r.failure.kind}**` : 'none'} |`);
  return ['| target | inputs | time | corpus (seeds + new) | hub lines | hub functions | failure |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const o: Omit<FuzzOptions, 'target'> = { ...DEFAULTS, seed: Date.now() % 2 ** 31, log: (s) => process.stderr.write(`${s}\n`) };
  const targets: string[] = [];
  let reportFile: string | null = null;
  let reproduceFile: string | null = null;
  let minimiseFile: string | null = null;
  let corpus: string | undefined;
  let jobs = 1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const number = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number`);
      return v;
    };
    switch (a) {
      case '--runs': o.runs = number(); break;
      case '--seconds': o.seconds = number(); break;
      case '--corpus': corpus = value(); break;
      case '--work': o.work = path.resolve(value()); break;
      case '--timeout-ms': o.timeoutMs = number(); break;
      case '--growth-mb': o.growthMb = number(); break;
      case '--heap-mb': o.heapMb = number(); break;
      case '--max-len': o.maxLen = number(); break;
      case '--seed': o.seed = number(); break;
      case '--jobs': jobs = Math.max(1, number()); break;
      case '--no-feedback': o.feedback = false; break;
      case '--report': reportFile = value(); break;
      case '--reproduce': reproduceFile = value(); break;
      case '--minimise': minimiseFile = value(); break;
      default:
        if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
        targets.push(...(a === 'all' ? targetNames() : [a]));
    }
  }
  if (!targets.length) throw new Error(`name a target (${targetNames().join(', ')}) or all`);
  if (reproduceFile || minimiseFile) {
    if (targets.length !== 1) throw new Error('--reproduce and --minimise take one target');
    const file = (reproduceFile ?? minimiseFile)!;
    if (minimiseFile) {
      const small = await minimise(targets[0], fs.readFileSync(file), o, (s) => process.stderr.write(`${s}\n`));
      fs.writeFileSync(`${file}.min`, small);
      process.stdout.write(`${file}.min: ${small.length} bytes\n`);
      return 0;
    }
    const r = await runOnce(targets[0], fs.readFileSync(file), o);
    process.stdout.write(r.ok ? `${file}: passes (${r.ms} ms)\n` : `${file}: ${r.kind}: ${r.message}\n`);
    return r.ok ? 0 : 1;
  }
  process.stderr.write(`fuzzing ${targets.join(', ')}: ${o.runs} inputs${o.seconds ? ` or ${o.seconds} s` : ''} each, seed ${o.seed}\n`);
  const results: TargetResult[] = [];
  const queue = [...targets];
  await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      const r = await fuzzTarget({ ...o, target: t, corpus });
      results.push(r);
      process.stderr.write(`${r.target}: ${r.inputs} inputs in ${r.seconds.toFixed(0)} s, ${r.failure ? `${r.failure.kind}: ${r.failure.message.split('\n')[0]}\n  saved ${r.failure.file}\n  reproduce: ${r.failure.reproduce}` : 'no failure'}\n`);
      for (const n of r.notes) process.stderr.write(`  note: ${n}\n`);
    }
  }));
  results.sort((a, b) => targets.indexOf(a.target) - targets.indexOf(b.target));
  process.stdout.write(`${table(results)}\n`);
  if (reportFile) fs.writeFileSync(reportFile, JSON.stringify(results.map(({ failure, ...r }) => ({ ...r, failure: failure && { kind: failure.kind, message: failure.message, file: failure.file, reproduce: failure.reproduce } })), null, 2));
  return results.some((r) => r.failure) ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
    process.stderr.write(`fuzz: ${(err as Error).message}\n`);
    process.exitCode = 2;
  });
}
