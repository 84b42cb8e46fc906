// `make bench`, console: the calls the supervisor's console makes for its main views, over HTTP
// through a whole hub, with 100,000 cases in a PostgreSQL store (seeded here), and the views
// themselves loaded in headless Chromium. The issue's goal: each main view answers within 1 s.
import fs from 'node:fs';
import pg from 'pg';
import { openStore } from '../../services/store/open-store';
import { loadConfig } from '../../core/kernel/config';
import { createLogger } from '../../core/kernel/logger';
import { startHub } from '../../cli/start-hub';
import { DEMO_CONFIG } from '../../core/kernel/paths';
import { createTestDatabase } from '../support/servers';
import { seedCases, fillCaseStats } from '../support/case-seed';
import { testDataDir, settled } from '../support/hub';
import { vehicleEvent } from '../support/events';
import { launchChromium, assertConsoleBuilt } from '../support/browser';

const CASES = Number(process.env.BENCH_CONSOLE_CASES ?? 100_000);
const RUNS = Number(process.env.BENCH_CONSOLE_RUNS ?? 30);
const GOAL_MS = 1000;
const TOKEN = 'demo-supervisor-token';
const VEHICLE_OFFICE = '11130100000400113E';
const HALL = '111301000004001219';

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

const results: { what: string; p50: number; p95: number; max: number }[] = [];

async function timed(what: string, runs: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  await fn(0); // a first pass: the steady state of a running hub, not a cold cache
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const r = { what, p50: quantile(ms, 0.5), p95: quantile(ms, 0.95), max: Math.max(...ms) };
  results.push(r);
  console.log(`  ${what.padEnd(58)} p50 ${r.p50.toFixed(1).padStart(6)} ms, p95 ${r.p95.toFixed(1).padStart(6)} ms, max ${r.max.toFixed(1).padStart(6)} ms${r.max > GOAL_MS ? '  OVER 1 s' : ''}`);
}

async function main(): Promise<number> {
  assertConsoleBuilt();
  const db = await createTestDatabase();
  const dataDir = testDataDir('bench-console');
  let stop: (() => Promise<void>) | null = null;
  try {
    // The schema as the hub's migrations make it, then the cases, their statistics counters and
    // an alert for each RED case, raised over the last two days.
    await (await openStore({ store: db.url, dataDir, region: '130100' })).close();
    const seedStart = Date.now();
    await seedCases(db.url, CASES);
    await fillCaseStats(db.url);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      await c.query(`
        INSERT INTO alerts (kind, level, supervision_code, department_code, department_name, hall_code, from_light, to_light, at, published)
        SELECT 'LIGHT_CHANGED', 'RED', supervision_code, department_code, department_name, hall_code, 'YELLOW', 'RED',
               now() - (hashtext(supervision_code) % 172800 + 172800) % 172800 * interval '1 second', true
        FROM cases WHERE light = 'RED' ORDER BY first_seen`);
      await c.query('ANALYZE');
    } finally {
      await c.end();
    }
    console.log(`console bench: ${CASES.toLocaleString('en')} cases in PostgreSQL, seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s; ${RUNS} runs of each call after a first`);

    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all' });
    const hub = await startHub(config, createLogger('silent'));
    stop = () => hub.stop();
    const url = hub.url!;
    const get = async (p: string) => {
      const r = await fetch(`${url}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      if (!r.ok) throw new Error(`${p} answered ${r.status}: ${await r.text()}`);
      return r.json() as Promise<any>;
    };

    // The seed's codes carry no valid check character (the case view refuses them 400): the case
    // view is timed on 20 cases applied through the case store, each with a timeline of 2 to 4
    // events, half of them completed with no acceptance (a violation), and supervised.
    const now = Date.now();
    const at = (minutes: number) => new Date(now - minutes * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const events = Array.from({ length: 20 }, (_, i) => [
      vehicleEvent(`bench-${i}-1`, `BENCH-${i}`, 'SUBMITTED', at(300 - i)),
      ...(i % 2 ? [vehicleEvent(`bench-${i}-2`, `BENCH-${i}`, 'ACCEPTED', at(200 - i)), vehicleEvent(`bench-${i}-3`, `BENCH-${i}`, 'UNDER_REVIEW', at(150 - i))] : []),
      vehicleEvent(`bench-${i}-4`, `BENCH-${i}`, 'COMPLETED', at(100 - i)),
    ]).flat();
    await hub.context.store.cases.apply(events, { receivedAt: new Date() });
    await settled(url);
    const codes = (await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/api/v1/cases/lookup?system=vehicle-office&localId=BENCH-${i}`)))).map((r) => r.supervisionCode as string);

    // The calls behind each view, as the console makes them (services/console/web/src/).
    const red = await get(`/api/v1/cases?department=${VEHICLE_OFFICE}&light=RED&limit=20`);
    console.log('API (HTTP through the gateway, store included):');
    await timed('GET /me (sign-in)', RUNS, () => get('/api/v1/me'));
    await timed('GET /cases, first page, no filter', RUNS, () => get('/api/v1/cases?limit=20'));
    await timed('GET /cases, vehicle office + RED', RUNS, () => get(`/api/v1/cases?department=${VEHICLE_OFFICE}&light=RED&limit=20`));
    await timed('GET /cases, hall + RED + COMPLETED', RUNS, () => get(`/api/v1/cases?department=${HALL}&light=RED&status=COMPLETED&limit=20`));
    await timed('GET /cases, one item', RUNS, () => get('/api/v1/cases?item=130100-GA-0005&limit=20'));
    await timed('GET /cases, next page (cursor)', RUNS, () => get(`/api/v1/cases?department=${VEHICLE_OFFICE}&light=RED&limit=20&cursor=${red.nextCursor}`));
    await timed('GET /cases/{code} (case view)', RUNS, (i) => get(`/api/v1/cases/${codes[i % codes.length]}`));
    await timed('GET /stats/departments, all days', RUNS, () => get('/api/v1/stats/departments'));
    const weeks = Array.from({ length: 8 }, (_, i) => {
      const from = new Date(Date.UTC(2026, 8, 7) + i * 7 * 86_400_000).toISOString().slice(0, 10);
      const to = new Date(Date.UTC(2026, 8, 13) + i * 7 * 86_400_000).toISOString().slice(0, 10);
      return `/api/v1/stats/departments?from=${from}&to=${to}`;
    });
    await timed('stats view: 8 weekly /stats/departments side by side', RUNS, () => Promise.all(weeks.map(get)));
    await timed('GET /alerts, last 24 h, first 100', RUNS, () => get(`/api/v1/alerts?since=${encodeURIComponent(new Date(Date.now() - 86_400_000).toISOString())}&limit=100`));

    console.log('Views in headless Chromium (navigation to the view\'s data on the screen):');
    const browser = await launchChromium();
    try {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      await page.goto(`${url}/console`);
      await page.fill('#token', TOKEN);
      await page.press('#token', 'Enter');
      await page.waitForSelector('table.cases tbody tr');
      // A view is ready when every selector named is on the page (the statistics: both charts, the
      // weekly one after its 8 answers). A person moves between views inside the loaded console:
      // each switch starts from a page with no view's data (#/none), then changes the address.
      const view = (what: string, hash: string, ...selectors: string[]) => timed(what, Math.min(RUNS, 10), async () => {
        await page.evaluate('location.hash = "#/none"');
        await page.waitForSelector('text=此令牌无权查看这个页面');
        await page.evaluate(`location.hash = ${JSON.stringify(`#${hash}`)}`);
        for (const s of selectors) await page.waitForSelector(s);
      });
      await view('console: cases, first page', '/cases', 'table.cases tbody tr');
      await view('console: cases, vehicle office + RED', `/cases?department=${VEHICLE_OFFICE}&light=RED`, 'table.cases[aria-busy="false"] tbody tr');
      await view('console: a case with its timeline', `/case/${codes[0]}`, '#case-timeline tbody tr');
      await view('console: statistics with both charts', '/stats', '#lights-chart', '#on-time-chart');
      await view('console: alerts of the last day', '/alerts', '#alerts-table tbody tr');
      // The whole page from nothing (signed in: the token is in the tab), as after a reload.
      await timed('console: page load to the cases (reload)', Math.min(RUNS, 10), async () => {
        await page.goto('about:blank');
        await page.goto(`${url}/console#/cases`);
        await page.waitForSelector('table.cases tbody tr');
      });
    } finally {
      await browser.close();
    }
    const over = results.filter((r) => r.max > GOAL_MS);
    console.log(over.length ? `  over the 1 s goal: ${over.map((r) => r.what).join('; ')}` : '  every call and view within the 1 s goal (max)');
    return 0;
  } finally {
    await stop?.();
    await db.drop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
