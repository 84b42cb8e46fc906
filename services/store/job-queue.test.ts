import assert from 'node:assert/strict';
import { StoreJobQueue } from './job-queue';
import type { JobState, JobWorker } from '../../core/ports/jobs';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';
import { describeJobQueueBehaviours, OPTIONS, sleep, until } from '../../test/support/job-queue-behaviours';
import type { Sms } from '../../test/support/job-queue-behaviours';
import { readKeyFile, withNewKey, writeKeyFile, sealedKeyId } from '../../core/kernel/data-keys';
import { rekeyStore } from '../keys/rekey';
import type { SqlDriver, SqlExecutor } from './sql-driver';

/**
 * A driver that writes down every statement sent through it (a transaction's too) before it runs;
 * those matching `slow` it sends 150 ms late, as a loaded store would answer them.
 */
function recording(driver: SqlDriver, log: { sql: string; params: unknown[] }[], slow?: RegExp): SqlDriver {
  const logged = <T extends SqlExecutor>(x: T): T => Object.create(x, {
    query: {
      value: async (sql: string, params: unknown[] = []) => {
        log.push({ sql, params });
        if (slow?.test(sql)) await sleep(150);
        return x.query(sql, params);
      },
    },
  });
  return Object.create(logged(driver), {
    transaction: { value: <T>(fn: (tx: SqlExecutor) => Promise<T>) => driver.transaction((tx) => fn(logged(tx))) },
  });
}

for (const kind of STORES) {
  describeJobQueueBehaviours(`job queue in the store (${kind} store)`, () => {
    const t = useStore(kind, 'job-queue');
    return {
      node: (pollMs) => new StoreJobQueue(t.store.driver, t.store.keys, pollMs),
      restart: async () => {
        await t.store.close();
        await t.reopen();
      },
      stored: async (queue, key) => {
        const row = (await t.store.driver.query<{ payload: string | null; result: unknown }>('SELECT payload, result FROM jobs WHERE queue = $1 AND key = $2', [queue, key])).rows[0];
        return row ? { payload: row.payload, result: typeof row.result === 'string' ? JSON.parse(row.result) : row.result } : null;
      },
      leftOf: async (queue) => (await t.store.driver.query<{ what: string }>(
        "SELECT 'jobs: ' || key AS what FROM jobs WHERE queue = $1 UNION ALL SELECT 'job_queues: ' || queue FROM job_queues WHERE queue = $1", [queue])).rows.map((r) => r.what),
      doneAgo: async (queue, key, ms) => {
        await t.store.driver.query("UPDATE jobs SET finished_at = now() - $3::float8 * interval '1 millisecond' WHERE queue = $1 AND key = $2", [queue, key, ms]);
      },
      // useStore closes the store (and drops the database) after the suite.
      cleanup: async () => undefined,
    };
  });

  describe(`job queue in the store: its rows, statements and claims (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'job-queue-store');
    const workers: JobWorker[] = [];
    // Two queues on one store: two nodes sharing it.
    const node = (pollMs = 50) => new StoreJobQueue(t.store.driver, t.store.keys, pollMs);
    afterEach(async () => { await Promise.all(workers.splice(0).map((w) => w.stop())); });

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

    it('takes over the jobs of a node that died mid-attempt, and gives back unfinished ones when it stops, their attempts not counted', async () => {
      const a = node();
      await a.add('takeover', 'k1', { mobile: '13831100433', n: 1 });
      let release!: () => void;
      const stuck = new Promise<void>((r) => { release = r; });
      let aborted = false;
      let running = false;
      const wa = a.work<Sms>('takeover', async (job) => {
        running = true;
        await Promise.race([stuck, new Promise((r) => job.signal.addEventListener('abort', r))]);
        aborted = job.signal.aborted;
        return { outcome: 'retry', reason: 'aborted' };
      }, OPTIONS);
      await until('a holds the job', async () => (await t.store.driver.query("SELECT 1 FROM jobs WHERE queue = 'takeover' AND state = 'active'")).rows.length === 1);
      // Claimed is not yet attempted: the worker starts the attempt once its claim has answered.
      await until('a attempts the job', () => running);
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

    it('keeps the jobs behind a retried one of their group out of the claims until it is due again', async () => {
      const q = node();
      for (const key of ['h1', 'h2', 'h3']) await q.add('behind', key, { mobile: '13831100454', n: 0 }, { group: 'case-6' });
      await q.add('behind', 'loose', { mobile: '13831100454', n: 0 });
      let claim = await q.claim('behind', 10, 0);
      assert.deepEqual(claim.jobs.map((j) => j.key), ['h1', 'loose'], 'the first of the group, and the job without one');
      // h2 and h3 are due, but behind h1: nothing to claim, and nothing to wake for but a poke or a poll.
      claim = await q.claim('behind', 10, 0);
      assert.deepEqual(claim.jobs, []);
      assert.equal(claim.wakeInMs, Number.POSITIVE_INFINITY, 'a job behind a running one is not due');
      assert.equal(await q.finish('behind', 'h1', { outcome: 'retry', reason: 'subscriber answered 503' }, { backoffMs: 5000, giveUpAfterMs: 60_000 }), 'waiting');
      await q.finish('behind', 'loose', { outcome: 'done' }, { backoffMs: 0, giveUpAfterMs: 60_000 });
      await q.add('behind', 'h4', { mobile: '13831100454', n: 0 }, { group: 'case-6' });
      await q.addMany('behind', [{ key: 'h5', payload: { mobile: '13831100454', n: 0 }, group: 'case-6' }]);
      const due = (await t.store.driver.query<{ key: string; behind: boolean }>(
        "SELECT key, run_at >= (SELECT run_at FROM jobs WHERE queue = 'behind' AND key = 'h1') AS behind FROM jobs WHERE queue = 'behind' AND key <> 'h1' AND key <> 'loose' ORDER BY seq")).rows;
      assert.deepEqual(due.map((r) => [r.key, r.behind]), [['h2', true], ['h3', true], ['h4', true], ['h5', true]], 'due no sooner than h1, added before its retry or after');
      // Nothing is due, and the worker would sleep until h1 is, rather than claim again at once for ever.
      claim = await q.claim('behind', 10, 0);
      assert.deepEqual(claim.jobs, []);
      assert.ok(claim.wakeInMs > 4000 && claim.wakeInMs <= 5000, `wakes in ${claim.wakeInMs} ms`);
    });

    it('adds many jobs in one statement, their seq following the array', async () => {
      const log: { sql: string; params: unknown[] }[] = [];
      const q = new StoreJobQueue(recording(t.store.driver, log), t.store.keys, 50);
      await q.add('bulk', 'k0', { mobile: '13831100448', n: 0 }, { group: 'case-5' });
      log.length = 0;
      const some = ['k3', 'k1', 'k0', 'k2', 'k1', 'u1'].map((key, n) => ({ key, payload: { mobile: '13831100448', n }, group: key === 'u1' ? undefined : 'case-5' }));
      assert.equal(await q.addMany<Sms>('bulk', some), 4, 'k0 was there before, and k1 comes twice');
      assert.equal(log.length, 1, 'one statement');

      // Many at once, as a webhook fan-out adds them: still one statement, in order within each group.
      const many = Array.from({ length: 3000 }, (_, i) => ({ key: `m${String(2999 - i).padStart(4, '0')}`, payload: { mobile: '13831100450', n: i }, group: `case-${i % 300}` }));
      log.length = 0;
      assert.equal(await q.addMany('bulk-many', many), 3000);
      assert.equal(log.length, 1);
      const rows = (await t.store.driver.query<{ key: string }>("SELECT key FROM jobs WHERE queue = 'bulk-many' ORDER BY seq")).rows;
      assert.deepEqual(rows.map((r) => r.key), many.map((m) => m.key), 'seq follows the array');
    });

    it('claims through the group index, one statement a claim', async () => {
      const log: { sql: string; params: unknown[] }[] = [];
      const q = new StoreJobQueue(recording(t.store.driver, log), t.store.keys, 50);
      // A backlog of many groups, a few jobs each, and an ungrouped queue beside it.
      const jobs = Array.from({ length: 4000 }, (_, i) => ({ key: `p${i}`, payload: { mobile: '13831100451', n: i }, group: `case-${i % 1000}` }));
      assert.equal(await q.addMany('planned', jobs), 4000);
      await q.addMany('planned-other', Array.from({ length: 4000 }, (_, i) => ({ key: `o${i}`, payload: { mobile: '13831100451', n: i } })));
      await t.store.driver.query('ANALYZE jobs');
      log.length = 0;
      const claim = await q.claim('planned', 4, 0);
      assert.deepEqual(claim.jobs.map((j) => j.key), ['p0', 'p1', 'p2', 'p3'], 'the first added, each the first of its group');
      const claims = log.filter((s) => /SET state = 'active'/.test(s.sql));
      assert.equal(claims.length, 1);
      const plan = (await t.store.driver.transaction(async (tx) => (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${claims[0].sql}`, claims[0].params)).rows))
        .map((r) => r['QUERY PLAN']).join('\n');
      // A group's earlier jobs are found through its index, and the due jobs read in order from theirs
      // (no sort of every job due at the same moment), so that the claim stops at its limit.
      assert.match(plan, /Index Only Scan using jobs_group_open/, plan);
      assert.match(plan, /Index Scan using jobs_open/, plan);
      assert.doesNotMatch(plan, /Sort/, plan);
    });

    it('records the jobs a worker finished together in one statement, and every job done before stop() ends', async () => {
      const log: { sql: string; params: unknown[] }[] = [];
      // Each record of jobs done takes a while: stop() must wait for it all the same.
      const q = new StoreJobQueue(recording(t.store.driver, log, /SET state = 'done'/), t.store.keys, 50);
      await q.addMany('burst', Array.from({ length: 20 }, (_, i) => ({ key: `b${i}`, payload: { mobile: '13831100452', n: i } })));
      let open!: () => void;
      const gate = new Promise<void>((r) => { open = r; });
      let started = 0;
      const states: JobState[] = [];
      const w = q.work<Sms>('burst', async (job) => {
        started++;
        await Promise.race([gate, new Promise((r) => job.signal.addEventListener('abort', r))]);
        return { outcome: 'done', result: { n: job.payload.n } };
      }, { ...OPTIONS, concurrency: 20, onOutcome: (_j, _o, s) => states.push(s) });
      await until('all twenty running', () => started === 20);
      log.length = 0;
      open();
      await until('all twenty recorded', () => states.length === 20);
      const writes = log.filter((s) => /SET state = 'done'/.test(s.sql)).length;
      assert.ok(writes <= 2, `${writes} statements for 20 jobs done together`);
      const done = (await t.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = 'burst' AND state = 'done' AND result IS NOT NULL")).rows[0];
      assert.equal(Number(done.n), 20);

      // Done as the worker stops (answered before the abort was heeded): recorded before stop() resolves.
      await q.addMany('burst', Array.from({ length: 10 }, (_, i) => ({ key: `s${i}`, payload: { mobile: '13831100452', n: i } })));
      await until('the next ten running', () => started === 30);
      await w.stop();
      const rows = (await t.store.driver.query<{ state: string }>("SELECT state FROM jobs WHERE queue = 'burst' AND key LIKE 's%'")).rows;
      assert.deepEqual(rows.map((r) => r.state), Array(10).fill('done'));
      assert.equal(states.length, 30);
    });
  });
}
