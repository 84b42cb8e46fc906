import assert from 'node:assert/strict';
import { backoffMs } from '../../services/store/job-queue';
import type { Job, JobOutcome, JobQueue, JobState, JobWorker, JobWorkerOptions } from '../../core/ports/jobs';

/** What the backing store holds of one job, as it holds it. */
export interface StoredJob {
  /** The payload as stored (sealed, inside whatever record holds it); null once the store keeps none (done). */
  payload: string | null;
  /** The answer kept for a done job; null when none is. */
  result: unknown;
}

/**
 * What a JobQueue implementation gives the behaviour suite. `setup` is called inside the suite's
 * describe block, so it may register its own before/after hooks (a store opened before the tests);
 * the hooks below are called only from within tests.
 */
export interface JobQueueFixture {
  /**
   * A queue node on the suite's backing store (PGlite or PostgreSQL, a Redis prefix); each call is
   * another node sharing it, as the hub nodes of a cluster do. `pollMs`: how often a polling worker
   * looks for jobs (where the implementation polls).
   */
  node(pollMs?: number): JobQueue;
  /** Stops every node and opens the backing store again, as a restart of every hub node would. */
  restart(): Promise<void>;
  /** What the backing store holds of a job now; null when it holds nothing of the key (never added, pruned, purged). */
  stored(queue: string, key: string): Promise<StoredJob | null>;
  /** Everything the backing store still holds of a queue (rows, Redis keys), named as it likes: [] once purged. */
  leftOf(queue: string): Promise<string[]>;
  /** Makes a done job look done `ms` ago (for prune). */
  doneAgo(queue: string, key: string, ms: number): Promise<void>;
  /** After the suite's tests: closes the nodes and removes what the suite left in the backing store. */
  cleanup(): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export type Sms = { mobile: string; n: number };

export const OPTIONS: JobWorkerOptions<Sms> = { concurrency: 4, ratePerSecond: 0, backoff: { firstMs: 100, maxMs: 400 }, giveUpAfterMs: 60_000 };

/** What a handler saw of the jobs of a group: each start and end, in the order they happened. */
type Step = { at: number; key: string; what: 'start' | 'end'; group: string };

/** The keys of a group as they started (a retried one once per attempt), and whether two of its jobs ever ran at once. */
function ofGroup(steps: readonly Step[], group: string): { started: string[]; overlapped: boolean } {
  let running = 0;
  let overlapped = false;
  const started: string[] = [];
  for (const s of steps.filter((x) => x.group === group)) {
    if (s.what === 'start') {
      started.push(s.key);
      if (++running > 1) overlapped = true;
    } else running--;
  }
  return { started, overlapped };
}

/**
 * The behaviour of the jobs port (core/ports/jobs.ts) that every implementation keeps: one suite, run
 * on the store's queue (PGlite, PostgreSQL) and on BullMQ (Redis). What only one implementation has
 * (statements, query plans, Redis keys) is tested beside it.
 */
export function describeJobQueueBehaviours(label: string, setup: () => JobQueueFixture): void {
  describe(label, function () {
    this.timeout(60_000);
    const fx = setup();
    const node = (pollMs = 50) => fx.node(pollMs);
    const workers: JobWorker[] = [];
    afterEach(async () => { await Promise.all(workers.splice(0).map((w) => w.stop())); });
    after(async () => { await fx.cleanup(); });

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
      // Done: the answer kept, the payload (a mobile) gone.
      await until('the payloads of done jobs gone', async () => (await fx.stored('once', 'a'))?.payload === null && (await fx.stored('once', 'b'))?.payload === null);
      assert.deepEqual((await fx.stored('once', 'a'))?.result, { messageId: 'm-a' });
      assert.deepEqual((await fx.stored('once', 'b'))?.result, { messageId: 'm-b' });
    });

    it('keeps payloads sealed at rest, its jobs across a restart of every node, and keys of any form', async () => {
      const q = node();
      // 'y:1' and '42' are keys BullMQ would refuse as job ids; 'z' waits behind '42' in its group.
      await q.add('durable', 'x', { mobile: '13831100427', n: 1 });
      await q.add('durable', 'y:1', { mobile: '13831100428', n: 2 }, { delayMs: 300 });
      await q.add('durable', '42', { mobile: '13831100435', n: 3 }, { group: 'case-1' });
      await q.add('durable', 'z', { mobile: '13831100436', n: 4 }, { group: 'case-1' });
      for (const key of ['x', 'y:1', '42', 'z']) {
        const s = (await fx.stored('durable', key))?.payload;
        assert.ok(s && s.includes('pd1.') && !s.includes('1383110042') && !s.includes('1383110043'), `${key} sealed, never the mobile in clear: ${s}`);
      }
      await fx.restart();
      const after = node();
      const seen: Sms[] = [];
      workers.push(after.work<Sms>('durable', async (job) => { seen.push(job.payload); return { outcome: 'done' }; }, OPTIONS));
      await until('every job done after the restart', async () => (await after.depth('durable')) === 0);
      assert.deepEqual(seen.map((s) => s.mobile).sort(), ['13831100427', '13831100428', '13831100435', '13831100436']);
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
      const attempts: number[] = [];
      let done = false;
      workers.push(q.work<Sms>('flaky', async (job): Promise<JobOutcome<Sms>> => {
        if (job.key === 'never') return { outcome: 'retry', reason: 'gateway answered 503 for 13831100430' };
        starts.push(Date.now());
        learned.push(job.payload.n);
        attempts.push(job.attempt);
        if (job.attempt < 3) return { outcome: 'retry', reason: 'gateway answered 503', payload: { ...job.payload, n: job.attempt } };
        return { outcome: 'done' };
      }, { ...OPTIONS, giveUpAfterMs: 1200, onOutcome: (j, _o, s) => { if (j.key === 'f' && s === 'done') done = true; } }));
      await until('the flaky job done', () => done);
      assert.deepEqual(attempts, [1, 2, 3]);
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
      assert.equal(await q.add('refused', 'r', { mobile: '13831100431', n: 1 }), false, 'a dead key is not added again');
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
      // When the pause is on record: from then on no node starts a job until it ends.
      let recordedAt = 0;
      const opts: JobWorkerOptions<Sms> = { ...OPTIONS, ratePerSecond: 20, onOutcome: (_j, o) => { if (o.outcome === 'retry' && o.pauseQueue) recordedAt = Date.now(); } };
      workers.push(a.work<Sms>('paced', handler, opts), b.work<Sms>('paced', handler, opts));
      const t0 = Date.now();
      await a.addMany('paced', Array.from({ length: 30 }, (_, i) => ({ key: `j${String(i).padStart(2, '0')}`, payload: { mobile: '13831100432', n: i } })));
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

    it('gives back unfinished jobs when it stops, their attempts not counted, and records a job done as it stops', async () => {
      const a = node();
      await a.add('given-back', 'k1', { mobile: '13831100433', n: 1 });
      await a.add('given-back', 'k2', { mobile: '13831100433', n: 2 });
      let aborted = false;
      let running = 0;
      const states: JobState[] = [];
      const wa = a.work<Sms>('given-back', async (job) => {
        running++;
        await new Promise((r) => job.signal.addEventListener('abort', r));
        aborted = job.signal.aborted;
        // k2 ignores the abort and finishes its work: its done is recorded.
        if (job.key === 'k2') { await sleep(100); return { outcome: 'done' }; }
        return { outcome: 'retry', reason: 'aborted' };
      }, { ...OPTIONS, onOutcome: (_j, _o, s) => states.push(s) });
      await until('a holds both jobs', () => running === 2);
      await wa.stop();
      assert.equal(aborted, true);
      assert.deepEqual(states.sort(), ['done', 'released']);
      assert.equal(await a.depth('given-back'), 1);
      assert.notEqual((await a.stats('given-back')).lastDoneAt, null, 'k2 recorded done before stop() resolved');
      const b = node();
      const got: number[] = [];
      workers.push(b.work<Sms>('given-back', async (job) => { got.push(job.attempt); return { outcome: 'done' }; }, OPTIONS));
      await until('b finished k1', async () => (await b.depth('given-back')) === 0);
      assert.deepEqual(got, [1], 'the attempt given back is not counted, and k2 is not run again');
    });

    it('works the jobs of a group one at a time in the order they were added, a retried one holding those after it, while other jobs run', async () => {
      const q = node();
      const steps: Step[] = [];
      // Added in an order their keys would not sort in, so that only the order of adding explains the order of work.
      for (const key of ['c3', 'c1', 'c2']) await q.add('ordered', key, { mobile: '13831100440', n: 0 }, { group: 'case-1' });
      await q.add('ordered', 'other', { mobile: '13831100441', n: 0 }, { group: 'case-2' });
      await q.add('ordered', 'loose', { mobile: '13831100442', n: 0 });
      const groupOf: Record<string, string> = { c3: 'case-1', c1: 'case-1', c2: 'case-1', other: 'case-2', loose: '-' };
      workers.push(q.work<Sms>('ordered', async (job): Promise<JobOutcome<Sms>> => {
        steps.push({ at: Date.now(), key: job.key, what: 'start', group: groupOf[job.key] });
        await sleep(10);
        steps.push({ at: Date.now(), key: job.key, what: 'end', group: groupOf[job.key] });
        // The first of the group fails twice (backoff 100 then 200 ms): the others wait for it.
        if (job.key === 'c3' && job.attempt < 3) return { outcome: 'retry', reason: 'subscriber answered 503' };
        return { outcome: 'done' };
      }, OPTIONS));
      await until('every job done', async () => (await q.depth('ordered')) === 0);
      const g = ofGroup(steps, 'case-1');
      assert.deepEqual(g.started, ['c3', 'c3', 'c3', 'c1', 'c2'], 'in the order added, the retried one first to its end');
      assert.equal(g.overlapped, false, 'never two of the group at once');
      const secondAttempt = steps.filter((s) => s.key === 'c3' && s.what === 'start')[1].at;
      for (const key of ['other', 'loose']) {
        const start = steps.find((s) => s.key === key && s.what === 'start')!.at;
        assert.ok(start < secondAttempt, `${key} ran while the first of case-1 waited for its retry`);
      }
    });

    it('runs the first jobs of two groups at once, and keeps each group in order across two nodes', async () => {
      const a = node();
      const b = node();
      const steps: Step[] = [];
      const groups = ['case-a', 'case-b', 'case-c'];
      for (let i = 0; i < 6; i++) for (const g of groups) await a.add('groups', `${g}-${i}`, { mobile: '13831100443', n: i }, { group: g });
      let running = 0;
      let most = 0;
      let bothFirst!: () => void;
      const firstsTogether = new Promise<void>((r) => { bothFirst = r; });
      let firsts = 0;
      const handler = async (job: Job<Sms>): Promise<JobOutcome<Sms>> => {
        const group = job.key.slice(0, 6);
        steps.push({ at: Date.now(), key: job.key, what: 'start', group });
        most = Math.max(most, ++running);
        // The first jobs of case-a and case-b end only once both have started: were groups worked one
        // after another, this would wait for ever (and the test time out).
        if (job.key === 'case-a-0' || job.key === 'case-b-0') {
          if (++firsts === 2) bothFirst();
          await firstsTogether;
        } else await sleep(Math.random() * 15);
        running--;
        steps.push({ at: Date.now(), key: job.key, what: 'end', group });
        return { outcome: 'done' };
      };
      workers.push(a.work<Sms>('groups', handler, OPTIONS), b.work<Sms>('groups', handler, OPTIONS));
      await until('every job done', async () => (await a.depth('groups')) === 0, 20_000);
      assert.ok(most >= 2, `at most ${most} at once`);
      for (const g of groups) {
        const seen = ofGroup(steps, g);
        assert.deepEqual(seen.started, [0, 1, 2, 3, 4, 5].map((i) => `${g}-${i}`), `${g} in its order`);
        assert.equal(seen.overlapped, false, `${g}: never two at once, on either node`);
      }
    });

    it('holds a group dead behind a dead job, even the jobs added after, and a replay brings them back to run in order', async () => {
      const q = node();
      for (const key of ['d1', 'd2', 'd3']) await q.add('held', key, { mobile: '13831100444', n: 0 }, { group: 'case-9' });
      await q.add('held', 'free', { mobile: '13831100445', n: 0 }, { group: 'case-8' });
      let mended = false;
      const started: string[] = [];
      const attempts: Record<string, number[]> = {};
      const addedAt: Record<string, Date> = {};
      workers.push(q.work<Sms>('held', async (job): Promise<JobOutcome<Sms>> => {
        started.push(job.key);
        (attempts[job.key] ??= []).push(job.attempt);
        addedAt[job.key] = job.addedAt;
        if (job.key === 'd1' && !mended) return { outcome: 'failed', reason: 'subscriber answered 410' };
        return { outcome: 'done' };
      }, OPTIONS));
      await until('d1 and those after it dead, the other group done', async () => (await q.dead('held')).length === 3 && (await q.depth('held')) === 0);
      assert.deepEqual(started.filter((k) => k !== 'free'), ['d1'], 'neither d2 nor d3 was attempted');
      const dead = Object.fromEntries((await q.dead('held')).map((d) => [d.key, d]));
      assert.equal(dead.d1.reason, 'subscriber answered 410');
      assert.equal(dead.d1.group, 'case-9');
      for (const k of ['d2', 'd3']) {
        assert.equal(dead[k].reason, 'held: an earlier job of its group (d1) is dead');
        assert.equal(dead[k].attempts, 0);
        assert.equal(dead[k].group, 'case-9');
      }
      // Added later, to the held group: dead at once, never attempted; to another group: worked.
      assert.equal(await q.add('held', 'd4', { mobile: '13831100444', n: 4 }, { group: 'case-9' }), true);
      assert.equal(await q.addMany('held', [{ key: 'd5', payload: { mobile: '13831100444', n: 5 }, group: 'case-9' }, { key: 'free2', payload: { mobile: '13831100445', n: 1 }, group: 'case-8' }]), 2);
      const later = Object.fromEntries((await q.dead('held')).map((d) => [d.key, d]));
      assert.equal(later.d4?.reason, 'held: an earlier job of its group (d1) is dead');
      assert.equal(later.d5?.reason, 'held: an earlier job of its group (d1) is dead');
      await until('free2 done', async () => started.includes('free2') && (await q.depth('held')) === 0);
      assert.ok(!started.includes('d4') && !started.includes('d5'));

      // Replaying a job behind d1 alone would run it before d1: it stays dead.
      assert.equal(await q.replay('held', ['d3']), 0);
      assert.equal((await q.dead('held')).length, 5);
      // Replaying d1 brings back the group from it on, worked in its order, each from its first attempt.
      mended = true;
      const t0 = Date.now();
      assert.equal(await q.replay('held', ['d1']), 5);
      await until('the group done', async () => (await q.depth('held')) === 0 && (await q.dead('held')).length === 0);
      assert.deepEqual(started.filter((k) => k.startsWith('d')), ['d1', 'd1', 'd2', 'd3', 'd4', 'd5']);
      assert.deepEqual(attempts.d1, [1, 1], 'the attempts count again from the replay');
      assert.ok(addedAt.d1.getTime() >= t0 - 1000 && addedAt.d3.getTime() >= t0 - 1000, 'its give-up age counts from the replay');
    });

    it('holds the jobs after a grouped job given up, and replays every dead job of a queue', async () => {
      const q = node();
      await q.add('expired', 'e1', { mobile: '13831100446', n: 0 }, { group: 'case-7' });
      await q.add('expired', 'e2', { mobile: '13831100446', n: 0 }, { group: 'case-7' });
      await q.add('expired', 'lone', { mobile: '13831100447', n: 0 });
      let down = true;
      const started: string[] = [];
      const addedAt: Record<string, Date> = {};
      workers.push(q.work<Sms>('expired', async (job): Promise<JobOutcome<Sms>> => {
        started.push(job.key);
        addedAt[job.key] = job.addedAt;
        if (job.key === 'lone') return { outcome: 'failed', reason: 'refused' };
        return down ? { outcome: 'retry', reason: 'subscriber answered 503' } : { outcome: 'done' };
      }, { ...OPTIONS, giveUpAfterMs: 400 }));
      await until('all three dead', async () => (await q.dead('expired')).length === 3);
      const dead = Object.fromEntries((await q.dead('expired')).map((d) => [d.key, d]));
      assert.equal(dead.e1.reason, 'subscriber answered 503');
      assert.equal(dead.e2.reason, 'held: an earlier job of its group (e1) is dead');
      assert.ok(!started.includes('e2'));
      down = false;
      const replayedAt = Date.now();
      assert.equal(await q.replay('expired'), 3);
      await until('all done or dead again', async () => (await q.depth('expired')) === 0);
      assert.deepEqual(started.filter((k) => k !== 'lone').slice(-2), ['e1', 'e2']);
      assert.ok(addedAt.e1.getTime() >= replayedAt - 1000, 'the job is as new');
      assert.deepEqual((await q.dead('expired')).map((d) => d.key), ['lone'], 'refused again');
      assert.equal(await q.replay('expired', ['nothing-such', 'e1']), 0, 'neither dead');
    });

    it('adds many jobs in one step, in the order given, each key once, and many at once fast', async () => {
      const q = node();
      await q.add('bulk', 'k0', { mobile: '13831100448', n: 0 }, { group: 'case-5' });
      const added = await q.addMany<Sms>('bulk', [
        { key: 'k3', payload: { mobile: '13831100448', n: 3 }, group: 'case-5' },
        { key: 'k1', payload: { mobile: '13831100448', n: 1 }, group: 'case-5' },
        { key: 'k0', payload: { mobile: '13831100448', n: 99 }, group: 'case-5' },
        { key: 'k2', payload: { mobile: '13831100448', n: 2 }, group: 'case-5' },
        { key: 'k1', payload: { mobile: '13831100448', n: 98 }, group: 'case-5' },
        { key: 'u1', payload: { mobile: '13831100449', n: 7 } },
      ]);
      assert.equal(added, 4, 'k0 was there before, and k1 comes twice');
      assert.equal(await q.addMany('bulk', []), 0);
      const seen: string[] = [];
      workers.push(q.work<Sms>('bulk', async (job) => { if (job.key !== 'u1') seen.push(`${job.key}:${job.payload.n}`); return { outcome: 'done' }; }, OPTIONS));
      await until('all done', async () => (await q.depth('bulk')) === 0);
      assert.deepEqual(seen, ['k0:0', 'k3:3', 'k1:1', 'k2:2'], 'in the order added; the first of a key kept');

      // Many at once, as a webhook fan-out adds them.
      const many = Array.from({ length: 3000 }, (_, i) => ({ key: `m${String(2999 - i).padStart(4, '0')}`, payload: { mobile: '13831100450', n: i }, group: `case-${i % 300}` }));
      const t0 = Date.now();
      assert.equal(await q.addMany('bulk-many', many), 3000);
      const took = Date.now() - t0;
      assert.ok(took < 5000, `3,000 jobs added in ${took} ms`);
      assert.equal(await q.depth('bulk-many'), 3000);
    });

    it('tells an operator how far a queue lags and how it stands, and purges a queue whole', async () => {
      const q = node();
      assert.equal(await q.oldestOpen('figures'), null);
      assert.deepEqual(await q.stats('figures'), { waiting: 0, active: 0, dead: 0, lastDoneAt: null });
      const before = Date.now();
      await q.add('figures', 'late', { mobile: '13831100453', n: 0 }, { delayMs: 60_000 });
      await sleep(20);
      await q.add('figures', 'ok', { mobile: '13831100453', n: 1 });
      await q.add('figures', 'bad', { mobile: '13831100453', n: 2 });
      await q.add('figures', 'slow', { mobile: '13831100453', n: 3 });
      let release!: () => void;
      const slow = new Promise<void>((r) => { release = r; });
      const w = q.work<Sms>('figures', async (job): Promise<JobOutcome<Sms>> => {
        if (job.key === 'bad') return { outcome: 'failed', reason: 'refused' };
        if (job.key === 'slow') await Promise.race([slow, new Promise((r) => job.signal.addEventListener('abort', r))]);
        return { outcome: 'done' };
      }, OPTIONS);
      workers.push(w);
      await until('ok done, bad dead, slow running', async () => {
        const s = await q.stats('figures');
        return s.waiting === 1 && s.active === 1 && s.dead === 1 && s.lastDoneAt !== null;
      });
      const stats = await q.stats('figures');
      assert.match(stats.lastDoneAt!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$/);
      assert.ok(Math.abs(Date.parse(stats.lastDoneAt!) - Date.now()) < 5000);
      const oldest = await q.oldestOpen('figures');
      assert.ok(oldest && oldest.getTime() >= before - 1000 && oldest.getTime() <= before + 1000, `the delayed job, added first: ${oldest?.toISOString()}`);
      release();
      await until('slow done', async () => (await q.stats('figures')).active === 0);

      await w.stop();
      assert.notDeepEqual(await fx.leftOf('figures'), [], 'the store holds the queue before the purge');
      assert.equal(await q.purge('figures'), 4);
      assert.deepEqual(await q.stats('figures'), { waiting: 0, active: 0, dead: 0, lastDoneAt: null });
      assert.equal(await q.oldestOpen('figures'), null);
      assert.deepEqual(await fx.leftOf('figures'), [], 'the store kept nothing of the queue');
      assert.equal(await q.purge('figures'), 0);
      assert.equal(await q.add('figures', 'ok', { mobile: '13831100453', n: 1 }), true, 'the queue is new');
    });

    it('counts how far a queue lags from when its jobs began to wait, given at the add (an event applied before), parked in a group or not, and a replayed job from its replay', async () => {
      const q = node();
      const now = Date.now();
      const applied = new Date(now - 90_000);
      // Added later than a job that began to wait earlier: the lag is the earlier one's.
      await q.addMany('waited', [{ key: 'fresh', payload: { mobile: '13831100453', n: 0 } }]);
      await q.addMany('waited', [
        { key: 'head', group: 'c1', payload: { mobile: '13831100453', n: 1 }, since: new Date(now - 30_000) },
        { key: 'parked', group: 'c1', payload: { mobile: '13831100453', n: 2 }, since: applied },
        // A moment after now (a clock ahead on the node that applied it) counts as now.
        { key: 'ahead', payload: { mobile: '13831100453', n: 3 }, since: new Date(now + 3_600_000) },
      ]);
      const lag = async () => (Date.now() - (await q.oldestOpen('waited'))!.getTime()) / 1000;
      const first = await lag();
      assert.ok(first >= 90 && first < 95, `the parked job's 90 s: ${first} s`);
      // Its job refused for good (dead) and then replayed: it waits again from the replay.
      let refuse = true;
      const w = q.work<Sms>('waited', async (job): Promise<JobOutcome<Sms>> => (job.key === 'parked' && refuse ? { outcome: 'failed', reason: 'refused' } : { outcome: 'done' }), OPTIONS);
      workers.push(w);
      await until('fresh, head and ahead done, parked dead', async () => {
        const st = await q.stats('waited');
        return st.dead === 1 && st.waiting + st.active === 0;
      });
      assert.equal(await q.oldestOpen('waited'), null, 'no job open: no lag');
      await w.stop();
      refuse = false;
      assert.equal(await q.replay('waited'), 1);
      const replayed = await lag();
      assert.ok(replayed >= 0 && replayed < 5, `the replayed job waits from its replay: ${replayed} s`);
    });

    it('forgets the jobs done longer ago than asked, oldest first and no more than the limit; their keys may be added again, the others not', async () => {
      const q = node();
      for (const key of ['old-1', 'old-2', 'old-3', 'recent', 'waiting']) await q.add('prune', key, { mobile: '13831100456', n: 1 });
      let done = 0;
      const worker = q.work<Sms>('prune', async (job) => (job.key === 'waiting' ? { outcome: 'retry', reason: 'not yet', afterMs: 60_000 } : { outcome: 'done' }), {
        ...OPTIONS, giveUpAfterMs: 3600_000, onOutcome: (_j, _o, s) => { if (s === 'done') done++; },
      });
      try {
        await until('four done', () => done === 4);
      } finally {
        await worker.stop();
      }
      const day = 86_400_000;
      await fx.doneAgo('prune', 'old-1', 3 * day);
      await fx.doneAgo('prune', 'old-2', 3 * day);
      await fx.doneAgo('prune', 'old-3', 4 * day);
      assert.equal(await q.prune('prune', day, 2), 2, 'no more than the limit');
      assert.equal(await fx.stored('prune', 'old-3'), null, 'the oldest first');
      assert.equal(await q.prune('prune', day, 10), 1);
      assert.equal(await q.prune('prune', day, 10), 0);
      const left = [];
      for (const key of ['old-1', 'old-2', 'old-3', 'recent', 'waiting']) if (await fx.stored('prune', key)) left.push(key);
      assert.deepEqual(left, ['recent', 'waiting'], 'recent and unfinished jobs stay');
      assert.equal(await q.add('prune', 'old-1', { mobile: '13831100456', n: 2 }), true, 'a forgotten key may be added again');
      assert.equal(await q.add('prune', 'recent', { mobile: '13831100456', n: 2 }), false, 'a key done recently is still guarded');
    });
  });
}
