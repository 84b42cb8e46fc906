import assert from 'node:assert/strict';
import { LeasedPoll, LeasedPollOptions, PollRound } from '../core/jobs/leased-poll';
import { createLogger } from '../core/kernel/logger';
import type { CursorState } from '../core/ports/poll-cursors';
import { STORES, waitFor } from './support/hub';
import { useStore } from './support/store';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The polling base on the store's real leases and cursors: two "nodes" are two LeasedPolls on one
// store, as two hub processes sharing PostgreSQL are (or two hubs in one process, on PGlite).
for (const kind of STORES) {
  describe(`polling base: one node at a time, under a lease in the store (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'leased-poll');
    const polls: LeasedPoll<unknown>[] = [];
    afterEach(async () => {
      for (const p of polls.splice(0)) await p.stop();
    });

    function node<P>(opts: Partial<LeasedPollOptions<P>> & Pick<LeasedPollOptions<P>, 'name' | 'progress' | 'round'>): LeasedPoll<P> {
      const p = new LeasedPoll<P>({
        leases: t.store.leases, leaseSeconds: 1, intervalMs: 50, maxBackoffMs: 200, logger: createLogger('silent'),
        says: { held: 'held', elsewhere: 'elsewhere' }, onError: (err) => assert.fail(`no failure expected: ${(err as Error).message}`), ...opts,
      });
      polls.push(p as LeasedPoll<unknown>);
      return p;
    }

    it('runs rounds on one node only; when it stops, the other goes on from the progress it stored', async () => {
      const adapter = `probe-${kind}-handover`;
      const steps: { node: string; position: number }[] = [];
      const counter = (name: string) => ({
        name: `poll:${adapter}`,
        progress: async () => Number((await t.store.cursors.load(adapter))?.position ?? 0),
        round: async (position: number) => {
          steps.push({ node: name, position });
          await t.store.cursors.save(adapter, { position: String(position + 1).padStart(6, '0'), keys: [] });
          return 'done' as const;
        },
      });
      const a = node(counter('a'));
      a.start();
      await waitFor('a few rounds on a', () => steps.length >= 3, 10_000, 20);
      const b = node(counter('b'));
      b.start();
      await sleep(600);
      assert.ok(steps.every((s) => s.node === 'a'), 'only the holder runs rounds');
      const before = steps.length;
      await a.stop();
      await waitFor('rounds on b', () => steps.some((s) => s.node === 'b'), 10_000, 20);
      const firstOfB = steps.findIndex((s) => s.node === 'b');
      assert.ok(firstOfB >= before);
      // One sequence across both nodes: b started from a's last stored position, nothing skipped or repeated.
      assert.deepEqual(steps.map((s) => s.position), steps.map((_, i) => i));
    });

    it('keeps the lease through a round longer than the lease, renewing it as it goes', async () => {
      const name = `watch:probe-${kind}-long`;
      const ran: string[] = [];
      const a = node({ name, progress: async () => null, round: async () => { ran.push('a'); await sleep(3000); return 'done'; } });
      const b = node({ name, progress: async () => null, round: async () => { ran.push('b'); return 'done'; } });
      a.start();
      await waitFor('a round on a', () => ran.includes('a'), 10_000, 20);
      b.start();
      await sleep(2500);
      assert.deepEqual(ran, ['a'], 'b never ran while a worked for three lease lengths');
    });

    it('ends the round of a node that lost the lease (it stalled past it), without counting a failure', async () => {
      const name = `watch:probe-${kind}-lost`;
      const db = t.store.driver;
      let failures = 0;
      let ended: 'step' | 'signal' | null = null;
      let steps = 0;
      const a = node({
        name, progress: async () => null,
        onError: () => { failures++; },
        round: async (_p, r: PollRound) => {
          for (;;) {
            // Work in steps, each only for the holder; the base's renewal would also abort the signal.
            try {
              await r.stillHeld();
            } catch (err) {
              ended = r.signal.aborted ? 'signal' : 'step';
              throw err;
            }
            steps++;
            await sleep(50);
          }
        },
      });
      a.start();
      await waitFor('a working', () => steps >= 3, 10_000, 20);
      // Another node took the job over while a was stalled: the store says so.
      await db.query("UPDATE job_leases SET owner = 'another-node', owner_pid = NULL, lease_until = now() + interval '1 minute' WHERE name = $1", [name]);
      await waitFor('a to stop working', () => ended !== null, 10_000, 20);
      const at = steps;
      await sleep(500);
      assert.equal(steps, at, 'no step after the lease was lost');
      assert.equal(failures, 0, 'losing the lease is not a failure of the poll');
    });

    it('backs off after failed rounds and reports each, holding the lease meanwhile', async () => {
      const name = `poll:probe-${kind}-failing`;
      const seen: number[] = [];
      let calls = 0;
      const a = node<CursorState | null>({
        name, leaseSeconds: 5, progress: async () => null,
        round: async () => { calls++; if (calls <= 3) throw new Error(`feed down ${calls}`); return 'done'; },
        onError: (err, failures) => { assert.match((err as Error).message, /^feed down/); seen.push(failures); },
      });
      a.start();
      await waitFor('three failures and a success', () => calls >= 4, 10_000, 20);
      assert.deepEqual(seen, [1, 2, 3]);
      const holder = await t.store.driver.query<{ owner: string }>('SELECT owner FROM job_leases WHERE name = $1', [name]);
      assert.equal(holder.rows[0].owner, a.owner);
    });
  });
}
