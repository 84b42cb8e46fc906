// `make bench`, supervision: department statistics, the filtered case list and the sweep, with
// 1,000,000 cases in a PostgreSQL store (generated here), of which 1 % are due to change light.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../services/store/open-store';
import { Supervisor } from '../../services/supervisor/supervisor';
import { loadCalendarDir, DEFAULT_CALENDAR_DIR } from '../../core/calendar/calendar-file';
import { loadSharedTables } from '../../adapters/kit/mapping/shared-tables';
import { CONTRACTS_DIR } from '../../core/kernel/paths';
import { HubMetrics } from '../../core/kernel/metrics';
import { createLogger } from '../../core/kernel/logger';
import { createTestDatabase } from '../support/servers';

const CASES = Number(process.env.BENCH_CASES ?? 1_000_000);
const RUNS = 200;
// Transactions of the sweep side by side (supervision.sweepConcurrency; 1: one at a time).
const LANES = Number(process.env.BENCH_SWEEP_CONCURRENCY ?? 2);
const NOW = new Date('2026-12-07T10:00:00+08:00');

function p(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

async function timed(runs: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return { p50: p(ms, 0.5), p99: p(ms, 0.99) };
}

async function main(): Promise<number> {
  const db = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-supervision-'));
  const store = await openStore({ store: db.url, dataDir, region: '130100' });
  try {
    const seedStart = Date.now();
    // Three departments (the vehicle office through two halls), four items, the usual statuses and
    // lights; 1 % accepted long ago with a GREEN light due now: the sweep turns them RED.
    // Each attribute from its own hash of the case number, so that department, hall, item, status,
    // light and time are independent of each other, as in a city's real cases.
    await store.driver.query(`
      INSERT INTO cases (supervision_code, department_code, department_name, hall_code, hall_name, item_code, item_name, status, status_time,
                         applicant, light, deadline, paused, violations, event_count, first_seen, updated_at, timeline, light_due_at)
      SELECT 'B' || lpad(g::text, 23, '0'),
             (ARRAY['11130100000400113E','11130100MB0194826G','11130100000500117D'])[1 + h.dept % 3], 'dept',
             CASE WHEN h.dept % 3 = 0 THEN (ARRAY['111301000004001219','11130100000400105K'])[1 + h.hall % 2] END, CASE WHEN h.dept % 3 = 0 THEN 'hall' END,
             (ARRAY['130100-GA-0005','130100-SW-0001','130100-SC-0001','130100-SW-0002'])[1 + h.item % 4], 'item',
             (ARRAY['ACCEPTED','UNDER_REVIEW','COMPLETED','SUPPLEMENT_REQUESTED','APPROVED'])[1 + h.status % 5],
             t, '{}'::jsonb,
             CASE WHEN g % 100 = 0 THEN 'GREEN' ELSE (ARRAY['GREEN','GREEN','GREEN','YELLOW','RED'])[1 + h.light % 5] END,
             t + interval '10 days', false, '[]'::jsonb, 1, t, t,
             json_build_array(json_build_array('ev-' || g, g, 'ACCEPTED', to_char(t AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'), NULL)),
             CASE WHEN g % 100 = 0 THEN $1::timestamptz - interval '1 minute' ELSE $1::timestamptz + (1 + g % 20) * interval '1 day' END
      FROM generate_series(1, $2::int) AS g,
        LATERAL (SELECT abs(hashtext(g || 'd')) AS dept, abs(hashtext(g || 'h')) AS hall, abs(hashtext(g || 'i')) AS item,
                        abs(hashtext(g || 's')) AS status, abs(hashtext(g || 'l')) AS light, abs(hashtext(g || 't')) AS time) AS h,
        LATERAL (SELECT timestamptz '2026-06-01 09:00+08' + (h.time % 180) * interval '1 day' + (h.time / 180 % 600) * interval '1 minute' AS t) AS x`,
      [NOW.toISOString(), CASES]);
    await store.driver.query(`
      INSERT INTO case_stats (department_code, hall_code, day, department_name, hall_name, received, in_progress, completed, green, yellow, red)
      SELECT department_code, COALESCE(hall_code, ''), (first_seen AT TIME ZONE 'Asia/Shanghai')::date, max(department_name), max(hall_name), count(*),
             count(*) FILTER (WHERE status <> 'COMPLETED'), count(*) FILTER (WHERE status = 'COMPLETED'),
             count(*) FILTER (WHERE light = 'GREEN'), count(*) FILTER (WHERE light = 'YELLOW'), count(*) FILTER (WHERE light = 'RED')
      FROM cases GROUP BY 1, 2, 3`);
    await store.driver.exec('ANALYZE');
    console.log(`supervision bench: ${CASES.toLocaleString('en')} cases in PostgreSQL, seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    // Timed after a first pass over every query: the steady state of a running hub, not a cold cache.
    await store.supervision.stats({});
    const stats = await timed(RUNS, (i) => store.supervision.stats(i % 2 ? {} : { from: '2026-07-01', to: '2026-09-30' }));
    console.log(`  GET /stats/departments (store part)            p50 ${stats.p50.toFixed(1)} ms, p99 ${stats.p99.toFixed(1)} ms (goal p99 ≤ 50 ms)`);
    const departments = ['11130100000400113E', '11130100MB0194826G', '11130100000500117D', '111301000004001219'];
    const lights = ['GREEN', 'YELLOW', 'RED'];
    const statuses = ['ACCEPTED', 'UNDER_REVIEW', 'COMPLETED', 'SUPPLEMENT_REQUESTED', 'APPROVED'];
    for (let i = 0; i < 60; i++) await store.cases.list({ department: departments[i % 4], light: lights[i % 3], status: statuses[i % 5], limit: 50 });
    const list = await timed(RUNS, (i) => store.cases.list({ department: departments[i % 4], light: lights[i % 3], status: statuses[i % 5], limit: 50 }));
    console.log(`  GET /cases?department&light&status (store part) p50 ${list.p50.toFixed(1)} ms, p99 ${list.p99.toFixed(1)} ms (goal p99 ≤ 50 ms)`);

    const shared = loadSharedTables(path.join(CONTRACTS_DIR, 'registry.yaml'), path.join(CONTRACTS_DIR, 'catalogue.yaml'));
    const supervisor = new Supervisor({
      store: store.supervision, years: loadCalendarDir(DEFAULT_CALENDAR_DIR).years, items: shared.items,
      config: { calendarDir: null, yellowAt: 0.8, items: {}, sweepSeconds: 30, sweepBatch: 1000, sweepConcurrency: LANES },
      clock: () => NOW, leases: store.leases, metrics: new HubMetrics(), logger: createLogger('silent'),
    });
    const t = Date.now();
    const swept = await supervisor.sweep();
    const s = (Date.now() - t) / 1000;
    const red = (await store.driver.query<{ n: string }>("SELECT count(*)::text AS n FROM alerts WHERE kind = 'LIGHT_CHANGED'")).rows[0].n;
    console.log(`  sweep: ${swept.toLocaleString('en')} cases due of ${CASES.toLocaleString('en')} recomputed in ${s.toFixed(2)} s, ${red} light alerts, ${LANES} transactions side by side (goal ≤ 2 s)`);
    return 0;
  } finally {
    await store.close();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
