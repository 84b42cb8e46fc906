import assert from 'node:assert/strict';
import fc from 'fast-check';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';

for (const kind of STORES) {
  describe(`bulk insert of rows (${kind} store)`, function () {
    this.timeout(120_000);
    const t = useStore(kind, 'insert-rows');
    before(() => t.store.driver.exec('CREATE TABLE bulk_probe (k integer PRIMARY KEY, t text, j jsonb, at timestamptz, n bigint)'));

    it('stores any text, JSON, time and null exactly as given: tabs, newlines, backslashes and \\N included', async () => {
      let k = 0;
      const text = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('\\N', '\\', '\t', '\r\n', '经办\t人\\员'));
      await fc.assert(fc.asyncProperty(fc.array(fc.record({ t: fc.option(text, { nil: null }), j: fc.option(fc.dictionary(text, text), { nil: null }), n: fc.integer() }), { maxLength: 20 }), async (rows) => {
        const at = new Date(Date.UTC(2026, 10, 24, 1, 2, 3));
        const keyed = rows.map((r) => ({ ...r, k: ++k }));
        // NUL cannot be stored in PostgreSQL text at all, whatever the path.
        const clean = keyed.map((r) => ({ ...r, t: r.t?.replace(/\0/g, '') ?? null, j: r.j && Object.fromEntries(Object.entries(r.j).map(([a, b]) => [a.replace(/\0/g, ''), b.replace(/\0/g, '')])) }));
        await t.store.driver.transaction((tx) => tx.insertRows('bulk_probe', ['k', 't', 'j', 'at', 'n'], clean.map((r) => [r.k, r.t, r.j, at, r.n])));
        const back = await t.store.driver.query<{ k: number; t: string | null; j: unknown; at: string; n: string }>(
          "SELECT k, t, j, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') AS at, n FROM bulk_probe WHERE k = ANY($1::int[]) ORDER BY k", [clean.map((r) => r.k)]);
        assert.deepEqual(back.rows.map((r) => ({ k: r.k, t: r.t, j: r.j, at: r.at, n: Number(r.n) })), clean.map((r) => ({ k: r.k, t: r.t, j: r.j, at: '2026-11-24T01:02:03', n: r.n })));
      }), { numRuns: 60 });
    });

    it('refuses a table or column name that is not a plain identifier', async () => {
      await assert.rejects(t.store.driver.insertRows('bulk_probe; DROP TABLE events', ['k'], [[1]]), /not a plain SQL identifier/);
    });
  });
}
