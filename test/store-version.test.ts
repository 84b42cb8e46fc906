import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { ConfigError } from '../core/kernel/errors';
import { openStore } from '../services/store/open-store';
import { migrate, migrationsDir } from '../services/store/store';
import { PgliteDriver } from '../services/store/pglite-driver';
import { PostgresDriver } from '../services/store/postgres-driver';
import type { SqlDriver } from '../services/store/sql-driver';
import { STORES, testDataDir, hubStart } from './support/hub';
import { createTestDatabase } from './support/servers';

// Cluster issue, item 1: two versions never run against one store. A node refuses a store that holds
// a migration its own folder does not have (a newer version migrated it), before it applies any,
// with one line that names the migration; a store of its own version or an older one opens as before.

const FUTURE = '999-from-the-future.sql';
const MIGRATIONS = fs.readdirSync(migrationsDir()).filter((f) => f.endsWith('.sql')).sort();
const LAST = MIGRATIONS[MIGRATIONS.length - 1];
/** How many migrations the "older version" of these tests had: all but the last few. */
const OLDER = MIGRATIONS.length - 3;

/** The message a node of this version gives for a store that holds FUTURE. */
const REFUSAL = `the store was migrated by a newer version of the hub (migration ${FUTURE} is unknown to this one, whose last is ${LAST}): start this node from that version, or newer`;


for (const kind of STORES) {
  describe(`store version (${kind}): a node refuses a store a newer version migrated`, function () {
    this.timeout(120_000);
    const drops: (() => Promise<void>)[] = [];
    after(async () => { for (const d of drops.splice(0)) await d(); });

    /** A fresh store of this kind: its HUB_STORE value, its data folder, and a driver that opens it without migrating. */
    async function freshStore(label: string): Promise<{ store: string; dataDir: string; raw(): Promise<SqlDriver> }> {
      const dataDir = testDataDir(`store-version-${label}`, { store: 'none' });
      const db = kind === 'postgres' ? await createTestDatabase({ empty: true }) : null;
      if (db) drops.push(db.drop);
      return {
        store: db ? db.url : 'embedded',
        dataDir,
        raw: () => (db ? PostgresDriver.open(db.url, 2) : PgliteDriver.open(path.join(dataDir, 'store'))),
      };
    }

    /** What the store records of its migrations, and the tables it has: what a refused node must leave as it was. */
    async function layout(raw: () => Promise<SqlDriver>): Promise<{ migrations: string[]; tables: string[] }> {
      const db = await raw();
      try {
        const migrations = (await db.query<{ id: string; applied_at: Date }>('SELECT id, applied_at FROM hub_migrations ORDER BY id')).rows
          .map((r) => `${r.id} ${new Date(r.applied_at).toISOString()}`);
        const tables = (await db.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1")).rows.map((r) => r.name);
        return { migrations, tables };
      } finally {
        await db.close();
      }
    }

    /** A store migrated by an older version (the first OLDER migrations), to which a newer one added FUTURE. */
    async function olderStoreWithFuture(s: { raw(): Promise<SqlDriver> }): Promise<void> {
      const older = testDataDir('store-version-older-migrations', { store: 'none' });
      for (const f of MIGRATIONS.slice(0, OLDER)) fs.copyFileSync(path.join(migrationsDir(), f), path.join(older, f));
      const db = await s.raw();
      try {
        assert.deepEqual(await migrate(db, older), MIGRATIONS.slice(0, OLDER));
        await db.query('INSERT INTO hub_migrations (id) VALUES ($1)', [FUTURE]);
      } finally {
        await db.close();
      }
    }

    it('refuses, through openStore (what `hub start` opens the store with), before applying anything', async () => {
      const s = await freshStore('refused');
      await olderStoreWithFuture(s);
      const before = await layout(s.raw);
      await assert.rejects(openStore({ store: s.store, dataDir: s.dataDir, region: '130100' }), (err: Error) => {
        assert.ok(err instanceof ConfigError, `a ConfigError, not ${err.name}`);
        assert.equal(err.message, REFUSAL);
        return true;
      });
      assert.deepEqual(await layout(s.raw), before, 'the refused node applied no migration of its own');
      // The refused node let go of the store: it opens again at once (PGlite: the files are not held).
      assert.equal((await layout(s.raw)).migrations.length, OLDER + 1);
    });

    it('`hub start` exits non-zero by itself, promptly, with one line that names the unknown migration, and leaves the store as it was', async () => {
      const s = await freshStore('hub-start');
      await olderStoreWithFuture(s);
      const before = await layout(s.raw);
      const r = await hubStart({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE: s.store, HUB_DATA_DIR: s.dataDir });
      const output = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
      assert.equal(r.signal, null, `the hub ended by itself (${r.ms} ms)\n${output}`);
      assert.notEqual(r.code, 0, output);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      assert.deepEqual(lines, [`hub: cannot start: ${REFUSAL}`], output);
      assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, `no stack trace\n${output}`);
      assert.ok(r.ms < 20_000, `ended promptly (a busy machine takes seconds to open an embedded store), not after ${r.ms} ms\n${output}`);
      assert.deepEqual(await layout(s.raw), before, 'the refused node applied no migration of its own');
    });

    it('opens a store of its own version, and brings an older one up to date, as before', async () => {
      const same = await freshStore('same');
      const first = await openStore({ store: same.store, dataDir: same.dataDir, region: '130100' });
      await first.close();
      const migrated = await layout(same.raw);
      assert.equal(migrated.migrations.length, MIGRATIONS.length);
      const again = await openStore({ store: same.store, dataDir: same.dataDir, region: '130100' });
      await again.close();
      assert.deepEqual(await layout(same.raw), migrated, 'nothing applied twice');

      const old = await freshStore('older');
      const older = testDataDir('store-version-older-only', { store: 'none' });
      for (const f of MIGRATIONS.slice(0, OLDER)) fs.copyFileSync(path.join(migrationsDir(), f), path.join(older, f));
      const db = await old.raw();
      await migrate(db, older).finally(() => db.close());
      const opened = await openStore({ store: old.store, dataDir: old.dataDir, region: '130100' });
      await opened.close();
      assert.deepEqual((await layout(old.raw)).migrations.map((m) => m.split(' ')[0]), MIGRATIONS);
    });
  });
}
