import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import { SqlDriver, SqlExecutor, withTransactionRetry, copyBytes, checkIdentifiers, JsonParam, StatementObserver } from './sql-driver';
import type { WorkerReply, WorkerRequest } from './pglite-protocol';
export { openPglite } from './pglite-open';

type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/**
 * The embedded store: a real PostgreSQL compiled to WebAssembly (PGlite), its files under the data
 * folder. It runs on a thread of its own (pglite-worker.ts): the main thread sends each statement
 * and goes on serving requests, timers and health checks while the store works.
 */
export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (r: WorkerReply & { ok: true }) => void; reject: (err: Error) => void }>();
  private failure: Error | null = null;
  private closed = false;
  /** The close, once begun: from then on only the transactions open before it go on (to their end). */
  private closing: Promise<void> | null = null;

  private constructor(private readonly worker: Worker, private readonly observe?: StatementObserver) {
    worker.on('message', (r: WorkerReply) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      this.refIfBusy();
      if (r.ok) w.resolve(r);
      else w.reject(databaseError(r.error));
    });
    const fail = (err: Error) => {
      this.failure = err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on('error', (err) => fail(new Error(`the embedded store's thread failed: ${err.message}`)));
    worker.on('exit', (code) => { if (!this.closed) fail(new Error(`the embedded store's thread stopped (exit code ${code})`)); });
    this.refIfBusy();
  }

  /** `cacheMb`: the store's page cache (storeCacheMb); DEFAULT_CACHE_MB unless given. */
  static async open(dir: string, observe?: StatementObserver, opts: { cacheMb?: number } = {}): Promise<PgliteDriver> {
    // A new store is made (PostgreSQL's initdb) by a process of its own (pglite-create.ts). Making it
    // grows PGlite's WebAssembly memory to about 750 MB, which an instance never gives back: the
    // thread that then serves the store starts from the files, at about a third of that.
    if (!storeExists(dir)) await createStore(dir);
    return PgliteDriver.start(dir, observe, opts.cacheMb);
  }

  /** The store's thread, started and the store open in it. */
  private static async start(dir: string, observe?: StatementObserver, cacheMb?: number): Promise<PgliteDriver> {
    const driver = new PgliteDriver(new Worker(path.join(__dirname, 'pglite-worker.js')), observe);
    try {
      await driver.send({ op: 'open', dir, cacheMb });
    } catch (err) {
      await driver.worker.terminate();
      throw err;
    }
    return driver;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    return this.run<T>(sql, params);
  }

  async insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    await this.copy(table, columns, rows);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return withTransactionRetry(async () => {
      const { tx } = await this.send({ op: 'begin' });
      let result: T;
      try {
        result = await fn({
          query: <R>(sql: string, params: unknown[] = []) => this.run<R>(sql, params, tx),
          insertRows: (table, columns, rows) => this.copy(table, columns, rows, tx),
        });
      } catch (err) {
        await this.send({ op: 'end', tx: tx!, commit: false }).catch(() => undefined);
        throw err;
      }
      await this.send({ op: 'end', tx: tx!, commit: true });
      return result;
    });
  }

  async exec(sql: string): Promise<void> {
    await this.send({ op: 'exec', sql });
  }

  close(): Promise<void> {
    // A second call waits for the first.
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    try {
      if (!this.failure) await this.send({ op: 'close' });
    } finally {
      this.closed = true;
      await this.worker.terminate();
      // What was sent while the store closed (PGlite leaves it waiting for a lock it never gets) is
      // refused, not left waiting for ever: a caller such as a stopping service awaits it.
      const closed = new Error('the embedded store is closed');
      for (const w of this.waiting.values()) w.reject(closed);
      this.waiting.clear();
    }
  }

  private async run<T>(sql: string, params: readonly unknown[], tx?: number): Promise<{ rows: T[] }> {
    const sent = asSent(params);
    if (this.observe) await this.show(sql, sent, tx);
    const r = await this.send({ op: 'query', sql, params: sent, tx });
    return { rows: (r.rows ?? []) as T[] };
  }

  private async copy(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], tx?: number): Promise<void> {
    if (!rows.length) return;
    checkIdentifiers(table, columns);
    const sql = `COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`;
    if (this.observe) await this.show(sql, [], tx);
    await this.send({ op: 'query', sql, params: [], tx, blob: copyBytes(rows) });
  }

  /** Shows a statement to the observer, with the transaction (or database) it will run on. */
  private show(sql: string, sent: unknown[], tx?: number): Promise<void> {
    return this.observe!({ sql, params: sent }, async (s, p) => ({ rows: (await this.send({ op: 'query', sql: s, params: asSent(p), tx })).rows as any[] }));
  }

  private send(request: Request): Promise<WorkerReply & { ok: true }> {
    if (this.failure) return Promise.reject(this.failure);
    const ofOpenTransaction = 'tx' in request && request.tx !== undefined;
    if (this.closed || (this.closing && request.op !== 'close' && !ofOpenTransaction)) return Promise.reject(new Error('the embedded store is closed'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.refIfBusy();
      const message = { ...request, id } as WorkerRequest;
      // The COPY payload is handed over, not copied; a small one is copied first, as it may share
      // Node's pool of small buffers, which must not be taken away.
      if (message.op === 'query' && message.blob) {
        const own = message.blob.buffer.byteLength > Buffer.poolSize ? message.blob : message.blob.slice();
        this.worker.postMessage({ ...message, blob: own }, [own.buffer as ArrayBuffer]);
      } else {
        this.worker.postMessage(message);
      }
    });
  }

  /** The store's thread keeps the process alive only while a statement is waiting for it. */
  private refIfBusy(): void {
    if (this.waiting.size) this.worker.ref();
    else this.worker.unref();
  }
}

/** A database error as the store's thread described it: an Error with PostgreSQL's fields (code, constraint…). */
function databaseError(fields: Record<string, unknown>): Error {
  return Object.assign(new Error(String(fields.message)), fields);
}

/** Parameters as PGlite takes them: JSON text as bytes (binary format), the rest as they are. */
function asSent(params: readonly unknown[]): unknown[] {
  return params.map((p) => (p instanceof JsonParam ? Buffer.from(p.text) : p));
}

/** Whether dir holds an embedded store already (PostgreSQL's data folder marker). */
export function storeExists(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'PG_VERSION'));
}

/** Makes a new store in dir, in a process of its own (pglite-create.ts); rejects with what it printed. */
function createStore(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(__dirname, 'pglite-create.js'), dir], (err, _stdout, stderr) => {
      if (err) reject(new Error(`the embedded store could not be made in ${dir}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}
