import assert from 'node:assert/strict';
import { StoreJobQueue, backoffMs } from './job-queue';
import type { Job, JobOutcome, JobState, JobWorker, JobWorkerOptions } from '../../core/ports/jobs';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';
import { readKeyFile, withNewKey, writeKeyFile, sealedKeyId } from '../../core/kernel/data-keys';
import { rekeyStore } from '../keys/rekey';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

type Sms = { mobile: string; n: number };

const OPTIONS: JobWorkerOptions<Sms> = { concurrency: 4, ratePerSecond: 0, backoff: { firstMs: 100, maxMs: 400 }, giveUpAfterMs: 60_000 };

for (const kind of STORES) {
  describe(`job queue in the store (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'job-queue');
    const workers: JobWorker[] = [];
    // Two queues on one store: two nodes sharing it.
    const node = (pollMs = 50) => new StoreJobQueue(t.store.driver, t.store.keys, pollMs);
    afterEach(async () => { await Promise.all(workers.splice(0).map((w) => w.stop())); });

    it('adds a job once per key, ever: again while it waits, and again once it is done, is no new job', async () => {
      const q = node();
      assert.equal(await q.add('once', 'a', { mobile: '13831100425', n: 1 }), true);
      assert.equal(await q.add('once', 'a', { mobile: '13831100425', n: 2 }), false);
      assert.equal(await q.add('once', 'b', { mobile: '13831100426', n: 3 }), true);
      assert.equal(await q.depth('once'), 2);
      const seen: string[] = [];
      workers.push(q.work<Sms>('once', async (job) => { seen.push(`${job.key}:${job.payload.n}`); return { outcome: 'done', result: { messageId: `m-${job.key}` } }; }, OPTIONS));
      await until('both jobs done', async () => (await q.depth('once')) === 0);
      assert.equal(await node().add('once', 'a', { mobile: '13831100425', n: 4 }), false, 'a done key is not added again, by any node');
      await sleep(200);
      assert.deepEqual(seen.sort(), ['a:1', 'b:3']);
      // Done: the answer kept, the payload (a mobile) gone; while it waited it was sealed.
      const rows = (await t.store.driver.query<{ key: string; state: string; payload: string | null; result: any }>("SELECT key, state, payload, result FROM jobs WHERE queue = 'once' ORDER BY key")).rows;
      assert.deepEqual(rows.map((r) => [r.key, r.state, r.payload, typeof r.result === 'string' ? JSON.parse(r.result) : r.result]), [['a', 'done', null, { messageId: 'm-a' }], ['b', 'done', null, { messageId: 'm-b' }]]);
    });

    it('keeps payloads sealed at rest, and its jobs across a restart of the store', async () => {
      const q = node();
      await q.add('durable', 'x', { mobile: '13831100427', n: 1 });
      await q.add('durable', 'y', { mobile: '13831100428', n: 2 }, { delayMs: 300 });
      const stored = (await t.store.driver.query<{ payload: string }>("SELECT payload FROM jobs WHERE queue = 'durable'")).rows;
      assert.ok(stored.every((r) => r.payload.startsWith('pd1.') && !r.payload.includes('1383110042')), 'sealed, never the mobile in clear');
      await t.store.close();
      await t.reopen();
      const after = node();
      const seen: Sms[] = [];
      workers.push(after.work<Sms>('durable', async (job) => { seen.push(job.payload); return { outcome: 'done' }; }, OPTIONS));
      await until('both jobs done after the restart', async () => (await after.depth('durable')) === 0);
      assert.deepEqual(seen.map((s) => s.mobile).sort(), ['13831100427', '13831100428']);
    });

    it('moves the payloads of jobs not yet done to a new data key with `hub rekey`, and they still open', async () => {
      const q = node();
      await q.add('rekeyed', 'w', { mobile: '13831100434', n: 7 }, { delayMs: 60_000 });
      const keys = t.store.keys;
      const old = keys.currentId;
      writeKeyFile(keys.file, withNewKey(readKeyFile(keys.file)));
      keys.reload();
      assert.notEqual(keys.currentId, old);
      const progress = await rekeyStore(t.store.driver, keys);
      assert.equal(progress.state, 'done', progress.error ?? '');
      assert.ok(progress.tables.jobs.resealed >= 1, JSON.stringify(progress.tables.jobs));
      const row = (await t.store.driver.query<{ payload: string }>("SELECT payload FROM jobs WHERE queue = 'rekeyed' AND key = 'w'")).rows[0];
      assert.equal(sealedKeyId(row.payload), keys.currentId);
      assert.deepEqual(q.open(row.payload), { mobile: '13831100434', n: 7 });
    });

    it('retries with exponential backoff and jitter, keeps what an attempt learned, and gives up after the give-up age', async () => {
      for (let i = 1; i <= 5; i++) {
        const d = backoffMs(i, { firstMs: 100, maxMs: 400 });
        const plain = Math.min(400, 100 * 2 ** (i - 1));
        assert.ok(d >= plain * 0.8 && d <= plain * 1.2, `attempt ${i}: ${d} ms`);
      }
      const q = node();
      await q.add('flaky', 'f', { mobile: '13831100429', n: 0 });
      await q.add('flaky', 'never', { mobile: '13831100430', n: 0 });
      const starts: number[] = [];
      const learned: number[] = [];
      workers.push(q.work<Sms>('flaky', async (job): Promise<JobOutcome<Sms>> => {
        if (job.key === 'never') return { outcome: 'retry', reason: 'gateway answered 503 for 13831100430' };
        starts.push(Date.now());
        learned.push(job.payload.n);
        if (job.attempt < 3) return { outcome: 'retry', reason: 'gateway answered 503', payload: { ...job.payload, n: job.attempt } };
        return { outcome: 'done' };
      }, { ...OPTIONS, giveUpAfterMs: 1200 }));
      await until('the flaky job done', async () => starts.length === 3 && (await t.store.driver.query("SELECT 1 FROM jobs WHERE queue = 'flaky' AND key = 'f' AND state = 'done'")).rows.length === 1);
      assert.ok(starts[1] - starts[0] >= 80 - 15, `first retry after ${starts[1] - starts[0]} ms`);
      assert.ok(starts[2] - starts[1] >= 160 - 15, `second retry after ${starts[2] - starts[1]} ms`);
      assert.deepEqual(learned, [0, 1, 2], 'each attempt sees the payload the one before left');
      await until('the other job given up', async () => (await q.dead('flaky')).length === 1, 5000);
      const [dead] = await q.dead('flaky');
      assert.equal(dead.key, 'never');
      assert.ok(dead.attempts >= 3, `${dead.attempts} attempts`);
      assert.equal(dead.reason, 'gateway answered 503 for 138****0430', 'the reason kept, personal data masked');
      assert.match(dead.diedAt!, /\+08:00$/);
      assert.equal(await q.depth('flaky'), 0, 'a dead job is not waiting any more');
    });

    it('sends a job refused for good straight to the dead state', async () => {
      const q = node();
      await q.add('refused', 'r', { mobile: '13831100431', n: 0 });
      let attempts = 0;
      workers.push(q.work<Sms>('refused', async () => { attempts++; return { outcome: 'failed', reason: 'gateway answered 400: bad template' }; }, OPTIONS));
      await until('dead', async () => (await q.dead('refused')).length === 1);
      await sleep(300);
      assert.equal(attempts, 1);
      assert.equal((await q.dead('refused'))[0].reason, 'gateway answered 400: bad template');
    });

    it('keeps its rate across nodes, and a pause a target asked for holds every node', async () => {
      const a = node();
      const b = node();
      const starts: { at: number; key: string }[] = [];
      let throttled = false;
      let pausedAt = 0;
      const handler = async (job: Job<Sms>): Promise<JobOutcome<Sms>> => {
        starts.push({ at: Date.now(), key: job.key });
        if (job.key === 'j10' && !throttled) {
          throttled = true;
          pausedAt = Date.now();
          return { outcome: 'retry', reason: 'gateway answered 429', afterMs: 600, pauseQueue: true };
        }
        return { outcome: 'done' };
      };
      // When the pause is on record in the store: from then on no node starts a job until it ends.
      let recordedAt = 0;
      const opts: JobWorkerOptions<Sms> = { ...OPTIONS, ratePerSecond: 20, onOutcome: (_j, o) => { if (o.outcome === 'retry' && o.pauseQueue) recordedAt = Date.now(); } };
      workers.push(a.work<Sms>('paced', handler, opts), b.work<Sms>('paced', handler, opts));
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) await a.add('paced', `j${String(i).padStart(2, '0')}`, { mobile: '13831100432', n: i });
      await until('every job done', async () => (await a.depth('paced')) === 0, 20_000);
      const done = new Set(starts.map((s) => s.key));
      assert.equal(done.size, 30);
      assert.equal(starts.length, 31, 'each job started once, the throttled one twice');
      // The pace: never more than 20 starts in any second (one more for timer jitter), and 30 jobs plus
      // the pause take at least 1.45 s + 0.6 s.
      const times = starts.map((s) => s.at).sort((x, y) => x - y);
      for (let i = 0; i < times.length; i++) {
        const inWindow = times.filter((x) => x >= times[i] && x < times[i] + 1000).length;
        assert.ok(inWindow <= 21, `${inWindow} starts within a second from ${times[i] - t0} ms`);
      }
      assert.ok(times[times.length - 1] - times[0] >= 1450 + 600 - 100, `all in ${times[times.length - 1] - times[0]} ms`);
      // Nothing started on either node while the target's pause held, once it was on record (until
      // then another node may start a job, as a request already on its way reaches the target).
      assert.ok(recordedAt >= pausedAt && recordedAt < pausedAt + 400, `the pause recorded ${recordedAt - pausedAt} ms after the answer`);
      const during = starts.filter((s) => s.at > recordedAt + 50 && s.at < pausedAt + 550);
      assert.deepEqual(during, [], 'no job started during the pause');
    });

    it('takes over the jobs of a node that died mid-attempt, and gives back unfinished ones when it stops, their attempts not counted', async () => {
      const a = node();
      await a.add('takeover', 'k1', { mobile: '13831100433', n: 1 });
      let release!: () => void;
      const stuck = new Promise<void>((r) => { release = r; });
      let aborted = false;
      const wa = a.work<Sms>('takeover', async (job) => {
        await Promise.race([stuck, new Promise((r) => job.signal.addEventListener('abort', r))]);
        aborted = job.signal.aborted;
        return { outcome: 'retry', reason: 'aborted' };
      }, OPTIONS);
      await until('a holds the job', async () => (await t.store.driver.query("SELECT 1 FROM jobs WHERE queue = 'takeover' AND state = 'active'")).rows.length === 1);
      // A stop aborts the attempt and gives the job back, its attempt not counted.
      const states: JobState[] = [];
      await wa.stop();
      assert.equal(aborted, true);
      let row = (await t.store.driver.query<{ state: string; attempts: number }>("SELECT state, attempts FROM jobs WHERE queue = 'takeover'")).rows[0];
      assert.deepEqual([row.state, Number(row.attempts)], ['waiting', 0]);

      // Node a claims it again and dies (never answers; its claim runs out): node b takes it over.
      const wa2 = a.work<Sms>('takeover', (job) => new Promise((r) => job.signal.addEventListener('abort', () => r({ outcome: 'retry', reason: 'stopped' }))), OPTIONS);
      workers.push(wa2);
      await until('a holds it again', async () => (await t.store.driver.query("SELECT 1 FROM jobs WHERE queue = 'takeover' AND state = 'active'")).rows.length === 1);
      await t.store.driver.query("UPDATE jobs SET claimed_until = now() - interval '1 second' WHERE queue = 'takeover'");
      const b = node();
      const got: number[] = [];
      workers.push(b.work<Sms>('takeover', async (job) => { got.push(job.attempt); return { outcome: 'done' }; }, { ...OPTIONS, onOutcome: (_j, _o, s) => states.push(s) }));
      await until('b finished it', () => states.length === 1);
      assert.deepEqual(got, [2], "a's attempt counts: it may have reached the target");
      assert.deepEqual(states, ['done']);
      row = (await t.store.driver.query<{ state: string; attempts: number }>("SELECT state, attempts FROM jobs WHERE queue = 'takeover'")).rows[0];
      assert.equal(row.state, 'done');
      release();
    });
  });
}
