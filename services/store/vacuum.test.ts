import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgliteDriver } from './pglite-driver';
import { EmbeddedVacuum, VACUUM_RULES } from './vacuum';
import { createLogger } from '../../core/kernel/logger';

// PGlite runs no autovacuum: without the hub's, an embedded store's tables keep every dead row for
// good and its files grow with every update, however few rows are live.

describe('the embedded store\'s vacuum', function () {
  this.timeout(120_000);
  let dir: string;
  let db: PgliteDriver;
  const ROWS = 5000;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vacuum-'));
    db = await PgliteDriver.open(path.join(dir, 'store'));
  });

  after(async () => {
    await db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function table(name: string): Promise<void> {
    await db.exec(`CREATE TABLE ${name} (id int PRIMARY KEY, n int, pad text); INSERT INTO ${name} SELECT g, 0, repeat('x', 200) FROM generate_series(1, ${ROWS}) g`);
  }
  const size = async (name: string) => Number((await db.query<{ n: string }>(`SELECT pg_total_relation_size('${name}')::text AS n`)).rows[0].n);
  const stats = async (name: string) => (await db.query<{ dead: number; vacuumed: boolean }>(
    'SELECT n_dead_tup::int AS dead, last_vacuum IS NOT NULL AS vacuumed FROM pg_stat_user_tables WHERE relname = $1', [name])).rows[0];

  it('vacuums the tables whose dead rows pass autovacuum\'s threshold, so that updated rows reuse the space of the old ones', async () => {
    const vacuum = new EmbeddedVacuum(db, createLogger('silent'));
    await table('without_passes');
    await table('with_passes');
    const start = await size('with_passes');
    for (let i = 0; i < 5; i++) await db.query('UPDATE without_passes SET n = n + 1');
    for (let i = 0; i < 5; i++) {
      await db.query('UPDATE with_passes SET n = n + 1');
      const pass = await vacuum.pass();
      assert.ok(pass.vacuumed.includes('with_passes'), `round ${i}: ${JSON.stringify(pass)}`);
      assert.equal((await stats('with_passes')).dead, 0);
    }
    const grown = await size('without_passes');
    const kept = await size('with_passes');
    assert.ok(grown >= 4 * start, `without passes, 5 updates of every row grow the table ${(grown / start).toFixed(1)} times`);
    assert.ok(kept <= 2.5 * start, `with a pass after each update, the table stays at ${(kept / start).toFixed(1)} times its size (was ${(grown / start).toFixed(1)} without)`);
    assert.equal((await db.query<{ n: number }>('SELECT sum(n)::int AS n FROM with_passes')).rows[0].n, 5 * ROWS, 'every row kept its updates');
  });

  it('leaves a table with few changes alone, and vacuums any table whose transaction ids grow old, dead rows or not', async () => {
    await table('quiet');
    await new EmbeddedVacuum(db, createLogger('silent')).pass();
    await db.query('UPDATE quiet SET n = 1 WHERE id <= 10');
    const calm = await new EmbeddedVacuum(db, createLogger('silent')).pass();
    assert.equal(calm.vacuumed.includes('quiet'), false, JSON.stringify(calm));
    const old = await new EmbeddedVacuum(db, createLogger('silent'), { rules: { ...VACUUM_RULES, freezeMaxAge: 0 } }).pass();
    assert.ok(old.vacuumed.includes('quiet'), JSON.stringify(old));
  });

  it('runs by itself once started, and stops', async () => {
    await table('by_itself');
    await db.query('UPDATE by_itself SET n = n + 1');
    const lines: string[] = [];
    const vacuum = new EmbeddedVacuum(db, createLogger('debug', { write: (l: string) => { lines.push(l); } }), { everyMs: 100 });
    vacuum.start();
    try {
      const until = Date.now() + 30_000;
      while (!(await stats('by_itself')).vacuumed) {
        assert.ok(Date.now() < until, 'vacuumed within 30 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await vacuum.stop();
    }
    const logged = lines.map((l) => JSON.parse(l)).find((e) => e.table === 'by_itself');
    assert.equal(logged?.statement, 'VACUUM');
    assert.ok(logged.deadRows >= ROWS, JSON.stringify(logged));
  });
});
