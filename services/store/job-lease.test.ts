import assert from 'node:assert/strict';
import { JobLease } from './job-lease';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';

for (const kind of STORES) {
  describe(`job lease: one holder at a time (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'job-lease');

    it('is held by the first node that asks and renewed by it; another takes it only once the holder stops renewing or releases it', async () => {
      const a = new JobLease(t.store.driver, 'poll:probe', 1);
      const b = new JobLease(t.store.driver, 'poll:probe', 1);
      assert.deepEqual(await a.hold(), { held: true, changed: true });
      assert.deepEqual(await b.hold(), { held: false, changed: true });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await a.hold()).held, true, 'renewed before it ran out');
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await b.hold()).held, false, 'still within the renewed lease');
      // a stops renewing (it died): b takes over once the lease has run out, and a has lost it.
      await new Promise((r) => setTimeout(r, 1100));
      assert.deepEqual(await b.hold(), { held: true, changed: true });
      assert.deepEqual(await a.hold(), { held: false, changed: true });
      // A release hands it over at once.
      await b.release();
      assert.equal((await a.hold()).held, true);
      assert.equal((await new JobLease(t.store.driver, 'poll:other', 1).hold()).held, true, 'leases of other jobs are independent');
    });
  });
}
