import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
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

    it('is taken at once from a holder that was a process of this machine and no longer runs, and never from one that runs', async () => {
      const db = t.store.driver;
      // The holder's row names a real process: a child that runs until it is killed.
      const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      try {
        const a = new JobLease(db, 'watch:probe', 60);
        assert.equal((await a.hold()).held, true);
        await db.query('UPDATE job_leases SET owner_pid = $2 WHERE name = $1', ['watch:probe', child.pid]);
        const b = new JobLease(db, 'watch:probe', 60);
        assert.equal((await b.hold()).held, false, 'the holder runs');
        // Two hubs in one process share its pid: the other one is never taken for gone.
        await db.query('UPDATE job_leases SET owner_pid = $2 WHERE name = $1', ['watch:probe', process.pid]);
        assert.equal((await b.hold()).held, false, 'a holder with this process\'s pid runs');
        await db.query('UPDATE job_leases SET owner_pid = $2 WHERE name = $1', ['watch:probe', child.pid]);
        child.kill('SIGKILL');
        await once(child, 'exit');
        // A dead pid on another machine says nothing: there the lease must run out.
        await db.query("UPDATE job_leases SET owner_host = 'another-host' WHERE name = $1", ['watch:probe']);
        assert.equal((await b.hold()).held, false, 'a process of another machine is not looked at');
        await db.query('UPDATE job_leases SET owner_host = $2 WHERE name = $1', ['watch:probe', os.hostname()]);
        assert.deepEqual(await b.hold(), { held: true, changed: true }, 'taken long before the 60 s lease runs out');
        assert.equal((await a.hold()).held, false);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });
}
