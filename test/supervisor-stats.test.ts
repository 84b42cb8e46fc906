import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { CANONICAL_STATUSES, STATUS_CLASSES } from '../core/kernel/constants';
import { expandBody } from '../core/ports/event-row';
import { WorkingCalendar, dayOf, dateOfDay } from '../core/calendar/working-calendar';
import { loadCalendarDir, DEFAULT_CALENDAR_DIR } from '../core/calendar/calendar-file';
import { loadSharedTables } from '../adapters/kit/mapping/shared-tables';
import { computeSupervision } from '../services/supervisor/rules';
import { orderTimeline } from '../services/cases/projection';
import type { CaseEvent } from '../contracts/types';
import { STORES, StoreKind, testDataDir, getJson, settled, SUPERVISOR } from './support/hub';
import { createTestDatabase } from './support/servers';
import { taxEvent, vehicleEvent, VEHICLE_HALLS } from './support/events';

// The hub's clock stands still: the counters and the count from scratch see the same now.
const NOW = new Date('2026-11-20T15:00:00+08:00');
const CASES = 120;
const EVENTS = Number(process.env.STATS_EVENTS ?? 2000);

/** Case c's department, hall and item: the vehicle office through either hall or none, or the tax bureau; two items each. */
function eventOf(run: string, i: number, c: number, status: CaseEvent['data']['status'], time: string): CaseEvent {
  const localId = `ST-${run}-${c}`;
  const key = `${run}-${i}`;
  if (c % 4 === 3) {
    const e = taxEvent(key, localId, status, time);
    return c % 8 < 4 ? e : { ...e, data: { ...e.data, item: { code: '130100-SW-0002', name: '发票领用核定' } } };
  }
  const e = vehicleEvent(key, localId, status, time, c % 4 === 2 ? null : VEHICLE_HALLS[c % 4]);
  return c % 8 < 4 ? e : { ...e, data: { ...e.data, item: { code: '130100-GA-0005', name: '机动车驾驶证核发' } } };
}

// Statuses weighted towards a case's usual path.
const STATUS = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('SUBMITTED', 'ACCEPTED', 'COMPLETED') },
  { weight: 2, arbitrary: fc.constantFrom('UNDER_REVIEW', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'APPROVED') },
  { weight: 1, arbitrary: fc.constantFrom(...CANONICAL_STATUSES) },
) as fc.Arbitrary<CaseEvent['data']['status']>;

const EVENT = fc.record({
  c: fc.integer({ min: 0, max: CASES - 1 }),
  status: STATUS,
  day: fc.integer({ min: 0, max: 80 }),
  minute: fc.integer({ min: 0, max: 600 }),
});

const FINAL = new Set<string>(STATUS_CLASSES.final);
const COMPLETED = new Set<string>(STATUS_CLASSES.completed);

type Counts = { received: number; inProgress: number; completed: number; onTime: number; timed: number; days: number; GREEN: number; YELLOW: number; RED: number; violations: number };
const zero = (): Counts => ({ received: 0, inProgress: 0, completed: 0, onTime: 0, timed: 0, days: 0, GREEN: 0, YELLOW: 0, RED: 0, violations: 0 });

/** The statistics counted from scratch: every stored event, grouped by case, through the rules. */
async function countFromScratch(hub: RunningHub, range: { from?: string; to?: string }): Promise<unknown[]> {
  const calendar = new WorkingCalendar(loadCalendarDir(DEFAULT_CALENDAR_DIR).years);
  const { items } = loadSharedTables(hub.context.config.registryFile, hub.context.config.catalogueFile);
  const rows = (await hub.context.store.driver.query<{ id: string; seq: string; adapter: string; raw_message_id: string; supervision_code: string; body: Record<string, unknown> }>(
    'SELECT id, seq, adapter, raw_message_id, supervision_code, body FROM events')).rows;
  const byCase = new Map<string, { event: CaseEvent; seq: number }[]>();
  for (const r of rows) {
    const event = expandBody(r.body, { id: r.id, adapter: r.adapter, rawMessageId: r.raw_message_id, supervisionCode: r.supervision_code });
    let list = byCase.get(r.supervision_code);
    if (!list) byCase.set(r.supervision_code, (list = []));
    list.push({ event, seq: Number(r.seq) });
  }
  const departments = new Map<string, { name: string; all: Counts; halls: Map<string, { name: string; c: Counts }> }>();
  for (const events of byCase.values()) {
    const timeline = orderTimeline(events);
    const last = timeline[timeline.length - 1].event.data;
    const hall = [...timeline].reverse().find((e) => e.event.data.department.hall)?.event.data.department.hall;
    const item = items.get(last.item.code)!;
    const s = computeSupervision({
      timeline: timeline.map(({ event: e }) => ({ eventId: e.id, status: e.data.status, time: e.data.statusTime })),
      limits: { promisedDays: item.promisedDays, intakeDays: item.intakeDays, yellowAt: 0.8 },
      now: NOW,
    }, calendar);
    const day = dateOfDay(s.acceptedDay ?? dayOf(new Date(timeline[0].event.data.statusTime)));
    if ((range.from && day < range.from) || (range.to && day > range.to)) continue;
    let d = departments.get(last.department.code);
    if (!d) departments.set(last.department.code, (d = { name: last.department.name, all: zero(), halls: new Map() }));
    const targets = [d.all];
    if (hall) {
      let h = d.halls.get(hall.code);
      if (!h) d.halls.set(hall.code, (h = { name: hall.name, c: zero() }));
      targets.push(h.c);
    }
    for (const c of targets) {
      c.received++;
      if (!FINAL.has(last.status)) c.inProgress++;
      if (COMPLETED.has(last.status)) {
        c.completed++;
        if (s.onTime) c.onTime++;
        if (s.workingDays !== null) { c.timed++; c.days += s.workingDays; }
      }
      if (s.light) c[s.light]++;
      c.violations += s.violations.length;
    }
  }
  const shape = (code: string, name: string, c: Counts) => ({
    code, name, received: c.received, inProgress: c.inProgress, completed: c.completed,
    onTimeRate: c.completed ? c.onTime / c.completed : null,
    avgWorkingDays: c.timed ? Math.round((c.days / c.timed) * 10) / 10 : null,
    lights: { GREEN: c.GREEN, YELLOW: c.YELLOW, RED: c.RED }, violations: c.violations,
  });
  return [...departments].sort(([a], [b]) => (a < b ? -1 : 1)).map(([code, d]) => ({
    ...shape(code, d.name, d.all),
    halls: [...d.halls].sort(([a], [b]) => (a < b ? -1 : 1)).map(([hc, h]) => shape(hc, h.name, h.c)),
  }));
}

for (const kind of STORES as StoreKind[]) {
  describe(`department statistics kept as counters (${kind} store)`, function () {
    this.timeout(600_000);
    let hub: RunningHub;
    let db: { drop(): Promise<void> } | null = null;

    before(async () => {
      const pg = kind === 'postgres' ? await createTestDatabase() : null;
      db = pg;
      const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('stats'), HUB_STORE: pg ? pg.url : 'embedded', HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', HUB_POLLING_OFF: 'all' });
      hub = await startHub(config, createLogger(config.logLevel), { clock: () => NOW });
    });
    after(async () => {
      await hub?.stop();
      await db?.drop();
    });

    it(`equal a count from scratch over the stored timelines after ${EVENTS} random events, in random batches and orders`, async () => {
      await fc.assert(fc.asyncProperty(
        fc.array(EVENT, { minLength: EVENTS, maxLength: EVENTS }),
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 20 }),
        async (events, cuts) => {
          const run = randomUUID().slice(0, 8);
          const all = events.map((e, i) => eventOf(run, i, e.c, e.status, new Date(Date.parse('2026-09-01T08:00:00+08:00') + e.day * 86_400_000 + e.minute * 60_000).toISOString().replace('Z', '+00:00')));
          for (let i = 0, k = 0; i < all.length; k++) {
            const size = cuts[k % cuts.length];
            await hub.context.store.cases.apply(all.slice(i, i + size), { receivedAt: new Date() });
            i += size;
          }
          await settled(hub.url!, 300_000);
          for (const range of [{}, { from: '2026-09-20', to: '2026-10-15' }, { from: '2026-10-16' }] as { from?: string; to?: string }[]) {
            const q = new URLSearchParams(range as Record<string, string>).toString();
            const r = await getJson(`${hub.url}/api/v1/stats/departments${q ? `?${q}` : ''}`, SUPERVISOR);
            assert.equal(r.status, 200, JSON.stringify(r.body));
            // The case counters (the evaluations' fields, none here, are test/evaluations.test.ts's).
            const counters = r.body.departments.map(({ evaluations, satisfactionRate, badCount, followUps, ...d }: any) => {
              assert.deepEqual({ evaluations, satisfactionRate, badCount, followUps }, { evaluations: 0, satisfactionRate: null, badCount: 0, followUps: { onTime: 0, late: 0, open: 0 } });
              return d;
            });
            assert.deepEqual(counters, await countFromScratch(hub, range), `stats ${q || 'of every day'}`);
          }
        },
      ), { numRuns: 2, endOnFailure: true });
    });

    it('refuses a range that is not two dates in order', async () => {
      assert.equal((await getJson(`${hub.url}/api/v1/stats/departments?from=2026-13-01`, SUPERVISOR)).status, 400);
      assert.equal((await getJson(`${hub.url}/api/v1/stats/departments?from=2026-10-02&to=2026-10-01`, SUPERVISOR)).status, 400);
      assert.equal((await getJson(`${hub.url}/api/v1/stats/departments?from=yesterday`, SUPERVISOR)).status, 400);
    });
  });
}
