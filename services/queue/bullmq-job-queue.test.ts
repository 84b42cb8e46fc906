import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import IORedis from 'ioredis';
import { BullJobQueue, bullName, jobIdOf } from './bullmq-job-queue';
import { DataKeys, writeKeyFile, readKeyFile, withNewKey, sealedKeyId } from '../../core/kernel/data-keys';
import type { JobWorker } from '../../core/ports/jobs';
import { describeJobQueueBehaviours, OPTIONS, sleep, until } from '../../test/support/job-queue-behaviours';
import type { JobQueueFixture, Sms } from '../../test/support/job-queue-behaviours';

/** The Redis of the machine (cluster mode's HUB_QUEUE); never flushed: each run has a prefix of its own, deleted after. */
const REDIS_URL = process.env.HUB_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/**
 * Queue nodes on the machine's Redis under a prefix of their own, and what the tests read of Redis
 * beside them. `cleanup` closes the nodes and deletes every key under the prefix, and nothing else.
 */
function onRedis(): Omit<JobQueueFixture, 'node'> & { node(): BullJobQueue; redis: IORedis; index(queue: string, what: string): string } {
  const prefix = `hubtest-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullmq-job-queue-'));
  const keys = DataKeys.open(path.join(dir, 'keys.json'), { create: true });
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues: BullJobQueue[] = [];
  const index = (queue: string, what: string) => `${prefix}:hub:${queue}:${what}`;
  const closeNodes = () => Promise.all(queues.splice(0).map((q) => q.close()));
  return {
    redis,
    index,
    // Each node has its own connection, as each hub node of a cluster has.
    node: () => {
      const q = new BullJobQueue(REDIS_URL, keys, { prefix });
      queues.push(q);
      return q;
    },
    // Every node stops (its connection closed); Redis keeps the jobs.
    restart: async () => { await closeNodes(); },
    stored: async (queue, key) => {
      const group = await redis.hget(index(queue, 'known'), key);
      if (group === null) return null;
      // A job BullMQ holds (under its encoded id), or one parked in its group's list behind the head.
      let payload = await redis.hget(`${prefix}:${bullName(queue)}:${jobIdOf(key)}`, 'data');
      if (payload === null && group) payload = (await redis.lrange(index(queue, `g:${group}`), 0, -1)).find((e) => (JSON.parse(e) as { k: string }).k === key) ?? null;
      const result = await redis.hget(index(queue, 'results'), key);
      return { payload, result: result === null ? null : JSON.parse(result) };
    },
    leftOf: async (queue) => [...(await redis.keys(`${prefix}:${bullName(queue)}:*`)), ...(await redis.keys(`${prefix}:hub:${queue}:*`))],
    doneAgo: async (queue, key, ms) => { await redis.zadd(index(queue, 'done'), Date.now() - ms, key); },
    cleanup: async () => {
      await closeNodes();
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        if (found.length) await redis.del(...found);
        cursor = next;
      } while (cursor !== '0');
      await redis.quit();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

describeJobQueueBehaviours('job queue on BullMQ (Redis)', onRedis);

describe('job queue on BullMQ (Redis): its keys in Redis', function () {
  this.timeout(60_000);
  const r = onRedis();
  const node = () => r.node();
  const workers: JobWorker[] = [];
  afterEach(async () => { await Promise.all(workers.splice(0).map((w) => w.stop())); });
  after(async () => { await r.cleanup(); });

  it('parks the jobs of a group behind its head in a Redis list, in their order', async () => {
    const q = node();
    const many = Array.from({ length: 3000 }, (_, i) => ({ key: `m${String(2999 - i).padStart(4, '0')}`, payload: { mobile: '13831100450', n: i }, group: `case-${i % 300}` }));
    assert.equal(await q.addMany('parked', many), 3000);
    const parked = await r.redis.lrange(r.index('parked', 'g:case-7'), 0, -1);
    assert.deepEqual(parked.map((e) => JSON.parse(e).k), many.filter((m) => m.group === 'case-7').slice(1).map((m) => m.key), 'the group waits behind its head in its order');
  });

  it('finishes an add that a node recorded and died before BullMQ held it', async () => {
    const q = node();
    // The first half of an add, as a node that died before the second would leave it.
    const conn = q.connection as unknown as { hubAdd(base: string, ...args: (string | number)[]): Promise<number[]> };
    const now = Date.now();
    assert.deepEqual(await conn.hubAdd(q.base('swept'), now, 'lost', '', q.seal({ mobile: '13831100455', n: 1 }), now, now), [1]);
    assert.equal(await q.depth('swept'), 1);
    assert.equal(await q.sweep('swept'), 0, 'not before its grace');
    const seen: number[] = [];
    workers.push(q.work<Sms>('swept', async (job) => { seen.push(job.payload.n); return { outcome: 'done' }; }, OPTIONS));
    await sleep(300);
    assert.deepEqual(seen, [], 'BullMQ never held it');
    assert.equal(await q.sweep('swept', 0), 1);
    await until('the lost job done', async () => (await q.depth('swept')) === 0);
    assert.deepEqual(seen, [1]);
    assert.equal(await q.sweep('swept', 0), 0);
  });
});

describe('job queue on BullMQ (Redis): hub rekey moves the payloads kept in Redis', function () {
  this.timeout(60_000);
  const prefix = `hubtest-rekey-${process.pid}-${randomBytes(4).toString('hex')}`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullmq-rekey-'));
  const keyFile = path.join(dir, 'keys.json');
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const queues: BullJobQueue[] = [];
  const workers: JobWorker[] = [];
  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(queues.map((q) => q.close()));
    const found = await redis.keys(`${prefix}:*`);
    if (found.length) await redis.del(...found);
    await redis.quit();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The key ids of every sealed payload under the prefix, wherever it is kept. */
  async function sealedUnder(): Promise<string[]> {
    const ids: string[] = [];
    for (const key of await redis.keys(`${prefix}:*`)) {
      const type = await redis.type(key);
      const values = type === 'hash' ? Object.values(await redis.hgetall(key)) : type === 'list' ? await redis.lrange(key, 0, -1) : [];
      for (const raw of values) {
        try {
          const s = (JSON.parse(raw) as { s?: unknown }).s;
          if (typeof s === 'string') ids.push(sealedKeyId(s)!);
        } catch { /* not one of ours */ }
      }
    }
    return ids;
  }

  it('reseals BullMQ\'s jobs and the jobs parked behind their group under the new key, so that they still run once the old key is gone', async () => {
    writeKeyFile(keyFile, withNewKey(null, new Date('2026-01-01T00:00:00Z')));
    const keys = DataKeys.open(keyFile);
    const oldKey = keys.currentId;
    const q = new BullJobQueue(REDIS_URL, keys, { prefix });
    queues.push(q);
    // A job of its own, and a case's three deliveries: its head in BullMQ, two parked behind it.
    await q.add('sms', 'one', { mobile: '13831100425', n: 1 });
    await q.addMany('outbound:sub', [2, 3, 4].map((n) => ({ key: `e${n}`, payload: { mobile: '13831100425', n }, group: 'case-1' })));
    const before = await sealedUnder();
    assert.ok(before.length >= 4, `sealed payloads in Redis: ${before.length}`);
    assert.ok(before.every((id) => id === oldKey));

    writeKeyFile(keyFile, withNewKey(readKeyFile(keyFile), new Date('2026-06-01T00:00:00Z')));
    assert.ok(keys.reload());
    const newKey = keys.currentId;
    const first = await q.resealPayloads();
    assert.equal(first.resealed, before.length);
    assert.deepEqual(await q.resealPayloads(), { scanned: before.length, resealed: 0, changed: 0 }, 'a second pass finds nothing left');
    assert.deepEqual([...new Set(await sealedUnder())], [newKey]);

    // The old key leaves the key file: every job still opens, and the group keeps its order.
    const file = readKeyFile(keyFile);
    writeKeyFile(keyFile, { current: newKey, keys: file.keys.filter((k) => k.id !== oldKey) });
    assert.ok(keys.reload());
    const seen: number[] = [];
    for (const queue of ['sms', 'outbound:sub']) {
      workers.push(q.work<{ n: number }>(queue, async (job) => { seen.push(job.payload.n); return { outcome: 'done' }; }, OPTIONS));
    }
    await until('every job done', async () => seen.length === 4);
    assert.deepEqual(seen.filter((n) => n > 1), [2, 3, 4]);
    assert.deepEqual(seen.filter((n) => n === 1), [1]);
  });
});
