// Large files are read and mapped in a worker thread while the main thread applies chunks to the
// store: decoding, parsing and mapping a 200 MB file takes as long as storing it, and on the main
// thread it would also hold up every HTTP request in the meantime.

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readBatchFile, BatchFileFormat, BatchSummary, CorruptFile, CorruptRule } from '../../xml/batch-file';
import { MappingProfile } from '../../mapping/engine';
import { loadSharedTables } from '../../mapping/shared-tables';
import { RetryableError } from '../../../../core/kernel/errors';
import { mapFileRecords, MappedChunk, RecordJob } from './file-drop-records';
import { isPrepared, PreparedEvent } from '../../../../core/ports/event-row';

const KIND = 'hub-file-drop-worker';

/** The profile a worker must map with: the same file and version as the one in force. */
export interface ProfileRef {
  file: string;
  registryFile: string;
  catalogueFile: string;
  version: string;
}

/** The profile file no longer holds the version in force (edited, not yet reloaded): try the file again later. */
export class ProfileChanged extends RetryableError {
  constructor(adapter: string, inForce: string, onDisk: string) {
    super(`mapping profile of ${adapter} on disk (${onDisk}) is not the one in force (${inForce})`, 'PROFILE_CHANGED', { adapter });
  }
}

/** The work was stopped from the main thread (the hub is stopping). */
export class WorkerAborted extends Error {
  constructor() {
    super('file-drop worker stopped');
    this.name = 'WorkerAborted';
  }
}

type Transfer = Omit<BatchSummary, 'corrupt'> & { corrupt?: { rule: CorruptRule; reason: string } };

type ToMain =
  | { type: 'summary'; summary: Transfer }
  | { type: 'chunk'; chunk: MappedChunk }
  | { type: 'done'; records: number }
  | { type: 'profile'; version: string }
  | { type: 'error'; message: string; stack?: string; corrupt?: { rule: CorruptRule; reason: string } };

interface CheckData { kind: typeof KIND; mode: 'check'; file: string; format: BatchFileFormat }
interface MapData { kind: typeof KIND; mode: 'map'; job: RecordJob; profile: ProfileRef; window: number }

/** The checking pass of a file, in a worker thread; an abort stops it (a hub stopping need not wait for a 200 MB pass). */
export async function checkInWorker(file: string, format: BatchFileFormat, signal?: AbortSignal): Promise<BatchSummary> {
  const messages = run({ kind: KIND, mode: 'check', file, format }, signal);
  for await (const m of messages) {
    if (m.type === 'summary') {
      const { corrupt, ...rest } = m.summary;
      return corrupt ? { ...rest, corrupt: new CorruptFile(corrupt.rule, corrupt.reason) } : rest;
    }
  }
  throw new Error(`the worker checking ${file} ended without an answer`);
}

/**
 * A file's mapped records from a worker thread, chunk after chunk. At most `window` chunks wait
 * to be applied: the worker pauses until the consumer asks for the next.
 */
export async function* mapInWorker(job: RecordJob, profile: ProfileRef, adapter: string, window = 2): AsyncGenerator<MappedChunk> {
  const messages = run({ kind: KIND, mode: 'map', job, profile, window });
  for await (const m of messages) {
    if (m.type === 'chunk') {
      yield m.chunk;
      messages.ack();
    } else if (m.type === 'profile') {
      throw new ProfileChanged(adapter, profile.version, m.version);
    } else if (m.type === 'done') {
      return;
    }
  }
}

type Messages = AsyncIterable<ToMain> & { ack(): void };

/** Starts a worker; its messages in order, ending when it ends. An error it reports (or its crash, or an abort) is thrown. */
function run(data: CheckData | MapData, signal?: AbortSignal): Messages {
  // A small young generation: the worker's garbage is a chunk or two, and the default (three times
  // 16 MB semi-spaces) would add tens of MB to the hub's peak memory for nothing.
  const worker = new Worker(__filename, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  const queue: ToMain[] = [];
  let failure: Error | null = null;
  let ended = false;
  let wake: (() => void) | null = null;
  const poke = () => { const w = wake; wake = null; w?.(); };
  signal?.addEventListener('abort', () => { failure ??= new WorkerAborted(); poke(); }, { once: true });
  worker.on('message', (m: ToMain) => { queue.push(m); poke(); });
  worker.on('error', (err) => { failure = err; poke(); });
  worker.on('exit', (code) => {
    if (code !== 0 && !failure) failure = new Error(`file-drop worker exited with code ${code}`);
    ended = true;
    poke();
  });
  return {
    ack: () => worker.postMessage({ type: 'ack' }),
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          while (!queue.length && !failure && !ended) await new Promise<void>((r) => { wake = r; });
          if (failure instanceof WorkerAborted) throw failure;
          const m = queue.shift();
          if (!m) {
            if (failure) throw failure;
            return;
          }
          if (m.type === 'error') {
            if (m.corrupt) throw new CorruptFile(m.corrupt.rule, m.corrupt.reason);
            const err = new Error(m.message);
            err.stack = m.stack;
            throw err;
          }
          yield m;
          if (m.type === 'done' || m.type === 'summary' || m.type === 'profile') return;
        }
      } finally {
        await worker.terminate();
      }
    },
  };
}

async function work(data: CheckData | MapData): Promise<void> {
  const port = parentPort!;
  const send = (m: ToMain) => port.postMessage(m);
  try {
    if (data.mode === 'check') {
      const { corrupt, ...rest } = await readBatchFile(data.file, data.format);
      send({ type: 'summary', summary: corrupt ? { ...rest, corrupt: { rule: corrupt.rule, reason: corrupt.reason } } : rest });
      return;
    }
    const profile = MappingProfile.fromFile(data.profile.file, loadSharedTables(data.profile.registryFile, data.profile.catalogueFile));
    if (profile.version !== data.profile.version) {
      send({ type: 'profile', version: profile.version });
      return;
    }
    let waiting = 0;
    let resume: (() => void) | null = null;
    port.on('message', (m: { type: string }) => {
      if (m.type !== 'ack') return;
      waiting--;
      const r = resume;
      resume = null;
      r?.();
    });
    const records = await mapFileRecords(data.job, profile, async (chunk) => {
      const bodies = packBodies(chunk);
      port.postMessage({ type: 'chunk', chunk } satisfies ToMain, bodies ? [bodies] : []);
      waiting++;
      while (waiting >= data.window) await new Promise<void>((r) => { resume = r; });
    });
    send({ type: 'done', records });
  } catch (err) {
    const e = err as Error;
    send({ type: 'error', message: e.message, stack: e.stack, ...(err instanceof CorruptFile ? { corrupt: { rule: err.rule, reason: err.reason } } : {}) });
  }
}

/**
 * The chunk's prepared bodies moved into one buffer of their own, handed over to the main thread
 * rather than copied (a 5,000-record chunk holds about 3 MB of them).
 */
function packBodies(chunk: MappedChunk): ArrayBuffer | null {
  let total = 0;
  const events: PreparedEvent[] = [];
  for (const item of chunk.items) if ('event' in item && isPrepared(item.event)) events.push(item.event);
  for (const e of events) total += e.body.byteLength;
  if (!total) return null;
  const all = new Uint8Array(total);
  let at = 0;
  for (const e of events) {
    all.set(e.body, at);
    e.body = all.subarray(at, at + e.body.byteLength);
    at += e.body.byteLength;
  }
  return all.buffer;
}

if (!isMainThread && (workerData as { kind?: string } | null)?.kind === KIND) {
  void work(workerData as CheckData | MapData);
}
