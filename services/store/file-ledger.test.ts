import assert from 'node:assert/strict';
import { LostClaim } from '../../core/ports/file-ledger';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';

// A dropped file belongs to the holder of its adapter's watch lease: the row names it, and a node
// that took the lease over takes the file over. These are the fences that keep a node that lost
// the lease (it stalled) from writing to a file the next holder works on.
for (const kind of STORES) {
  describe(`file ledger: files belong to the watch lease's holder (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'file-ledger');

    it('hands a file to the next holder, whose progress is the last one committed, and shuts the last holder out', async () => {
      const adapter = `probe-${kind}`;
      const first = t.store.files.ledger(adapter, 'node-a/1/aaaa');
      const next = t.store.files.ledger(adapter, 'node-b/2/bbbb');
      const row = await first.claim('file-1', 'batch-1.xml', '/drop/processing/file-1--batch-1.xml');
      assert.equal(row.owner, 'node-a/1/aaaa');
      await first.validated('file-1', { sha256: 'f'.repeat(64), size: 10, batch: {}, records: 4, error: null });
      await t.store.driver.transaction(async (tx) => {
        await first.lockChunk(tx, 'file-1', 0);
        await first.saveChunk(tx, 'file-1', 0, { fields: [], entries: [[1, 'A'], [1, 'B']] }, { accepted: 2, duplicates: 0, rejected: 0 });
      });

      const [open] = await next.open();
      const taken = await next.takeOver(open);
      assert.ok(taken);
      assert.deepEqual({ owner: taken.owner, state: taken.state, recordsDone: taken.recordsDone }, { owner: 'node-b/2/bbbb', state: 'applying', recordsDone: 2 });
      assert.equal(await next.takeOver(open), null, 'a row read before the take-over is stale');

      // The last holder, still running its chunk loop, finds the file gone at its next write.
      await assert.rejects(t.store.driver.transaction((tx) => first.lockChunk(tx, 'file-1', 2)), LostClaim);
      await assert.rejects(first.receiptStaged('file-1'), LostClaim);
      await t.store.driver.transaction(async (tx) => {
        await next.lockChunk(tx, 'file-1', 2);
        await next.saveChunk(tx, 'file-1', 2, { fields: [], entries: [[1, 'C'], [1, 'D']] }, { accepted: 2, duplicates: 0, rejected: 0 });
      });
      const done = await next.get('file-1');
      assert.deepEqual({ state: done?.state, recordsDone: done?.recordsDone, accepted: done?.accepted }, { state: 'applied', recordsDone: 4, accepted: 4 });
      const results = [];
      for await (const r of next.results('file-1')) results.push(...r.entries.map((e) => e[1]));
      assert.deepEqual(results, ['A', 'B', 'C', 'D'], 'every record once, in file order');
    });
  });
}
