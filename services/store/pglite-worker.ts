// The embedded store's own thread: PGlite (PostgreSQL compiled to WebAssembly) runs here, so that
// the hub's main thread — HTTP, mapping, the bus, health checks — never waits behind a statement.
// PgliteDriver (pglite-driver.ts) sends each statement here and gets its rows back.
//
// Transactions: a `begin` opens one of PGlite's transactions and holds it until its `end`; PGlite
// makes every statement sent outside it wait until it ends, as a single PostgreSQL backend does.

import { parentPort } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { openPglite, SENT_AS_IS } from './pglite-open';
import type { WorkerReply, WorkerRequest } from './pglite-protocol';

const port = parentPort!;
let db: PGlite | null = null;
/** Open transactions: how to end each. */
const open = new Map<number, { tx: Transaction; end: (commit: boolean) => void }>();

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

/** What a caller needs of a database error: its message and PostgreSQL's fields (code, constraint…). */
function errorOf(err: unknown): Record<string, unknown> {
  const e = err as Error & Record<string, unknown>;
  const out: Record<string, unknown> = { message: e?.message ?? String(err) };
  for (const k of ['code', 'constraint', 'detail', 'hint', 'table', 'column', 'schema', 'severity', 'position', 'where']) {
    if (e && e[k] !== undefined && typeof e[k] !== 'object') out[k] = e[k];
  }
  return out;
}

async function handle(m: WorkerRequest): Promise<void> {
  try {
    switch (m.op) {
      case 'open':
        db = await openPglite(m.dir, { cacheMb: m.cacheMb });
        return reply({ id: m.id, ok: true });
      case 'query': {
        const on = m.tx !== undefined ? txOf(m.tx) : db!;
        const res = m.blob
          ? await on.query(m.sql, [], { blob: new Blob([m.blob]) })
          : await on.query(m.sql, m.params, SENT_AS_IS);
        return reply({ id: m.id, ok: true, rows: res.rows as unknown[] });
      }
      case 'begin':
        return begin(m.id);
      case 'end': {
        const t = open.get(m.tx);
        if (!t) throw new Error(`no open transaction ${m.tx}`);
        open.delete(m.tx);
        // Answered when PGlite has committed or rolled back (see begin).
        pendingEnds.set(m.tx, m.id);
        return t.end(m.commit);
      }
      case 'exec':
        await db!.exec(m.sql);
        return reply({ id: m.id, ok: true });
      case 'close':
        if (db && !db.closed) await db.close();
        return reply({ id: m.id, ok: true });
    }
  } catch (err) {
    reply({ id: m.id, ok: false, error: errorOf(err) });
  }
}

/** Which request to answer when a transaction has ended. */
const pendingEnds = new Map<number, number>();

class Rollback extends Error {}

function begin(id: number): void {
  const tx = id;
  db!.transaction((t) => new Promise<void>((resolve, reject) => {
    open.set(tx, { tx: t, end: (commit) => (commit ? resolve() : reject(new Rollback('rolled back'))) });
    reply({ id, ok: true, tx });
  })).then(
    () => reply({ id: pendingEnds.get(tx)!, ok: true }),
    (err) => {
      const end = pendingEnds.get(tx);
      if (end === undefined) return reply({ id, ok: false, error: errorOf(err) });
      reply(err instanceof Rollback ? { id: end, ok: true } : { id: end, ok: false, error: errorOf(err) });
    },
  ).finally(() => pendingEnds.delete(tx));
}

function txOf(tx: number): Transaction {
  const t = open.get(tx);
  if (!t) throw new Error(`no open transaction ${tx}`);
  return t.tx;
}

port.on('message', (m: WorkerRequest) => void handle(m));
