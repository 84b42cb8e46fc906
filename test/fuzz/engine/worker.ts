// The thread a target runs in. It loads the target, runs the seeds, then mutates the corpus for
// as many inputs or seconds as it was given. Before each input it writes the input and a counter
// into memory it shares with the main thread, whose watchdog kills this thread when one input runs
// too long. It reports a failing input, inputs that reached new code, the heap's growth (measured
// after a collection), and the coverage at the end.

import v8 from 'node:v8';
import vm from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import { Coverage, CoverageSummary } from './coverage';
import { Mutator, Random } from './mutate';

export interface WorkerSetup {
  targetFile: string;
  /** `fuzz`: seeds, then mutations; `serve`: runs the inputs the main thread sends, one by one. */
  mode: 'fuzz' | 'serve';
  seeds: Uint8Array[];
  tokens: Uint8Array[];
  /** Mutated inputs to run (the seeds not counted). */
  runs: number;
  seconds: number;
  maxLen: number;
  seed: number;
  feedback: boolean;
  coverage: boolean;
  growthMb: number;
  shared: SharedArrayBuffer;
}

export type FromWorker =
  | { type: 'ready'; loadMs: number }
  | { type: 'failure'; kind: 'crash' | 'unhandled-rejection' | 'memory-growth' | 'setup'; message: string; input: Uint8Array }
  | { type: 'entry'; input: Uint8Array }
  | { type: 'stats'; inputs: number; corpus: number; heapMb: number }
  | { type: 'result'; ok: boolean; message?: string }
  | { type: 'done'; inputs: number; seconds: number; corpus: number; coverage: CoverageSummary | null; heapMb: { baseline: number | null; last: number } };

/** The shared memory's layout: state (1 while an input runs), input counter, input length; then the input. */
export const CONTROL_BYTES = 16;

// Scripts whose coverage counts: the hub's, its packages', the targets'; not node's own nor this engine's.
const ENGINE = /\/test\/fuzz\/(engine\/|runner\.js)/;
const keep = (url: string) => url.startsWith('file:') && !ENGINE.test(url);
const HUB = /\/dist\/(core|adapters|services|contracts|cli)\//;

function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

function heapMb(): number {
  const h = v8.getHeapStatistics();
  return (h.used_heap_size + (h as { external_memory?: number }).external_memory!) / 2 ** 20;
}

function send(m: FromWorker): void {
  parentPort!.postMessage(m);
}

function message(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return `thrown: ${JSON.stringify(err)}`;
  } catch {
    return `thrown: ${String(err)}`;
  }
}

async function main(setup: WorkerSetup): Promise<void> {
  const control = new Int32Array(setup.shared, 0, 4);
  const area = new Uint8Array(setup.shared, CONTROL_BYTES);
  let current: Uint8Array = new Uint8Array(0);
  let failed = false;
  const fail = (kind: 'crash' | 'unhandled-rejection' | 'memory-growth' | 'setup', err: unknown) => {
    if (failed) return;
    failed = true;
    send({ type: 'failure', kind, message: typeof err === 'string' ? err : message(err), input: current });
  };
  process.on('unhandledRejection', (reason) => fail('unhandled-rejection', reason));

  const coverage = setup.coverage ? new Coverage(keep) : null;
  coverage?.start();
  const started = Date.now();
  let fuzz: (data: Buffer) => unknown;
  try {
    const target = require(setup.targetFile) as { fuzz?: (data: Buffer) => unknown };
    if (typeof target.fuzz !== 'function') throw new Error(`${setup.targetFile} exports no fuzz(data) function`);
    fuzz = target.fuzz;
  } catch (err) {
    fail('setup', err);
    return;
  }
  coverage?.scan(coverage.take(), true);
  send({ type: 'ready', loadMs: Date.now() - started });

  /** Runs one input, marked in the shared memory as running while it does; throws what the target throws. */
  const call = async (input: Buffer): Promise<void> => {
    current = input;
    area.set(input.subarray(0, area.length));
    Atomics.store(control, 2, input.length);
    Atomics.add(control, 1, 1);
    Atomics.store(control, 0, 1);
    try {
      const r = fuzz(input);
      if (r && typeof (r as Promise<unknown>).then === 'function') await r;
    } finally {
      Atomics.store(control, 0, 0);
    }
  };

  /** Runs one input; false when it failed. */
  const run = async (input: Buffer): Promise<boolean> => {
    try {
      await call(input);
      return !failed;
    } catch (err) {
      fail('crash', err);
      return false;
    }
  };

  if (setup.mode === 'serve') {
    parentPort!.on('message', async (m: { input: Uint8Array }) => {
      failed = false;
      let why: string | undefined;
      try {
        await call(Buffer.from(m.input));
      } catch (err) {
        why = message(err);
      }
      send({ type: 'result', ok: why === undefined, message: why });
    });
    return;
  }

  const gc = collector();
  const rng = new Random(setup.seed);
  const mutator = new Mutator(rng, { maxLen: setup.maxLen, tokens: setup.tokens.map((t) => Buffer.from(t)) });
  const corpus: Buffer[] = [];
  let corpusBytes = 0;
  const add = (input: Buffer, announce: boolean) => {
    corpus.push(input);
    corpusBytes += input.length;
    if (announce) send({ type: 'entry', input });
  };

  // Every seed is kept: one take after them all is their coverage.
  for (const s of setup.seeds) {
    const input = Buffer.from(s);
    if (!(await run(input))) return;
    add(input, false);
  }
  if (coverage) coverage.scan(coverage.take(), true);
  if (!corpus.length) add(Buffer.alloc(0), false);

  const t0 = Date.now();
  const deadline = setup.seconds > 0 ? t0 + setup.seconds * 1000 : Infinity;
  // Inputs since the last take; when a take reached new code, halves are run again until the
  // inputs that reached it are found, and those join the corpus. Batches shrink while takes keep
  // finding new code (early in a run, when finding the inputs would cost more than running them)
  // and grow back while they do not.
  let batch: Buffer[] = [];
  let batchSize = 16;
  const attribute = async (inputs: Buffer[]): Promise<void> => {
    const half = inputs.length >> 1;
    for (const part of [inputs.slice(0, half), inputs.slice(half)]) {
      if (!part.length || Date.now() >= deadline) continue;
      for (const input of part) if (!(await run(input))) return;
      const take = coverage!.take();
      if (coverage!.scan(take, false) === 0) continue;
      if (part.length > 1) await attribute(part);
      else {
        coverage!.scan(take, true);
        add(part[0], true);
      }
    }
  };

  let inputs = 0;
  let lastTake = t0;
  let lastCheck = t0;
  let baseline: number | null = null;
  let baselineCorpus = 0;
  let lastHeap = heapMb();
  // The heap after a collection still varies by tens of MB from one second to the next (coverage
  // takes, inputs of the last batch): growth is the least of the last few measures.
  const recent: number[] = [];
  while (inputs < setup.runs && !failed) {
    const parent = corpus.length > 16 && rng.chance(0.25) ? corpus[corpus.length - 1 - rng.below(16)] : rng.pick(corpus);
    const input = mutator.mutate(parent, rng.pick(corpus));
    inputs++;
    if (!(await run(input))) break;
    if (setup.feedback) batch.push(input);
    const now = Date.now();
    if (setup.feedback && ((batch.length >= batchSize && now - lastTake >= 50) || now - lastTake >= 500)) {
      const take = coverage!.take();
      if (coverage!.scan(take, false) > 0) {
        await attribute(batch);
        coverage!.scan(take, true);
        batchSize = Math.max(4, batchSize >> 1);
      } else {
        batchSize = Math.min(256, batchSize << 1);
      }
      batch = [];
      lastTake = Date.now();
    }
    if (now - lastCheck >= 1000) {
      lastCheck = now;
      gc();
      lastHeap = heapMb();
      recent.push(lastHeap);
      if (recent.length > 5) recent.shift();
      const least = Math.min(...recent);
      // The corpus the fuzzer keeps is not the target's growth.
      const kept = (corpusBytes - baselineCorpus) / 2 ** 20;
      if (baseline === null && recent.length === 5 && (inputs >= 2000 || now - t0 >= 2000)) {
        baseline = least;
        baselineCorpus = corpusBytes;
      } else if (baseline !== null && least - kept - baseline > setup.growthMb) {
        fail('memory-growth', `the heap grew from ${baseline.toFixed(1)} MB to at least ${least.toFixed(1)} MB after a collection, each second for five seconds (${kept.toFixed(1)} MB of it new corpus entries), past the limit of ${setup.growthMb} MB, after ${inputs} inputs; the last input is saved`);
        break;
      }
      send({ type: 'stats', inputs, corpus: corpus.length, heapMb: lastHeap });
    }
    if (now >= deadline) break;
  }
  if (failed) return;
  const summary = coverage ? coverage.summary((url) => HUB.test(url)) : null;
  send({ type: 'done', inputs, seconds: (Date.now() - t0) / 1000, corpus: corpus.length, coverage: summary, heapMb: { baseline, last: lastHeap } });
}

if (parentPort && workerData?.targetFile) {
  const setup = workerData as WorkerSetup;
  // A failure of the engine itself (not of an input): reported as such, with no input to blame.
  main(setup).catch((err) => send({ type: 'failure', kind: 'setup', message: message(err), input: new Uint8Array(0) }));
}
