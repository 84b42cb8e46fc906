import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { walkFeed, CursorState, FeedPage, canonicalTime, feedTime } from './soap-poll';

type Rec = { key: string; time: string };

/**
 * The department's feed as its SPEC promises it: records ordered by (time, key), pages of a fixed
 * size from a start time (inclusive), the number of pages now, never a record with a time before
 * one already served, never a record removed or altered.
 */
class FakeFeed {
  readonly records: Rec[] = [];
  latestServed = '';
  constructor(readonly pageSize: number) {}

  add(r: Rec): void {
    assert.ok(r.time >= this.latestServed, `the test broke the feed's promise: ${r.time} < ${this.latestServed}`);
    let i = this.records.length;
    while (i > 0 && (this.records[i - 1].time > r.time || (this.records[i - 1].time === r.time && this.records[i - 1].key > r.key))) i--;
    this.records.splice(i, 0, r);
  }

  query(from: string, page: number): FeedPage {
    const start = this.records.findIndex((r) => r.time >= from);
    const tail = start === -1 ? [] : this.records.slice(start);
    const records = tail.slice((page - 1) * this.pageSize, page * this.pageSize);
    for (const r of records) if (r.time > this.latestServed) this.latestServed = r.time;
    return { records: records.map((r) => ({ ...r })), totalPages: Math.ceil(tail.length / this.pageSize) };
  }
}

const t = (n: number) => `T${String(n).padStart(6, '0')}`;
const num = (time: string) => Number(time.slice(1) || 0);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface Scenario { seed: number; pageSize: number; initial: number; ticks: number; crashRate: number; insertRate: number }

/**
 * Polls a feed that grows while it is read — runs of equal times across page boundaries, records
 * inserted between two pages at the time last served (so they sort among records already read),
 * crashes before a page's transaction commits — and counts how often each record is applied.
 */
async function simulate(s: Scenario): Promise<{ applied: Map<string, number>; feed: FakeFeed; restarts: number; final: CursorState }> {
  const rand = mulberry32(s.seed);
  const feed = new FakeFeed(s.pageSize);
  let serial = 0;
  let clock = 1;
  const newKey = () => `${Math.floor(rand() * 1e6).toString(36).padStart(4, '0')}-${serial++}`;
  const grow = (n: number) => {
    for (let i = 0; i < n; i++) {
      // Mostly ties: the same time as the previous record, sometimes long runs of it.
      if (rand() > 0.7) clock = Math.max(clock, num(feed.latestServed)) + 1 + Math.floor(rand() * 2);
      feed.add({ key: newKey(), time: t(Math.max(clock, num(feed.latestServed))) });
    }
  };
  grow(s.initial);
  let stored: CursorState = { position: t(0), keys: [] };
  const applied = new Map<string, number>();
  let restarts = 0;
  const walk = (inserting: boolean) => walkFeed(stored, {
    fetch: async (position, page) => {
      if (inserting && rand() < s.insertRate) {
        const n = 1 + Math.floor(rand() * 4);
        for (let i = 0; i < n; i++) {
          const base = Math.max(clock, num(feed.latestServed));
          const time = rand() < 0.6 && feed.latestServed ? feed.latestServed : t(base + Math.floor(rand() * 2));
          clock = Math.max(clock, num(time));
          feed.add({ key: newKey(), time });
        }
      }
      return feed.query(position, page);
    },
    keyOf: (r) => (r as Rec).key,
    timeOf: (r) => (r as Rec).time,
    apply: async (_page, _no, fresh, next) => {
      if (inserting && rand() < s.crashRate) throw new Error('crash before commit');
      for (const f of fresh) applied.set((f.record as Rec).key, (applied.get((f.record as Rec).key) ?? 0) + 1);
      stored = next;
    },
    aborted: () => false,
  });
  for (let tick = 0; tick < s.ticks; tick++) {
    for (let w = 0; w < 20; w++) {
      try {
        const r = await walk(true);
        if (!r.restart) break;
        restarts++;
      } catch (err) {
        if ((err as Error).message !== 'crash before commit') throw err;
      }
    }
    if (tick < s.ticks / 2) grow(Math.floor(rand() * s.pageSize * 2));
  }
  // The feed is quiet at the end: poll until nothing is fresh any more.
  for (let i = 0; i < 100; i++) {
    const r = await walk(false);
    if (!r.restart && r.fresh === 0) break;
  }
  return { applied, feed, restarts, final: stored };
}

describe('soap-poll: walking a paged change feed', () => {
  it('applies every record exactly once while the feed grows, ties cross pages and pages are read again after crashes', async () => {
    let restarts = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer(),
          pageSize: fc.integer({ min: 2, max: 12 }),
          initial: fc.integer({ min: 0, max: 80 }),
          ticks: fc.integer({ min: 1, max: 8 }),
          crashRate: fc.constantFrom(0, 0.05, 0.2),
          insertRate: fc.constantFrom(0, 0.3, 0.8),
        }),
        async (s) => {
          const { applied, feed, restarts: r, final } = await simulate(s);
          restarts += r;
          const missing = feed.records.filter((x) => !applied.has(x.key)).map((x) => x.key);
          assert.deepEqual(missing, [], `lost: ${missing.join(', ')}`);
          const twice = [...applied].filter(([, n]) => n !== 1).map(([k, n]) => `${k}×${n}`);
          assert.deepEqual(twice, [], `applied more than once: ${twice.join(', ')}`);
          assert.equal(applied.size, feed.records.length);
          if (feed.records.length) assert.equal(final.position, feed.records[feed.records.length - 1].time);
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(restarts > 0, 'the runs exercised records inserted behind the page being read');
  });

  it('walks more than a page of records sharing one time, and reads none of them twice', async () => {
    const feed = new FakeFeed(100);
    for (let i = 0; i < 250; i++) feed.add({ key: `k${String(i).padStart(3, '0')}`, time: t(5) });
    feed.add({ key: 'later', time: t(6) });
    const applied: string[] = [];
    const states: CursorState[] = [];
    const deps = {
      fetch: async (p: string, page: number) => feed.query(p, page),
      keyOf: (r: unknown) => (r as Rec).key,
      timeOf: (r: unknown) => (r as Rec).time,
      apply: async (_p: FeedPage, _n: number, fresh: { record: unknown }[], next: CursorState) => { applied.push(...fresh.map((f) => (f.record as Rec).key)); states.push(next); },
      aborted: () => false,
    };
    const r = await walkFeed({ position: t(0), keys: [] }, deps);
    assert.equal(r.pages, 3);
    assert.equal(applied.length, 251);
    // After the first page the cursor cannot move (every record has time 5), but it knows their keys.
    assert.deepEqual({ position: states[0].position, keys: states[0].keys.length }, { position: t(5), keys: 100 });
    assert.deepEqual(r.state, { position: t(6), keys: ['later'] });
    // The next poll reads the last record again and applies nothing.
    applied.length = 0;
    const again = await walkFeed(r.state, deps);
    assert.deepEqual({ pages: again.pages, fresh: again.fresh, applied }, { pages: 1, fresh: 0, applied: [] });
  });

  it('does not apply a page that repeats records read earlier in the walk, and starts again from the cursor', async () => {
    const feed = new FakeFeed(3);
    for (const [key, time] of [['a', 1], ['b', 2], ['d', 2], ['e', 3], ['f', 4]] as const) feed.add({ key, time: t(time) });
    const applied: string[] = [];
    let fetches = 0;
    const r = await walkFeed({ position: t(0), keys: [] }, {
      fetch: async (p, page) => {
        // Between page 1 and page 2, the office adds "c" at the time it last served (2): it sorts
        // before "d", already read, so page 2 starts with "d" again.
        if (++fetches === 2) feed.add({ key: 'c', time: t(2) });
        return feed.query(p, page);
      },
      keyOf: (x) => (x as Rec).key,
      timeOf: (x) => (x as Rec).time,
      apply: async (_p, _n, fresh) => { applied.push(...fresh.map((f) => (f.record as Rec).key)); },
      aborted: () => false,
    });
    assert.equal(r.restart, true);
    assert.deepEqual(applied, ['a', 'b', 'd']);
    assert.deepEqual(r.state, { position: t(2), keys: ['b', 'd'] });
  });

  it('writes and reads the feed notation of times', () => {
    assert.equal(canonicalTime('2026-11-24 09:31:05', 'yyyy-MM-dd HH:mm:ss'), '2026-11-24T09:31:05+08:00');
    assert.equal(canonicalTime('not a time', 'yyyy-MM-dd HH:mm:ss'), null);
    assert.equal(feedTime('2026-11-24T09:31:05+08:00', 'yyyy-MM-dd HH:mm:ss'), '2026-11-24 09:31:05');
    assert.equal(feedTime('2026-11-24T09:31:05.250+08:00', 'yyyyMMddHHmmss'), '20261124093105');
    assert.equal(feedTime('2026-11-24T09:31:05+08:00', 'iso8601'), '2026-11-24T09:31:05+08:00');
  });
});
