import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CaseEvent } from '../../contracts/types';
import type { Store } from '../store/open-store';
import { issueSupervisionCode } from '../../core/identifiers/supervision-code';
import { STORES } from '../../test/support/hub';
import { useStore } from '../../test/support/store';
import { taxEvent as event } from '../../test/support/events';
import { openApplicant } from '../../core/ports/sealed-data';


const STATUSES: CaseEvent['data']['status'][] = ['SUBMITTED', 'ACCEPTED', 'UNDER_REVIEW', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'SUSPENDED', 'RESUMED', 'APPROVED', 'COMPLETED'];

for (const kind of STORES) {
  describe(`case store: batches applied as sets (${kind} store)`, function () {
    this.timeout(300_000);
    const t = useStore(kind, 'case-store');

    it('accepts, finds or issues codes, refuses a contradicting code, answers repeats as duplicates, and projects each case once', async () => {
      const carried = issueSupervisionCode('130100', new Date());
      const other = issueSupervisionCode('130100', new Date());
      const batch = [
        event('a1', 'SX-A', 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
        event('a2', 'SX-A', 'ACCEPTED', '2026-11-24T10:00:00+08:00', other), // contradicts the code SX-A just got
        event('a1', 'SX-A', 'SUBMITTED', '2026-11-24T09:00:00+08:00'), // the same event again in the batch
        event('b1', 'SX-B', 'COMPLETED', '2026-11-24T11:00:00+08:00', carried),
        event('b2', 'SX-B', 'SUBMITTED', '2026-11-24T08:00:00+08:00'), // late: ordered by status time
        event('a3', 'SX-A', 'ACCEPTED', '2026-11-24T09:30:00+08:00'),
      ];
      const first = await t.store.cases.apply(batch, { receivedAt: new Date() });
      assert.deepEqual(first.map((r) => r.result), ['accepted', 'rejected', 'duplicate', 'accepted', 'accepted', 'accepted']);
      const codeA = (first[0] as { supervisionCode: string }).supervisionCode;
      assert.notEqual(codeA, other);
      assert.equal((first[1] as { field: string; rule: string }).rule, 'conflict');
      assert.equal((first[2] as { supervisionCode: string }).supervisionCode, codeA);
      assert.equal((first[3] as { supervisionCode: string }).supervisionCode, carried);
      assert.equal((first[4] as { supervisionCode: string }).supervisionCode, carried);
      assert.equal((first[5] as { supervisionCode: string }).supervisionCode, codeA);

      const a = await t.store.cases.get(codeA);
      assert.equal(a!.projection.status, 'ACCEPTED');
      assert.equal(a!.projection.eventCount, 2);
      const b = await t.store.cases.get(carried);
      assert.deepEqual(b!.timeline.map((e) => e.event.data.status), ['SUBMITTED', 'COMPLETED']);
      assert.equal(b!.projection.status, 'COMPLETED');

      const again = await t.store.cases.apply(batch, { receivedAt: new Date() });
      assert.deepEqual(again.map((r) => r.result), ['duplicate', 'rejected', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
      assert.equal(await t.store.cases.countEvents(), 4);

      // An event arriving later, out of order, in a batch of its own: the projection reads the earlier events back.
      const late = await t.store.cases.apply([event('a0', 'SX-A', 'SUBMITTED', '2026-11-24T08:30:00+08:00')], { receivedAt: new Date() });
      assert.equal(late[0].result, 'accepted');
      const a2 = await t.store.cases.get(codeA);
      assert.equal(a2!.projection.status, 'ACCEPTED');
      assert.equal(a2!.projection.eventCount, 3);
      assert.deepEqual(a2!.projection.applicant, batch[0].data.applicant);
    });

    it('keeps in each case row the projection of its whole timeline, for events arriving out of order, repeated, with and without halls, in batches split at random', async () => {
      let run = 0;
      await fc.assert(fc.asyncProperty(
        fc.array(fc.record({
          c: fc.integer({ min: 0, max: 3 }), s: fc.constantFrom(...STATUSES), m: fc.integer({ min: 0, max: 40 }),
          hall: fc.option(fc.constantFrom('A', 'B'), { nil: null }), name: fc.constantFrom('甲', '乙'),
        }), { minLength: 1, maxLength: 25 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
        async (specs, cuts) => {
          run++;
          const made: CaseEvent[] = specs.slice(0, 20).map((x, i) => {
            const time = `2026-11-24T${String(9 + Math.floor(x.m / 60)).padStart(2, '0')}:${String(x.m % 60).padStart(2, '0')}:00+08:00`;
            const e = event(`p${run}-${i}`, `SX-P${run}-${x.c}`, x.s, time);
            if (x.hall) e.data.department.hall = { code: `HALL-${x.hall}`, name: `大厅${x.hall}` };
            e.data.applicant = { ...e.data.applicant, name: `${x.name}公司` };
            return e;
          });
          // Past the twentieth, earlier events come again: repeats within a batch and across batches.
          const events = specs.map((_, i) => made[i < 20 ? i : (i * 7) % 20 % made.length]);
          let at = 0;
          for (const n of [...cuts, events.length]) {
            if (at >= events.length) break;
            await t.store.cases.apply(events.slice(at, at + n), { receivedAt: new Date() });
            at += n;
          }
          const codes = new Set<string>();
          for (const e of events) codes.add((await t.store.cases.lookup('tax-bureau', e.data.localCaseId))!);
          for (const code of codes) await assertRowIsProjection(t.store, code);
        }), { numRuns: 40 });
    });

    it('fills the timelines of cases stored before they were kept in the case row, and goes on from them', async () => {
      const first = [
        event('m1', 'SX-M', 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
        event('m2', 'SX-M', 'SUPPLEMENT_REQUESTED', '2026-11-24T11:00:00+08:00'),
      ];
      first[0].data.department.hall = { code: 'HALL-M', name: '大厅M' };
      await t.store.cases.apply(first, { receivedAt: new Date() });
      // The store as it was before migration 004 (and so before 010, which retypes the timeline): no
      // timeline column, a unique seq.
      await t.store.driver.exec(`ALTER TABLE cases DROP COLUMN timeline; ALTER TABLE events ADD CONSTRAINT events_seq_key UNIQUE (seq);
        DELETE FROM hub_migrations WHERE id LIKE '004-%' OR id LIKE '010-%'`);
      await t.store.close();
      await t.reopen();
      const code = (await t.store.cases.lookup('tax-bureau', 'SX-M'))!;
      const late = event('m0', 'SX-M', 'ACCEPTED', '2026-11-24T10:00:00+08:00');
      await t.store.cases.apply([late], { receivedAt: new Date() });
      await assertRowIsProjection(t.store, code);
      const row = (await t.store.driver.query<{ event_count: number; hall_code: string }>('SELECT event_count, hall_code FROM cases WHERE supervision_code = $1', [code])).rows[0];
      assert.deepEqual(row, { event_count: 3, hall_code: 'HALL-M' });
    });

    it('answers an event stored before under another local case id as a duplicate, creating no reference for that id', async () => {
      const first = event('same-key', 'SX-R1', 'SUBMITTED', '2026-11-24T09:00:00+08:00');
      const again = event('same-key', 'SX-R2', 'SUBMITTED', '2026-11-24T09:00:00+08:00');
      assert.equal((await t.store.cases.apply([first], { receivedAt: new Date() }))[0].result, 'accepted');
      assert.equal((await t.store.cases.apply([again], { receivedAt: new Date() }))[0].result, 'duplicate');
      const refs = await t.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM case_refs WHERE local_id = 'SX-R2'");
      assert.equal(refs.rows[0].n, 0);
    });

    it('applies the same events at once from two transactions naming different cases: each stored once, the other answered a duplicate', async () => {
      const pairs = Array.from({ length: 20 }, (_, i) => [
        event(`race-${i}`, `SX-RACE-A${i}`, 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
        event(`race-${i}`, `SX-RACE-B${i}`, 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
      ]);
      const results = await Promise.all(pairs.flatMap((p) => p.map((e) => t.store.cases.apply([e], { receivedAt: new Date() }))));
      for (let i = 0; i < pairs.length; i++) {
        assert.deepEqual([results[2 * i][0].result, results[2 * i + 1][0].result].sort(), ['accepted', 'duplicate'], `pair ${i}`);
      }
      const n = await t.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE id = ANY($1::text[])", [pairs.map((p) => p[0].id)]);
      assert.equal(n.rows[0].n, pairs.length);
    });

    it('gives a new case one code when two transactions bring its first events at once', async () => {
      const pairs = Array.from({ length: 20 }, (_, i) => [
        event(`new-a-${i}`, `SX-NEW-${i}`, 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
        event(`new-b-${i}`, `SX-NEW-${i}`, 'ACCEPTED', '2026-11-24T10:00:00+08:00'),
      ]);
      const results = await Promise.all([0, 1].map((side) => t.store.cases.apply(pairs.map((p) => p[side]), { receivedAt: new Date() })));
      for (let i = 0; i < pairs.length; i++) {
        assert.deepEqual([results[0][i].result, results[1][i].result], ['accepted', 'accepted'], `case ${i}`);
        const code = (results[0][i] as { supervisionCode: string }).supervisionCode;
        assert.equal((results[1][i] as { supervisionCode: string }).supervisionCode, code, `case ${i}`);
        const view = (await t.store.cases.get(code))!;
        assert.equal(view.projection.status, 'ACCEPTED');
        assert.equal(view.projection.eventCount, 2);
      }
      const refs = await t.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM case_refs WHERE local_id LIKE 'SX-NEW-%'");
      assert.equal(refs.rows[0].n, pairs.length);
    });

    it('keeps one open dead letter when two transactions refuse the same record at once', async () => {
      const letter = (raw: string) => ({
        rawMessageId: raw, recordIndex: 0, record: { LSH: 'R-DL' }, receivedAt: new Date(),
        failure: { adapter: 'tax-bureau', field: 'NSRSBH', value: 'x', rule: 'check-digit', reason: '纳税人识别号校验位错误', eventId: 'dl-race-event' },
      });
      await Promise.all(['raw-dl-1', 'raw-dl-2', 'raw-dl-3'].map((raw) => t.store.driver.transaction((tx) => t.store.deadLetters.addIn(tx, [letter(raw)]))));
      const n = await t.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM dead_letters WHERE event_id = 'dl-race-event'");
      assert.equal(n.rows[0].n, 1);
    });

    it('holds a bounded number of locks however many cases a batch touches', async () => {
      const many = Array.from({ length: 3000 }, (_, i) => event(`locks-${i}`, `SX-LOCK-${i}`, 'SUBMITTED', '2026-11-24T09:00:00+08:00'));
      const held = await t.store.driver.transaction(async (tx) => {
        await t.store.cases.applyIn(tx, many, { receivedAt: new Date() });
        return (await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")).rows[0].n;
      });
      assert.ok(held > 0 && held <= 1024, `${held} advisory locks`);
    });
  });
}

/** The case row as the store keeps it while applying equals the projection of every event of the case. */
/** The row's applicant is stored sealed (opened with the store's keys, it is the projection's), as are the events' (CaseStore.get opens them). */
async function assertRowIsProjection(store: Store, code: string): Promise<void> {
  const view = (await store.cases.get(code))!;
  const whole = view.projection;
  // The case is read through its row's timeline: it must name every event stored for the case.
  const stored = await store.driver.query<{ id: string }>('SELECT id FROM events WHERE supervision_code = $1', [code]);
  assert.deepEqual(view.timeline.map((s) => s.event.id).sort(), stored.rows.map((x) => x.id).sort());
  const r = await store.driver.query<any>(
    `SELECT department_code, hall_code, hall_name, item_code, status, to_char(status_time AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"') AS t,
            applicant, event_count FROM cases WHERE supervision_code = $1`, [code]);
  const row = r.rows[0];
  assert.deepEqual({
    department: row.department_code, hall: row.hall_code ? { code: row.hall_code, name: row.hall_name } : undefined, item: row.item_code,
    status: row.status, time: row.t, applicant: openApplicant(store.keys, row.applicant), events: row.event_count,
  }, {
    department: whole.department.code, hall: whole.department.hall, item: whole.item.code, status: whole.status, time: whole.statusTime,
    applicant: whole.applicant, events: whole.eventCount,
  });
}
