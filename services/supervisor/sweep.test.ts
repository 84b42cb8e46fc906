import assert from 'node:assert/strict';
import path from 'node:path';
import { Supervisor } from './supervisor';
import { STAT_COLUMNS } from './supervision-store';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';
import { taxEvent } from '../../test/support/events';
import { loadCalendarDir, DEFAULT_CALENDAR_DIR } from '../../core/calendar/calendar-file';
import { loadSharedTables } from '../../adapters/kit/mapping/shared-tables';
import { CONTRACTS_DIR } from '../../core/kernel/paths';
import { HubMetrics } from '../../core/kernel/metrics';
import { createLogger } from '../../core/kernel/logger';

const CASES = 90;
const BATCH = 7;
const LANES = 3;

for (const kind of STORES) {
  describe(`the supervision sweep, ${BATCH} cases per transaction in up to ${LANES} lanes (${kind} store)`, function () {
    this.timeout(120_000);
    const t = useStore(kind, 'sweep');
    const shared = loadSharedTables(path.join(CONTRACTS_DIR, 'registry.yaml'), path.join(CONTRACTS_DIR, 'catalogue.yaml'));
    let now = new Date();
    const supervisor = () => new Supervisor({
      store: t.store.supervision, years: loadCalendarDir(DEFAULT_CALENDAR_DIR).years, items: shared.items,
      config: { calendarDir: null, yellowAt: 0.8, items: {}, sweepSeconds: 30, sweepBatch: BATCH, sweepConcurrency: LANES },
      clock: () => now, leases: t.store.leases, metrics: new HubMetrics(), logger: createLogger('silent'),
    });

    /** `CASES` cases of 增值税一般纳税人登记 (5 working days) accepted Mon 2026-09-14, supervised then: GREEN, due to change on Fri 09-18. */
    async function greenCases(run: string): Promise<string[]> {
      now = new Date('2026-09-14T10:00:00+08:00');
      const results = await t.store.cases.apply(
        Array.from({ length: CASES }, (_, i) => taxEvent(`${run}-${i}`, `SW-${run}-${i}`, 'ACCEPTED', '2026-09-14T09:30:00+08:00')), { receivedAt: now });
      const codes = results.map((r) => (r.result === 'accepted' ? r.supervisionCode : assert.fail(JSON.stringify(r))));
      await supervisor().supervise(codes);
      return codes;
    }

    async function lightsOf(codes: readonly string[]): Promise<Record<string, number>> {
      const r = await t.store.driver.query<{ light: string; n: number }>('SELECT light, count(*)::int AS n FROM cases WHERE supervision_code = ANY($1::text[]) GROUP BY light', [codes]);
      return Object.fromEntries(r.rows.map((x) => [x.light, x.n]));
    }

    it('recomputes every case due, each light change stored, counted and alerted once', async () => {
      const codes = await greenCases('all');
      assert.deepEqual(await lightsOf(codes), { GREEN: CASES });
      const before = (await t.store.supervision.stats({})).reduce((sum, s) => sum + s.counts.green, 0);
      now = new Date('2026-09-21T00:00:05+08:00');
      assert.equal(await supervisor().sweep(), CASES);
      assert.deepEqual(await lightsOf(codes), { RED: CASES });
      assert.deepEqual((await t.store.supervision.due(now, 10)).codes, []);
      const alerts = (await t.store.driver.query<{ id: string; supervision_code: string; to_light: string }>(
        "SELECT id::text AS id, supervision_code, to_light FROM alerts WHERE kind = 'LIGHT_CHANGED' AND supervision_code = ANY($1::text[]) ORDER BY id", [codes])).rows;
      assert.deepEqual(alerts.map((a) => a.supervision_code).sort(), [...codes].sort());
      assert.ok(alerts.every((a) => a.to_light === 'RED'));
      const stats = await t.store.supervision.stats({});
      const sum = (c: (typeof STAT_COLUMNS)[number]) => stats.reduce((n, s) => n + s.counts[c], 0);
      assert.deepEqual([sum('green'), sum('yellow'), sum('red')], [before - CASES, 0, CASES]);
      assert.equal(await supervisor().sweep(), 0, 'nothing due any more');
    });

    it('ends each lane after its transaction in progress when the sweep is aborted; the next sweep does the rest', async () => {
      const codes = await greenCases('abort');
      now = new Date('2026-09-21T00:00:05+08:00');
      const stop = new AbortController();
      const aborted = supervisor();
      const supervise = aborted.supervise.bind(aborted);
      // The node stops as the first transaction commits.
      aborted.supervise = async (batch) => {
        const alerts = await supervise(batch);
        stop.abort();
        return alerts;
      };
      const first = await aborted.sweep(stop.signal);
      const lanes = t.store.supervision.sweepLanes(LANES);
      assert.ok(first >= BATCH && first <= lanes * BATCH, `${first} cases: the transaction in progress of each of ${lanes} lanes`);
      assert.equal((await lightsOf(codes)).RED, first);
      assert.equal(await supervisor().sweep(stop.signal), 0, 'nothing once stopped');
      assert.equal(await supervisor().sweep(), CASES - first);
      assert.deepEqual(await lightsOf(codes), { RED: CASES });
    });

    it(`splits the cases into ${kind === 'postgres' ? 'lanes none of which waits for another\'s case locks' : 'one lane: the embedded store runs one transaction at a time'}`, async () => {
      const codes = Array.from({ length: 200 }, (_, i) => `CODE-${i}`).reverse();
      const lanes = t.store.supervision.sweepLanes(LANES);
      assert.equal(lanes, kind === 'postgres' ? LANES : 1);
      const groups: string[][] = Array.from({ length: lanes }, () => []);
      for (const code of codes) groups[t.store.supervision.laneOf(code, lanes)].push(code);
      if (lanes === 1) return;
      assert.ok(groups.every((g) => g.length > codes.length / lanes / 2), `groups of about even size: ${groups.map((g) => g.length)}`);
      // Case locks held on one group, by the case store itself, do not stop another transaction taking another group's.
      const lockWhileHeld = async (held: string[], wanted: string[]) => {
        let release!: () => void;
        let locked!: () => void;
        const isLocked = new Promise<void>((r) => { locked = r; });
        const holder = t.store.driver.transaction(async (tx) => {
          await t.store.cases.lockCases(tx, held);
          locked();
          await new Promise<void>((r) => { release = r; });
        });
        await isLocked;
        try {
          await t.store.driver.transaction(async (tx) => {
            await tx.query("SET LOCAL lock_timeout = '2s'");
            await t.store.cases.lockCases(tx, wanted);
          });
        } finally {
          release();
          await holder;
        }
      };
      for (let i = 0; i < groups.length; i++) {
        for (let j = 0; j < groups.length; j++) if (i !== j) await lockWhileHeld(groups[i], groups[j]);
      }
      // The check can fail: the same group is refused while held.
      await assert.rejects(lockWhileHeld(groups[0], groups[0].slice(0, 1)), (err: { code?: string }) => err.code === '55P03');
    });
  });
}
