import assert from 'node:assert/strict';
import type { ServiceSchema } from 'moleculer';
import { loadConfig, tokenHash } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { CHANNELS } from '../core/kernel/constants';
import type { CaseEvent } from '../contracts/types';
import { STORES, StoreKind, testDataDir, storeFor, getJson, waitFor, settled, SUPERVISOR } from './support/hub';
import { taxEvent, vehicleEvent, VEHICLE_OFFICE, VEHICLE_HALLS } from './support/events';
import { createTestDatabase } from './support/servers';
import { openSse } from './support/sse';
import { defaultKeyFile } from '../services/store/open-store';
import { readKeyFile, withNewKey, writeKeyFile } from '../core/kernel/data-keys';
import { rekeyStore } from '../services/keys/rekey';

// Issue 19, part 2: evaluations (好差评). Each acceptance line as the applicant, the department and
// the supervisor see it through HTTP, on a hub whose clock the test moves, on both stores.

const TAX = { code: '11130100MB0194826G', name: '国家税务总局石家庄市税务局' };
const TAX_DEPARTMENT = { Authorization: 'Bearer eval-tax-department-token' };
const VEHICLE_DEPARTMENT = { Authorization: 'Bearer eval-vehicle-department-token' };
const VEHICLE_SUPERVISOR = { Authorization: 'Bearer demo-vehicle-supervisor-token' };
// The vehicle office's demo applicant (test/support/events.ts): none of it may reach a page or an answer.
const PERSONAL = ['张伟', '130102197512086233', '13831100425'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (iso: string) => new Date(iso);

/** A demo hub in this process on a store of the given kind, with department tokens, whose clock the test moves; the follow-up sweep runs every 100 ms. */
async function clockedHub(kind: StoreKind, clock: () => Date): Promise<{ hub: RunningHub; dataDir: string; stop(): Promise<void> }> {
  const db = kind === 'postgres' ? await createTestDatabase() : null;
  const dataDir = testDataDir(`evaluations-${kind}`, storeFor(kind));
  const config = loadConfig({
    HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db ? db.url : 'embedded',
    HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', HUB_POLLING_OFF: 'all',
  });
  config.evaluations.sweepSeconds = 0.1;
  config.tokens.push(
    { name: 'tax department', hash: tokenHash('eval-tax-department-token'), roles: ['department'], departments: [TAX.code] },
    { name: 'vehicle department', hash: tokenHash('eval-vehicle-department-token'), roles: ['department'], departments: [VEHICLE_OFFICE.code] },
  );
  const hub = await startHub(config, createLogger(config.logLevel), { clock });
  return { hub, dataDir, async stop() { await hub.stop(); await db?.drop(); } };
}

async function apply(hub: RunningHub, events: CaseEvent[]): Promise<string> {
  const results = await hub.context.store.cases.apply(events, { receivedAt: new Date() });
  assert.ok(results.every((r) => r.result === 'accepted'), JSON.stringify(results));
  return (results[0] as { supervisionCode: string }).supervisionCode;
}

/** A case of the tax bureau accepted and finished (or left in progress) before the test's first day. */
const taxCase = (id: string, last: CaseEvent['data']['status'] = 'COMPLETED') => [
  taxEvent(`${id}-1`, id, 'ACCEPTED', '2026-09-14T09:00:00+08:00'),
  taxEvent(`${id}-2`, id, last, '2026-09-18T15:00:00+08:00'),
];

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; contentType: string; headers: Headers }> {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON: kept as text */ }
  return { status: r.status, body: parsed, contentType: r.headers.get('content-type') ?? '', headers: r.headers };
}

async function page(url: string, form?: Record<string, string>): Promise<{ status: number; html: string; headers: Headers }> {
  const r = form
    ? await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() })
    : await fetch(url);
  return { status: r.status, html: await r.text(), headers: r.headers };
}

/** Every evaluation a caller's list shows with these filters, page by page (`limit` a page). */
async function listAll(url: string, headers: Record<string, string>, query = '', limit = 1): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const r = await getJson(`${url}/api/v1/evaluations?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`, headers);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    all.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor);
  return all;
}

async function overdueAlerts(url: string): Promise<any[]> {
  const r = await getJson(`${url}/api/v1/alerts?kind=FOLLOW_UP_OVERDUE&limit=500`, SUPERVISOR);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items;
}

for (const kind of STORES) {
  describe(`evaluations (好差评), ${kind} store`, function () {
    this.timeout(120_000);
    let now = at('2026-09-21T09:00:00+08:00');
    let t: { hub: RunningHub; dataDir: string; stop(): Promise<void> };
    let url: string;
    const code: Record<'bad' | 'overdue' | 'good' | 'open' | 'expiring', string> = { bad: '', overdue: '', good: '', open: '', expiring: '' };
    const link: Record<string, { token: string; url: string; expiresAt: string }> = {};
    const id: Record<string, string> = {};
    const busGot: any[] = [];

    before(async () => {
      t = await clockedHub(kind, () => now);
      url = t.hub.url!;
      t.hub.broker.createService({
        name: `follow-up-watcher-${kind}`,
        channels: { [CHANNELS.violationRaised]: { group: `follow-up-watcher-${kind}`, handler(m: unknown) { busGot.push(m); } } },
      } as ServiceSchema);
      code.bad = await apply(t.hub, taxCase('SW-EVAL-BAD'));
      code.overdue = await apply(t.hub, taxCase('SW-EVAL-OVERDUE', 'REJECTED'));
      code.open = await apply(t.hub, taxCase('SW-EVAL-OPEN', 'UNDER_REVIEW'));
      code.expiring = await apply(t.hub, taxCase('SW-EVAL-EXPIRING'));
      code.good = await apply(t.hub, [
        vehicleEvent('veh-eval-1', 'VEH-EVAL-GOOD', 'ACCEPTED', '2026-09-17T09:00:00+08:00', VEHICLE_HALLS[1]),
        vehicleEvent('veh-eval-2', 'VEH-EVAL-GOOD', 'COMPLETED', '2026-09-18T10:00:00+08:00', VEHICLE_HALLS[1]),
      ]);
      await settled(url);
    });
    after(async () => { await t?.stop(); });

    it('gives the SMS notifier one link per case and applicant: the same on every call, unguessable, open 30 days, never stored', async () => {
      now = at('2026-09-21T10:00:00+08:00');
      for (const k of ['bad', 'overdue', 'good', 'expiring'] as const) {
        link[k] = await t.hub.broker.call('evaluations.link', { supervisionCode: code[k] });
        assert.deepEqual(await t.hub.broker.call('evaluations.link', { supervisionCode: code[k] }), link[k], 'the same link on every call');
        assert.match(link[k].token, /^[A-Za-z0-9_-]{43}$/);
        assert.equal(link[k].url, `${url}/e/${link[k].token}`);
        assert.equal(link[k].expiresAt, '2026-10-21T10:00:00.000+08:00');
      }
      assert.equal(new Set(Object.values(link).map((l) => l.token)).size, 4, 'each case its own token');
      // A case still in progress has nothing to evaluate yet.
      await assert.rejects(t.hub.broker.call('evaluations.link', { supervisionCode: code.open }), (err: any) => err.code === 409 && /尚未办结/.test(err.message));
      // Neither a token nor anything it could be read back from in clear: its hash, and the keyed hash's nonce.
      const stored = await t.hub.context.store.driver.query<{ row: string }>('SELECT row_to_json(l)::text AS row FROM evaluation_links l');
      assert.equal(stored.rows.length, 4);
      for (const l of Object.values(link)) assert.ok(stored.rows.every((r) => !r.row.includes(l.token)), 'no token stored');
    });

    it('shows the applicant a page in Chinese with the case and a 1–5 rating form, and no personal data', async () => {
      const p = await page(link.good.url);
      assert.equal(p.status, 200);
      assert.match(p.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      assert.match(p.html, /<html lang="zh-CN">/);
      assert.ok(p.html.includes('机动车注册登记') && p.html.includes(VEHICLE_HALLS[1].name) && p.html.includes('已办结'), p.html);
      for (const [value, label] of [[5, '非常满意'], [4, '满意'], [3, '基本满意'], [2, '不满意'], [1, '非常不满意']] as const) {
        assert.match(p.html, new RegExp(`<label><input type="radio" name="rating" value="${value}"[^>]*>${value} 分 · ${label}</label>`));
      }
      assert.match(p.html, /<legend>[^<]+<\/legend>/);
      assert.match(p.html, /<label for="comment">[^<]+<\/label>\s*<textarea id="comment" name="comment"/);
      assert.match(p.html, /<button type="submit">/);
      for (const v of PERSONAL) assert.ok(!p.html.includes(v), `the page shows ${v}`);
      // Nothing is fetched from elsewhere, and the token leaks to no referrer.
      assert.doesNotMatch(p.html, /(src|href)=|url\(|@import/);
      assert.match(p.headers.get('content-security-policy') ?? '', /default-src 'none'/);
      assert.equal(p.headers.get('referrer-policy'), 'no-referrer');
    });

    it('takes a rating with a comment; a 差评 opens a follow-up due 15 working days later by the calendar (holidays skipped, 调休 counted)', async () => {
      now = at('2026-09-21T10:05:00+08:00');
      const comment = '办理太慢。联系电话 13831100425，身份证 130102197512086233';
      const r = await postJson(`${url}/api/v1/public/evaluations/${link.bad.token}`, { rating: 2, comment });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      // Mon 09-21 + 15 working days: 09-22..24, (中秋 09-25..27 off) 09-28..30, (国庆 10-01..07 off)
      // 10-08, 10-09, 10-10 (Saturday, 调休上班), 10-12..16, 10-19. By weekdays alone it would be 10-12.
      assert.equal(r.body.followUpDueAt, '2026-10-19T23:59:59+08:00');
      assert.equal(r.body.rating, 2);
      assert.equal(r.body.ratingLabel, '不满意');
      assert.equal(r.body.submittedAt, '2026-09-21T10:05:00.000+08:00');
      assert.deepEqual(r.body.department, TAX);
      // Masked in every answer, sealed at rest.
      assert.ok(r.body.comment.startsWith('办理太慢。'), r.body.comment);
      for (const v of PERSONAL.slice(1)) assert.ok(!r.body.comment.includes(v), `the answer shows ${v}`);
      const stored = await t.hub.context.store.driver.query<{ comment: string }>('SELECT comment FROM evaluations');
      assert.ok(stored.rows.every((x) => x.comment.startsWith('pd1.')), 'comments sealed');

      now = at('2026-09-21T10:06:00+08:00');
      const overdue = await postJson(`${url}/api/v1/public/evaluations/${link.overdue.token}`, { rating: 1 });
      assert.equal(overdue.status, 201, JSON.stringify(overdue.body));
      assert.equal(overdue.body.followUpDueAt, '2026-10-19T23:59:59+08:00');
      assert.equal(overdue.body.comment, null);

      // Without script, the page's form posts itself: a satisfied rating opens no follow-up.
      now = at('2026-09-21T10:07:00+08:00');
      const good = await page(link.good.url, { rating: '5', comment: '很好' });
      assert.equal(good.status, 201);
      assert.match(good.html, /感谢您的评价/);
      assert.match(good.html, /您的评价：非常满意/);

      const items = await listAll(url, SUPERVISOR);
      assert.deepEqual(items.map((e) => [e.supervisionCode, e.rating]), [[code.good, 5], [code.overdue, 1], [code.bad, 2]], 'newest first');
      for (const e of items) id[e.supervisionCode] = e.id;
      const bad = items.find((e) => e.supervisionCode === code.bad);
      assert.deepEqual(bad.followUp, { dueAt: '2026-10-19T23:59:59+08:00', late: false, closedAt: null, closedBy: null, note: null, alertId: null });
      assert.equal(bad.comment, r.body.comment);
      assert.equal(items.find((e) => e.supervisionCode === code.good).followUp, null);
      assert.deepEqual(items.find((e) => e.supervisionCode === code.good).department, { ...VEHICLE_OFFICE, hall: VEHICLE_HALLS[1] });
    });

    it('refuses a second evaluation of a case, with a clear message', async () => {
      const again = await postJson(`${url}/api/v1/public/evaluations/${link.bad.token}`, { rating: 5 });
      assert.equal(again.status, 409);
      assert.match(again.contentType, /^application\/problem\+json/);
      assert.equal(again.body.title, '该办件已评价，每件办件只能评价一次 (this case has been evaluated already: one evaluation per case)');
      const form = await page(link.bad.url, { rating: '5' });
      assert.equal(form.status, 409);
      assert.match(form.html, /本办件已评价/);
      assert.match(form.html, /您的评价：不满意/);
      // The page of an evaluated case shows the evaluation, not the form.
      const shown = await page(link.bad.url);
      assert.equal(shown.status, 200);
      assert.doesNotMatch(shown.html, /<form/);
      assert.equal((await listAll(url, SUPERVISOR)).find((e) => e.supervisionCode === code.bad).rating, 2, 'the first answer stands');
    });

    it('answers 404 for a forged token: a friendly page, and problem+json from the API', async () => {
      const forged = `${link.expiring.token.slice(0, 42)}${link.expiring.token.endsWith('A') ? 'B' : 'A'}`;
      for (const token of [forged, 'not-a-token', 'A'.repeat(43)]) {
        const p = await page(`${url}/e/${token}`);
        assert.equal(p.status, 404);
        assert.match(p.html, /<html lang="zh-CN">/);
        assert.match(p.html, /评价链接无效或已过期/);
        const api = await postJson(`${url}/api/v1/public/evaluations/${token}`, { rating: 5 });
        assert.equal(api.status, 404);
        assert.match(api.contentType, /^application\/problem\+json/);
        assert.equal(api.body.title, '评价链接无效或已过期 (this evaluation link is unknown or has expired)');
      }
      assert.equal((await listAll(url, SUPERVISOR)).length, 3);
    });

    it('lets the department close a follow-up with what was done: closed by its due time, it counts as on time; another department gets 404', async () => {
      now = at('2026-10-19T20:00:00+08:00');
      const follow = (evaluation: string, body: unknown, headers: Record<string, string>) => postJson(`${url}/api/v1/evaluations/${evaluation}/follow-up`, body, headers);
      const other = await follow(id[code.bad], { note: '已回访' }, VEHICLE_DEPARTMENT);
      assert.equal(other.status, 404, 'another department\'s evaluation does not exist for it');
      assert.equal((await follow(id[code.bad], { note: '已回访' }, SUPERVISOR)).status, 403, 'the supervisor watches; the department closes');
      assert.equal((await follow(id[code.good], { note: '无' }, VEHICLE_DEPARTMENT)).status, 409, 'a satisfied rating has no follow-up');
      const closed = await follow(id[code.bad], { note: '已电话回访申请人（13831100425），说明延误原因并致歉' }, TAX_DEPARTMENT);
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      assert.deepEqual({ ...closed.body.followUp, note: undefined }, { dueAt: '2026-10-19T23:59:59+08:00', late: false, closedAt: '2026-10-19T20:00:00.000+08:00', closedBy: 'tax department', note: undefined, alertId: null });
      assert.ok(!closed.body.followUp.note.includes('13831100425') && closed.body.followUp.note.includes('138****0425'), closed.body.followUp.note);
      assert.equal((await follow(id[code.bad], { note: '再次回访' }, TAX_DEPARTMENT)).status, 409, 'closed once');
      assert.deepEqual((await listAll(url, TAX_DEPARTMENT, '&followUp=done')).map((e) => e.supervisionCode), [code.bad]);
      const stats: any = await t.hub.broker.call('evaluations.stats', {});
      assert.deepEqual(stats.departments.find((d: any) => d.code === TAX.code).followUps, { onTime: 1, late: 0, open: 1 });
    });

    it('raises one FOLLOW_UP_OVERDUE alert (RED) for a follow-up left open past its due time: listed, streamed and on the bus', async () => {
      now = at('2026-10-19T23:59:00+08:00');
      await sleep(400);
      assert.deepEqual(await overdueAlerts(url), [], 'not before its due time');
      const stream = await openSse(`${url}/api/v1/alerts/stream?kind=FOLLOW_UP_OVERDUE`, SUPERVISOR);
      try {
        now = at('2026-10-20T00:00:05+08:00');
        const [alert] = await waitFor('the sweep to raise the overdue follow-up\'s alert', async () => { const a = await overdueAlerts(url); return a.length > 0 && a; }, 10_000);
        assert.equal(alert.kind, 'FOLLOW_UP_OVERDUE');
        assert.equal(alert.level, 'RED');
        assert.equal(alert.supervisionCode, code.overdue);
        assert.deepEqual(alert.department, TAX);
        assert.equal(alert.at, '2026-10-20T00:00:05.000+08:00');
        assert.deepEqual(alert.violation, { code: 'FOLLOW_UP_OVERDUE', reason: '差评回访逾期未办结 (the follow-up of a bad evaluation is past its due time)', evaluationId: id[code.overdue], dueAt: '2026-10-19T23:59:59+08:00' });
        await settled(url);
        // Many sweeps later, and after a sweep asked for by hand: still one.
        await sleep(500);
        assert.deepEqual(await t.hub.broker.call('evaluations.sweep'), { raised: 0 });
        assert.deepEqual((await overdueAlerts(url)).map((a) => a.id), [alert.id]);
        await waitFor('the alert on the stream', () => stream.events.some((e) => e.id === alert.id), 5_000);
        assert.deepEqual(stream.events.map((e) => [e.id, e.event, JSON.parse(e.data).supervisionCode]), [[alert.id, 'FOLLOW_UP_OVERDUE', code.overdue]]);
        assert.deepEqual(busGot.filter((m) => m.kind === 'FOLLOW_UP_OVERDUE').map((m) => m.id), [alert.id], 'published on the bus once');
        // The supervisor of another department does not see it.
        assert.deepEqual((await getJson(`${url}/api/v1/alerts?kind=FOLLOW_UP_OVERDUE`, VEHICLE_SUPERVISOR)).body.items, []);
        const listed = (await listAll(url, SUPERVISOR, '&followUp=late')).map((e) => [e.supervisionCode, e.followUp.late, e.followUp.alertId]);
        assert.deepEqual(listed, [[code.overdue, true, alert.id]]);
        assert.deepEqual((await listAll(url, TAX_DEPARTMENT, '&followUp=open')).map((e) => e.supervisionCode), [code.overdue]);
      } finally {
        stream.close();
      }
    });

    it('counts per department: evaluations, satisfaction rate, 差评 and follow-ups on time / late / open, within the caller\'s departments and dates', async () => {
      const all: any = await t.hub.broker.call('evaluations.stats', {});
      assert.deepEqual(all.departments, [
        { ...VEHICLE_OFFICE, evaluations: 1, satisfactionRate: 1, badCount: 0, followUps: { onTime: 0, late: 0, open: 0 } },
        { ...TAX, evaluations: 2, satisfactionRate: 0, badCount: 2, followUps: { onTime: 1, late: 1, open: 1 } },
      ].sort((a, b) => (a.code < b.code ? -1 : 1)));
      const scoped: any = await t.hub.broker.call('evaluations.stats', {}, { meta: { user: { name: 'vehicle supervisor', roles: ['supervisor'], personalData: false, departments: [VEHICLE_OFFICE.code] } } });
      assert.deepEqual(scoped.departments.map((d: any) => d.code), [VEHICLE_OFFICE.code]);
      assert.deepEqual(((await t.hub.broker.call('evaluations.stats', { from: '2026-09-22' })) as any).departments, []);
      assert.deepEqual((await listAll(url, VEHICLE_SUPERVISOR)).map((e) => e.supervisionCode), [code.good]);
      assert.deepEqual((await listAll(url, SUPERVISOR, `&department=${VEHICLE_HALLS[1].code}`)).map((e) => e.supervisionCode), [code.good]);

      // Closed after its due time: late, and no longer open.
      now = at('2026-10-20T09:00:00+08:00');
      const late = await postJson(`${url}/api/v1/evaluations/${id[code.overdue]}/follow-up`, { note: '已回访' }, TAX_DEPARTMENT);
      assert.equal(late.status, 200, JSON.stringify(late.body));
      assert.equal(late.body.followUp.late, true);
      const after: any = await t.hub.broker.call('evaluations.stats', {});
      assert.deepEqual(after.departments.find((d: any) => d.code === TAX.code).followUps, { onTime: 1, late: 1, open: 0 });
      assert.equal((await overdueAlerts(url)).length, 1);
    });

    it('keeps links, comments and notes through hub rekey: the same token opens the same page, nothing is left under the old key', async () => {
      const { store } = t.hub.context;
      const keyFile = defaultKeyFile(t.dataDir);
      const oldKey = readKeyFile(keyFile).current;
      const before = await listAll(url, SUPERVISOR);
      writeKeyFile(keyFile, withNewKey(readKeyFile(keyFile)));
      store.keys.reload();
      const progress = await rekeyStore(store.driver, store.keys);
      assert.equal(progress.state, 'done', progress.error ?? '');
      assert.deepEqual([progress.tables.evaluation_links.resealed, progress.tables.evaluations.resealed], [4, 3]);
      for (const table of ['evaluation_links', 'evaluations']) {
        const text = (await store.driver.query<{ t: string }>(`SELECT coalesce(json_agg(x)::text, '') AS t FROM ${table} x`)).rows[0].t;
        assert.ok(!text.includes(`${oldKey}.`), `${table} holds nothing under the old key`);
      }
      assert.deepEqual(await t.hub.broker.call('evaluations.link', { supervisionCode: code.bad }), link.bad, 'the same link after the rekey');
      assert.equal((await page(link.expiring.url)).status, 200);
      assert.deepEqual(await listAll(url, SUPERVISOR), before, 'comments and notes read the same');
    });

    it('answers 404 once a link has expired, 30 days after it was issued', async () => {
      now = at('2026-10-21T09:59:59+08:00');
      assert.equal((await page(link.expiring.url)).status, 200, 'still open on its last second');
      now = at('2026-10-21T10:00:01+08:00');
      const p = await page(link.expiring.url);
      assert.equal(p.status, 404);
      assert.match(p.html, /评价链接无效或已过期/);
      const api = await postJson(`${url}/api/v1/public/evaluations/${link.expiring.token}`, { rating: 4 });
      assert.equal(api.status, 404);
      assert.match(api.contentType, /^application\/problem\+json/);
      assert.equal((await listAll(url, SUPERVISOR)).length, 3);
    });
  });
}
