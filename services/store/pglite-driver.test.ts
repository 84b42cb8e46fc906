import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgliteDriver } from './pglite-driver';
import { jsonParam } from './sql-driver';

// The embedded store runs on a thread of its own: what crosses between the threads must be what the
// store's callers rely on — PostgreSQL's error fields (the retry of a transaction reads them), the
// isolation of a transaction held open across messages, JSON and byte parameters, and COPY payloads.

describe('the embedded store on its own thread', function () {
  this.timeout(120_000);
  let dir: string;
  let db: PgliteDriver;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pglite-thread-'));
    db = await PgliteDriver.open(path.join(dir, 'store'));
    await db.exec('CREATE TABLE t (id text PRIMARY KEY, n int, doc json, bytes bytea)');
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands a database error over with PostgreSQL\'s fields, which the retry of a transaction reads', async () => {
    await db.query('INSERT INTO t (id, n) VALUES ($1, $2)', ['a', 1]);
    const err = await db.query('INSERT INTO t (id, n) VALUES ($1, $2)', ['a', 2]).then(() => null, (e: unknown) => e as Error & { code?: string; constraint?: string });
    assert.ok(err instanceof Error);
    assert.equal(err.code, '23505');
    assert.equal(err.constraint, 't_pkey');
    assert.match(err.message, /duplicate key/);
  });

  it('keeps a transaction to itself while it is open: a statement from outside waits for its end and sees only what it committed', async () => {
    let inside!: () => void;
    const held = new Promise<void>((r) => { inside = r; });
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO t (id, n) VALUES ($1, $2)', ['b', 1]);
      inside();
      await released;
      await t.query('UPDATE t SET n = 2 WHERE id = $1', ['b']);
    });
    await held;
    let outsideDone = false;
    const outside = db.query<{ n: number }>('SELECT n FROM t WHERE id = $1', ['b']).then((r) => { outsideDone = true; return r.rows; });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(outsideDone, false, 'the outside statement waits while the transaction is open');
    release();
    await tx;
    assert.deepEqual(await outside, [{ n: 2 }], 'and then sees the committed row, not a half-done one');

    await assert.rejects(db.transaction(async (t) => {
      await t.query('INSERT INTO t (id, n) VALUES ($1, $2)', ['c', 1]);
      throw new Error('changed my mind');
    }), /changed my mind/);
    assert.deepEqual((await db.query('SELECT id FROM t WHERE id = $1', ['c'])).rows, [], 'a transaction that threw left nothing');
  });

  it('takes JSON text and bytes as parameters, and COPY payloads of one row or thousands', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    await db.query('INSERT INTO t (id, doc, bytes) VALUES ($1, $2::json, $3)', ['d', jsonParam('{"名":"值"}'), bytes]);
    const r = await db.query<{ doc: unknown; bytes: Uint8Array }>('SELECT doc, bytes FROM t WHERE id = $1', ['d']);
    assert.deepEqual(r.rows[0].doc, { 名: '值' });
    assert.deepEqual(Buffer.from(r.rows[0].bytes), bytes);

    await db.insertRows('t', ['id', 'n'], [['e', 5]]);
    assert.deepEqual((await db.query('SELECT n FROM t WHERE id = $1', ['e'])).rows, [{ n: 5 }]);
    const many = Array.from({ length: 5000 }, (_, i) => [`f${i}`, i]);
    await db.transaction((t) => t.insertRows('t', ['id', 'n'], many));
    assert.deepEqual((await db.query<{ c: number }>("SELECT count(*)::int AS c FROM t WHERE id LIKE 'f%'")).rows, [{ c: 5000 }]);
  });

  it('refuses statements once closed, with a reason', async () => {
    const other = await PgliteDriver.open(path.join(dir, 'other'));
    await other.close();
    await assert.rejects(other.query('SELECT 1'), /closed/);
  });

  it('answers every statement sent while it closes: the open transaction ends, what came after is refused, none waits for ever', async () => {
    const other = await PgliteDriver.open(path.join(dir, 'closing'));
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const held = other.transaction(async (tx) => {
      await tx.query('SELECT 1');
      await gate;
      return (await tx.query<{ n: number }>('SELECT 2 AS n')).rows[0].n;
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = other.close();
    await new Promise((r) => setTimeout(r, 50));
    // Sent while the close waits for the transaction (a stopping hub's services still at work).
    const late = [other.query('SELECT 3'), other.transaction(async (tx) => tx.query('SELECT 4'))].map((p) => p.then(() => 'answered', (e: Error) => e.message));
    release();
    assert.equal(await held, 2, 'the transaction open before the close ends as it would have');
    await closing;
    const outcomes = await Promise.race([Promise.all(late), new Promise<string>((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))]);
    assert.deepEqual(outcomes, ['the embedded store is closed', 'the embedded store is closed']);
  });
});
