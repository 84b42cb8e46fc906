import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CaseEvent } from '../contracts/types';
import { startTestHub, TestHub, settled, getJson, SUPERVISOR, waitFor } from './support/hub';
import { vehicleEvent, taxEvent, VEHICLE_OFFICE, VEHICLE_HALLS } from './support/events';
import { launchChromium, assertConsoleBuilt, screenshot, watchPage } from './support/browser';
import { postBatch } from '../infra/simulators/market-regulation';

// The supervisor's console (services/console/) in headless Chromium against an embedded demo hub:
// signing in, the RED cases of the vehicle office, a case's timeline and violation, an alert that
// arrives live, the statistics, and what a department's tokens see. Screenshots go to
// .test-data/screenshots/.

const TAX = '11130100MB0194826G';
const hoursAgo = (h: number) => new Date(Date.now() - h * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');

async function apply(t: TestHub, events: CaseEvent[]): Promise<void> {
  const results = await t.hub.context.store.cases.apply(events, { receivedAt: new Date() });
  assert.ok(results.every((r) => r.result === 'accepted'), JSON.stringify(results));
}

async function codeOf(t: TestHub, system: string, localId: string): Promise<string> {
  const r = await getJson(`${t.url}/api/v1/cases/lookup?system=${system}&localId=${localId}`, SUPERVISOR);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.supervisionCode;
}

/** Signs in as a person would, by keyboard: the token field has the focus, Enter submits. */
async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/console`);
  await page.waitForSelector('#token:focus');
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#who');
}

describe('the console in headless Chromium', function () {
  this.timeout(120_000);
  let t: TestHub;
  let browser: Browser;
  let redCode: string;
  let taxRedCode: string;

  before(async function () {
    // Installing Chromium, when it is missing, takes a minute or more.
    this.timeout(600_000);
    assertConsoleBuilt();
    browser = await launchChromium();
    t = await startTestHub('embedded', { HUB_POLLING_OFF: 'all' });
    // The vehicle office: one case completed with no acceptance on record (NO_ACCEPTANCE: RED), one
    // accepted and in time (GREEN), reported by its halls; the tax bureau: a RED case of its own.
    await apply(t, [
      vehicleEvent('c-red-1', 'VEH-RED-1', 'SUBMITTED', hoursAgo(5), VEHICLE_HALLS[0]),
      vehicleEvent('c-red-2', 'VEH-RED-1', 'COMPLETED', hoursAgo(4), VEHICLE_HALLS[0]),
      vehicleEvent('c-green-1', 'VEH-GREEN-1', 'SUBMITTED', hoursAgo(3), VEHICLE_HALLS[1]),
      vehicleEvent('c-green-2', 'VEH-GREEN-1', 'ACCEPTED', hoursAgo(2), VEHICLE_HALLS[1]),
      taxEvent('c-tax-1', 'SW-RED-1', 'SUBMITTED', hoursAgo(5)),
      taxEvent('c-tax-2', 'SW-RED-1', 'COMPLETED', hoursAgo(4)),
    ]);
    await settled(t.url);
    redCode = await codeOf(t, 'vehicle-office', 'VEH-RED-1');
    taxRedCode = await codeOf(t, 'tax-bureau', 'SW-RED-1');
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  describe('with the demo supervisor token', () => {
    let context: BrowserContext;
    let page: Page;
    let seen: ReturnType<typeof watchPage>;
    before(async () => {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
      page = await context.newPage();
      seen = watchPage(page);
      await signIn(page, t.url, 'demo-supervisor-token');
    });
    after(async () => { await context?.close(); });

    it('signs in and shows the supervisor\'s views, in Chinese', async () => {
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      const nav = await page.locator('header nav a').allTextContents();
      assert.deepEqual(nav.map((n) => n.replace(/\d+$/, '')), ['办件', '统计', '预警', '评价与回访']);
      assert.match(await page.textContent('#who') ?? '', /demo supervisor.*监察.*全部部门/);
      await page.waitForSelector('table.cases tbody tr');
    });

    it('filters the RED cases of the vehicle office, by keyboard', async () => {
      await page.selectOption('#filter-department', VEHICLE_OFFICE.code);
      await page.selectOption('#filter-light', 'RED');
      // From the last filter, Tab reaches 查询.
      await page.focus('#filter-item');
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate('document.activeElement.textContent'), '查询');
      await page.keyboard.press('Enter');
      await page.waitForSelector(`table.cases[aria-busy="false"] caption:has-text("${VEHICLE_OFFICE.name} · 红灯")`);
      await page.waitForSelector(`tr[data-code="${redCode}"]`);
      const rows = page.locator('table.cases tbody tr');
      const texts = await rows.allTextContents();
      assert.ok(texts.length >= 1);
      for (const row of texts) {
        assert.match(row, /红灯/);
        assert.match(row, new RegExp(VEHICLE_OFFICE.name));
      }
      assert.equal(await page.locator(`tr[data-code="${taxRedCode}"]`).count(), 0, 'the tax bureau\'s RED case is not in the vehicle office\'s list');
      // The filter went to the hub (server-side paging), not through rows held in the page.
      assert.ok(seen.requests.map((u) => new URL(u)).some((u) => u.pathname === '/api/v1/cases' && u.searchParams.get('department') === VEHICLE_OFFICE.code && u.searchParams.get('light') === 'RED'), seen.requests.join('\n'));
      await screenshot(page, 'console-red-vehicle-office');
    });

    it('opens the case and shows its timeline, deadline, violation and references, applicant masked', async () => {
      await page.focus(`tr[data-code="${redCode}"] a`);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#case-timeline');
      const timeline = await page.locator('#case-timeline tbody tr').allTextContents();
      assert.equal(timeline.length, 2);
      assert.match(timeline[0], /已提交/);
      assert.match(timeline[1], /已办结.*未受理即办结/);
      assert.match(await page.textContent('#case-violations') ?? '', /未受理即办结/);
      assert.match(await page.textContent('#case-references') ?? '', /VEH-RED-1/);
      const applicant = await page.textContent('#case-applicant') ?? '';
      assert.ok(!applicant.includes('130102197512086233') && !applicant.includes('13831100425'), applicant);
      assert.match(applicant, /已脱敏/);
      assert.match(await page.textContent('h1') ?? '', /红灯/);
      await screenshot(page, 'console-case-timeline');
    });

    it('shows an alert live, as soon as a department posts the event that raises it', async () => {
      await page.click('header nav a:has-text("预警")');
      await page.waitForSelector('#stream-state:has-text("实时接收中")');
      // Market regulation posts, through its signed webhook, a new case completed with no
      // acceptance on record: a violation and a RED light.
      const beijing = (h: number) => `${new Date(Date.now() - h * 3600_000 + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
      const applicant = { type: 'ENTERPRISE' as const, name: '石家庄恒泰商贸有限公司', creditCode: '91130100MA0CK3L52K', mobile: '13831100425' };
      const posted = await postBatch(`${t.url}/api/v1/inbound/market-regulation`, {
        batchId: 'console-live-1',
        events: [
          { eventId: '5d0c9a6e-1b2f-4c3d-8e4f-a5b6c7d8e901', caseNo: 'SJ-LIVE-1', itemCode: 'SCJG-SP-001', status: 'SUBMITTED', statusTime: beijing(1), applicant, officer: null, supervisionCode: null, remark: null },
          { eventId: '5d0c9a6e-1b2f-4c3d-8e4f-a5b6c7d8e902', caseNo: 'SJ-LIVE-1', itemCode: 'SCJG-SP-001', status: 'DONE', statusTime: beijing(0.5), applicant, officer: null, supervisionCode: null, remark: null },
        ],
      });
      assert.equal(posted.status, 200, JSON.stringify(posted.body));
      const liveCode = await codeOf(t, 'market-regulation', 'SJ-LIVE-1');
      await page.waitForSelector(`#alerts-table tr.live[data-code="${liveCode}"]`, { timeout: 20_000 });
      const rows = await page.locator(`#alerts-table tr.live[data-code="${liveCode}"]`).allTextContents();
      assert.ok(rows.some((r) => /未受理即办结/.test(r)), rows.join('\n'));
      assert.match(await page.textContent('#announcer') ?? '', new RegExp(liveCode));
      await screenshot(page, 'console-alert-live');
    });

    it('shows the department statistics with the chart of lights and the on-time rate by week', async () => {
      await page.click('header nav a:has-text("统计")');
      await page.waitForSelector('#stats-table tbody tr');
      await page.waitForSelector('#lights-chart');
      await page.waitForSelector('#on-time-chart');
      const table = await page.textContent('#stats-table') ?? '';
      assert.match(table, new RegExp(VEHICLE_OFFICE.name));
      assert.match(table, /国家税务总局石家庄市税务局/);
      await screenshot(page, 'console-stats');
    });

    it('loaded everything from the hub, kept the token out of every address, and logged no error', () => {
      const origin = new URL(t.url).origin;
      const foreign = seen.requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
      assert.deepEqual(foreign, [], 'requests to another origin (a CDN?)');
      assert.ok(seen.requests.some((u) => u.includes('/console/assets/')), 'the console\'s assets came from the hub');
      assert.deepEqual(seen.requests.filter((u) => u.includes('demo-supervisor-token')), []);
      assert.deepEqual(seen.errors, []);
    });
  });

  describe('with a department\'s tokens', () => {
    let context: BrowserContext;
    beforeEach(async () => { context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' }); });
    afterEach(async () => { await context?.close(); });

    it('a department-scoped supervisor token sees only its own department: cases, filters, statistics', async () => {
      const page = await context.newPage();
      await signIn(page, t.url, 'demo-vehicle-supervisor-token');
      assert.match(await page.textContent('#who') ?? '', /车管所/);
      await page.waitForSelector(`tr[data-code="${redCode}"]`);
      for (const row of await page.locator('table.cases tbody tr').allTextContents()) assert.match(row, new RegExp(VEHICLE_OFFICE.name));
      assert.equal(await page.locator(`tr[data-code="${taxRedCode}"]`).count(), 0);
      const choices = await page.locator('#filter-department option').allTextContents();
      assert.deepEqual(choices, ['全部部门', VEHICLE_OFFICE.name]);
      await page.click('header nav a:has-text("统计")');
      await page.waitForSelector('#stats-table tbody tr');
      const stats = await page.textContent('#stats-table') ?? '';
      assert.match(stats, new RegExp(VEHICLE_OFFICE.name));
      assert.ok(!stats.includes('税务局'), stats);
      // Another department's case, asked for by its address: the hub answers as for no case at all.
      await page.goto(`${t.url}/console#/case/${taxRedCode}`);
      await page.waitForSelector('.note-error');
      assert.match(await page.textContent('.note-error') ?? '', /未找到/);
      await screenshot(page, 'console-department-supervisor');
    });

    it('a department token sees its own department\'s evaluations and no supervisor view', async () => {
      const page = await context.newPage();
      await signIn(page, t.url, 'demo-vehicle-department-token');
      assert.deepEqual(await page.locator('header nav a').allTextContents(), ['评价与回访']);
      assert.match(await page.textContent('#who') ?? '', /部门.*车管所/);
      await page.waitForSelector('#evaluations-title');
      await page.waitForSelector('#evaluations-table, .note');
      assert.deepEqual(await page.locator('select[name="department"] option').allTextContents(), ['本部门全部', VEHICLE_OFFICE.name]);
      await screenshot(page, 'console-department');
      await page.goto(`${t.url}/console#/cases`);
      await page.waitForSelector('text=此令牌无权查看这个页面');
    });

    it('an operator token sees the dead letters and the files, and no case', async () => {
      const page = await context.newPage();
      await signIn(page, t.url, 'demo-operator-token');
      assert.deepEqual(await page.locator('header nav a').allTextContents(), ['死信', '文件交换']);
      await page.waitForSelector('#dl-title');
      await page.waitForSelector('#dead-letters-table, .note');
      await page.click('header nav a:has-text("文件交换")');
      await page.waitForSelector('#files-title');
      await page.waitForSelector('#files-table, .note');
      await screenshot(page, 'console-operator');
    });
  });
});
