import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { postBatch } from '../infra/simulators/market-regulation';
import { REPORT_SOAP_ACTION } from '../infra/simulators/vehicle-office';
import { dropBatch } from '../infra/simulators/tax-bureau';
import { httpPost } from '../infra/simulators/http-post';
import { issueSupervisionCode } from '../core/identifiers/supervision-code';
import { STATUS_LABELS } from '../services/console/labels';
import { startTestHub, TestHub, getJson, SUPERVISOR, settled, waitFor } from './support/hub';
import { launchChromium, screenshot } from './support/browser';

// The public status page, /status/{code} (办事群众随时查询): every department sample taken through
// its transport, then each case's page read as HTML and in Chromium. It shows the status, item,
// department, deadline and timeline statuses, and none of the samples' names, ID numbers or mobiles.

const samplesOf = (adapter: string) => fs.readdirSync(path.join(ADAPTERS_DIR, adapter, 'samples')).map((f) => path.join(ADAPTERS_DIR, adapter, 'samples', f));

/** The names, ID numbers, mobiles and phones of the applicants (and the officers) of every sample's expected events. */
function samplesPersonalData(): string[] {
  const values = new Set<string>();
  for (const adapter of ['market-regulation', 'vehicle-office', 'tax-bureau']) {
    for (const file of samplesOf(adapter).filter((f) => f.endsWith('.expected.json'))) {
      const e = JSON.parse(fs.readFileSync(file, 'utf8')) as { events?: any[]; records?: { events?: any[] }[] };
      for (const ev of [...(e.events ?? []), ...(e.records ?? []).flatMap((r) => r.events ?? [])]) {
        const a = ev.data.applicant;
        for (const v of [a.name, a.idNumber, a.mobile, a.phone, ev.data.officer]) if (typeof v === 'string' && v.length >= 2) values.add(v);
      }
    }
  }
  return [...values];
}

describe('the public status page', function () {
  this.timeout(120_000);
  let t: TestHub;
  let browser: Browser;
  let codes: string[];
  const personal = samplesPersonalData();

  before(async function () {
    // Installing Chromium, when it is missing, takes a minute or more.
    this.timeout(600_000);
    browser = await launchChromium();
    t = await startTestHub('embedded', { HUB_POLLING_OFF: 'all' });
    for (const f of samplesOf('market-regulation').filter((f) => f.endsWith('.json') && !f.endsWith('.expected.json'))) {
      await postBatch(`${t.url}/api/v1/inbound/market-regulation`, fs.readFileSync(f));
    }
    for (const f of samplesOf('vehicle-office').filter((f) => f.endsWith('.xml'))) {
      await httpPost(`${t.url}/soap/vehicle-office`, fs.readFileSync(f), { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: REPORT_SOAP_ACTION });
    }
    const inbox = path.join(t.dataDir, 'drop', 'tax-bureau', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    for (const f of samplesOf('tax-bureau').filter((f) => f.endsWith('.xml'))) await dropBatch(inbox, fs.readFileSync(f), { name: path.basename(f) });
    const receipts = path.join(t.dataDir, 'drop', 'tax-bureau', 'receipts');
    await waitFor('the tax bureau\'s receipt', () => fs.existsSync(receipts) && fs.readdirSync(receipts).some((f) => f.endsWith('.ok')), 30_000);
    await settled(t.url);
    const list = await getJson(`${t.url}/api/v1/cases?limit=200`, SUPERVISOR);
    codes = list.body.items.map((c: { supervisionCode: string }) => c.supervisionCode);
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('shows every sample case\'s status, item, department, deadline and timeline, and none of the samples\' personal data in its HTML', async () => {
    assert.ok(personal.length >= 10, `the samples give ${personal.length} personal values`);
    assert.ok(codes.length >= 5, `the samples made ${codes.length} cases`);
    for (const code of codes) {
      const view = (await getJson(`${t.url}/api/v1/cases/${code}`, SUPERVISOR)).body;
      const res = await fetch(`${t.url}/status/${code}`);
      assert.equal(res.status, 200, code);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      const html = await res.text();
      assert.match(html, /<html lang="zh-CN">/);
      assert.ok(html.includes(STATUS_LABELS[view.status as keyof typeof STATUS_LABELS]), `${code}: its status ${view.status}`);
      assert.ok(html.includes(view.item.name) && html.includes(view.department.name), `${code}: item and department`);
      for (const e of view.timeline) assert.ok(html.includes(STATUS_LABELS[e.status as keyof typeof STATUS_LABELS]), `${code}: timeline status ${e.status}`);
      if (view.deadline) assert.ok(html.includes(view.deadline.slice(0, 10)), `${code}: deadline ${view.deadline}`);
      for (const value of personal) assert.ok(!html.includes(value), `${code}: the status page shows ${value}`);
      // Nor any masked form of them: the applicant is not on the page at all.
      assert.ok(!html.includes(view.applicant.name) && !html.includes(view.applicant.idNumber), `${code}: the applicant`);
    }
  });

  it('in Chromium: the sample case\'s statuses, with no script and no personal data', async () => {
    // The case with the longest timeline among the samples'.
    let code = codes[0];
    let longest = 0;
    for (const c of codes) {
      const n = (await getJson(`${t.url}/api/v1/public/cases/${c}`)).body.timeline.length;
      if (n > longest) [code, longest] = [c, n];
    }
    const pub = (await getJson(`${t.url}/api/v1/public/cases/${code}`)).body;
    const page = await browser.newPage({ locale: 'zh-CN' });
    try {
      const res = await page.goto(`${t.url}/status/${code}`);
      assert.equal(res?.status(), 200);
      assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
      assert.equal(await page.textContent('#status'), STATUS_LABELS[pub.status as keyof typeof STATUS_LABELS]);
      const steps = await page.locator('#timeline li').allTextContents();
      assert.deepEqual(steps.map((s) => s.replace(/^[\d-]+ [\d:]+/, '')), pub.timeline.map((e: { status: keyof typeof STATUS_LABELS }) => STATUS_LABELS[e.status]));
      assert.equal(await page.textContent('#item'), pub.item.name);
      assert.equal(await page.textContent('#department'), pub.department.name);
      assert.equal(await page.locator('script').count(), 0);
      const html = await page.content();
      for (const value of personal) assert.ok(!html.includes(value), `the page shows ${value}`);
      await screenshot(page, 'status-page');

      // The form: a code typed in goes to its page, by keyboard.
      await page.fill('#code', code.toLowerCase());
      await page.press('#code', 'Enter');
      await page.waitForURL(`${t.url}/status/${code}`);
    } finally {
      await page.close();
    }
  });

  it('answers an unknown code with a friendly page and 404, a malformed one with 400', async () => {
    const unknown = issueSupervisionCode('130100', new Date());
    const res = await fetch(`${t.url}/status/${unknown}`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    const html = await res.text();
    assert.match(html, /<html lang="zh-CN">/);
    assert.match(html, /未找到办件/);
    const bad = await fetch(`${t.url}/status/NOT-A-CODE`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /格式不正确/);

    const page = await browser.newPage({ locale: 'zh-CN' });
    try {
      const r = await page.goto(`${t.url}/status/${unknown}`);
      assert.equal(r?.status(), 404);
      assert.match(await page.textContent('h1') ?? '', /未找到办件/);
      await screenshot(page, 'status-page-unknown');
    } finally {
      await page.close();
    }
  });
});
