import assert from 'node:assert/strict';
import fc from 'fast-check';
import { openStore, Store } from './open-store';
import { STORES, testDataDir } from '../../test/support/hub';
import { createTestDatabase } from '../../test/support/servers';

for (const kind of STORES) {
  describe(`bulk insert of rows (${kind} store)`, function () {
    this.timeout(120_000);
    let store: Store;
    let dropDb: (() => Promise<void>) | null = null;
    before(async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? () => db.drop() : null;
      store = await openStore({ store: db ? db.url : 'embedded', dataDir: testDataDir('insert-rows'), region: '130100' });
      await store.driver.exec('CREATE TABLE bulk_probe (k integer PRIMARY KEY, t text, j jsonb, at timestamptz, n bigint)');
    });
    after(async () => { await store?.close(); await dropDb?.(); });

    it('stores any text, JSON, time and null exactly as given: tabs, newlines, backslashes and \\N included', async () => {
      let k = 0;
      const text = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('\\N', '\\', '\t', '\r\n', '经办\t人\\员'));
      await fc.assert(fc.asyncProperty(fc.array(fc.record({ t: fc.option(text, { nil: null }), j: fc.option(fc.dictionary(text, text), { nil: null }), n: fc.integer() }), { maxLength: 20 }), async (rows) => {
        const at = new Date(Date.UTC(2026, 10, 24, 1, 2, 3));
        const keyed = rows.map((r) => ({ ...r, k: ++k }));
        // NUL cannot be stored in PostgreSQL text at all, whatever the path.
        const clean = keyed.map((r) => ({ ...r, t: r.t?.replace(/\0/g, '') ?? null, j: r.j && Object.fromEntries(Object.entries(r.j).map(([a, b]) => [a.replace(/\0/g, ''), b.replace(/\0/g, '')])) }));
        await store.driver.transaction((tx) => tx.insertRows('bulk_probe', ['k', 't', 'j', 'at', 'n'], clean.map((r) => [r.k, r.t, r.j, at, r.n])));
        const back = await store.driver.query<{ k: number; t: string | null; j: unknown; at: string; n: string }>(
          "SELECT k, t, j, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS at, n FROM bulk_probe WHERE k = ANY($1::int[]) ORDER BY k", [clean.map((r) => r.k)]);
        assert.deepEqual(back.rows.map((r) => ({ k: r.k, t: r.t, j: r.j, at: r.at, n: Number(r.n) })), clean.map((r) => ({ k: r.k, t: r.t, j: r.j, at: '2026-11-24T01:02:03', n: r.n })));
      }), { numRuns: 60 });
    });

    it('refuses a table or column name that is not a plain identifier', async () => {
      await assert.rejects(store.driver.insertRows('bulk_probe; DROP TABLE events', ['k'], [[1]]), /not a plain SQL identifier/);
    });
  });
}
