import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { postBatch, MarketBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { validateCaseView } from '../contracts/validate';
import { TARGETS } from './support/cluster';
import { startTestHub, TestHub, SUPERVISOR, OPERATOR, getJson, settled } from './support/hub';

// The department's sample, as handed over (adapters/market-regulation/samples keeps the copy).
const SAMPLE = path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-01.json');
const sampleText = () => fs.readFileSync(SAMPLE);

function event(over: Partial<MarketEvent> & Record<string, unknown> = {}): MarketEvent {
  return {
    eventId: randomUUID(), caseNo: `SJ${Date.now()}${Math.floor(Math.random() * 1e6)}`, itemCode: 'SCJG-DJ-002', status: 'SUBMITTED',
    statusTime: '2026-11-24T09:00:00+08:00',
    applicant: { type: 'ENTERPRISE', name: '石家庄恒泰商贸有限公司', creditCode: '91130100MA0CK3L52K', mobile: '13831100425' },
    officer: null, supervisionCode: null, remark: null, ...over,
  } as MarketEvent;
}

const batch = (events: MarketEvent[]): MarketBatch => ({ batchId: `b-${randomUUID()}`, events });

for (const store of TARGETS) {
  describe(`market regulation webhook → case view (${store})`, function () {
    this.timeout(120_000);
    let t: TestHub;
    let inbound: string;
    const counts = async () => {
      const db = t.hub.context.store.driver;
      const r = await db.query<{ e: string; c: string }>('SELECT (SELECT count(*) FROM events)::text AS e, (SELECT count(*) FROM cases)::text AS c');
      return { events: Number(r.rows[0].e), cases: Number(r.rows[0].c) };
    };
    const caseOf = async (caseNo: string) => {
      const l = await getJson(`${t.url}/api/v1/cases/lookup?system=market-regulation&localId=${caseNo}`, SUPERVISOR);
      assert.equal(l.status, 200, JSON.stringify(l.body));
      const v = await getJson(`${t.url}/api/v1/cases/${l.body.supervisionCode}`, SUPERVISOR);
      assert.equal(v.status, 200);
      return v.body;
    };

    before(async () => {
      t = await startTestHub(store);
      inbound = `${t.url}/api/v1/inbound/market-regulation`;
    });
    after(async () => { await t?.stop(); });

    it('applies the sample batch: three accepted, the case ACCEPTED with its department, item and ordered timeline', async () => {
      const r = await postBatch(inbound, sampleText());
      assert.equal(r.status, 200);
      await settled(t.url);
      const results = (r.body as any).results;
      assert.deepEqual(results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
      assert.deepEqual(results.map((x: any) => x.eventId), JSON.parse(sampleText().toString()).events.map((e: any) => e.eventId));
      const view = await caseOf('SJ130100202611240031');
      assert.equal(validateCaseView(view), null);
      assert.equal(view.status, 'ACCEPTED');
      assert.deepEqual(view.item, { code: '130100-SC-0001', name: '食品经营许可' });
      assert.deepEqual(view.department, { code: '11130100000500117D', name: '石家庄市市场监督管理局' });
      assert.deepEqual(view.timeline.map((e: any) => [e.status, e.time]), [['SUBMITTED', '2026-11-24T08:55:02+08:00'], ['ACCEPTED', '2026-11-24T09:12:44+08:00']]);
      assert.deepEqual(view.timeline.map((e: any) => e.sourceCode), ['SUBMITTED', 'ACCEPTED']);
      assert.equal(results[0].supervisionCode, view.supervisionCode);
      assert.equal(results[1].supervisionCode, view.supervisionCode);
      const parsed = parseSupervisionCode(view.supervisionCode);
      assert.ok(parsed.ok, `check character rule: ${JSON.stringify(parsed)}`);
      assert.equal(view.supervisionCode.slice(0, 6), '130100');
      assert.deepEqual(view.references, [{ system: 'market-regulation', localId: 'SJ130100202611240031' }]);
      // 食品经营许可, promised 8 working days: accepted Tue 11-24, due at the end of Fri 12-04, and
      // late on every day since (the hub's clock is the real one here).
      assert.equal(view.deadline, '2026-12-04T23:59:59+08:00');
      assert.equal(view.light, 'RED');
      const done = await caseOf('SJ130100202611240044');
      assert.equal(done.status, 'COMPLETED');
      assert.deepEqual(done.violations.map((v: any) => [v.code, v.reason]), [['NO_ACCEPTANCE', '未受理即办结 (completed with no acceptance on record)']]);
      assert.equal(done.light, 'RED');
      assert.equal(done.deadline, null);
      assert.equal(done.applicant.kind, 'PERSON');
    });

    it('answers a re-sent batch with three duplicates and the same codes, changing nothing', async () => {
      const before = await counts();
      const view = await caseOf('SJ130100202611240031');
      const first = (await postBatch(inbound, sampleText())).body as any;
      assert.deepEqual(first.results.map((x: any) => x.result), ['duplicate', 'duplicate', 'duplicate']);
      assert.equal(first.results[0].supervisionCode, view.supervisionCode);
      assert.equal(first.results[1].supervisionCode, view.supervisionCode);
      assert.deepEqual(await counts(), before);
      assert.deepEqual(await caseOf('SJ130100202611240031'), view);
    });

    it('refuses bad signatures, unknown keys, stale timestamps, non-JSON and oversize bodies with problem+json, applying nothing', async () => {
      const before = await counts();
      const fresh = batch([event()]);
      const check = async (r: { status: number; headers: any; body: any }, status: number, type: string) => {
        assert.equal(r.status, status, JSON.stringify(r.body));
        assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
        assert.equal(r.body.status, status);
        assert.equal(r.body.type, `urn:hub:problem:${type}`);
        assert.ok(r.body.detail);
      };
      await check(await postBatch(inbound, fresh, { secret: 'not-the-secret-2026' }), 401, 'bad-signature');
      await check(await postBatch(inbound, fresh, { keyId: 'someone-else' }), 401, 'unknown-key');
      await check(await postBatch(inbound, fresh, { timestamp: Math.floor(Date.now() / 1000) - 301 }), 401, 'stale-timestamp');
      await check(await postBatch(inbound, fresh, { timestamp: Math.floor(Date.now() / 1000) + 301 }), 401, 'stale-timestamp');
      await check(await postBatch(inbound, Buffer.from('{"batchId": "x", "events": [')), 400, 'not-json');
      await check(await postBatch(inbound, Buffer.from('[1,2,3]')), 400, 'not-a-batch');
      await check(await postBatch(inbound, batch([])), 400, 'batch-size');
      await check(await postBatch(inbound, batch(Array.from({ length: 501 }, () => event()))), 400, 'batch-size');
      const big = Buffer.alloc(5 * 1024 * 1024 + 1, 0x20);
      await check(await postBatch(inbound, big), 413, 'body-too-large');
      assert.deepEqual(await counts(), before);
      // A correctly signed copy of the refused batch is taken afterwards: refusals left no trace.
      const ok = await postBatch(inbound, fresh);
      assert.equal((ok.body as any).results[0].result, 'accepted');
    });

    it('rejects events with an unknown item or status, or a bad credit code or citizen ID, naming the field, and applies the rest', async () => {
      const good = event();
      const bad = [
        event({ itemCode: 'SCJG-XX-999' }),
        event({ status: 'PAUSED' as any }),
        event({ applicant: { type: 'ENTERPRISE', name: '石家庄北辰机械制造有限公司', creditCode: '91130100MA0FGH8J4A', mobile: null } as any }),
        event({ applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241284', mobile: '15833321907' } as any }),
      ];
      const r = await postBatch(inbound, batch([bad[0], good, bad[1], bad[2], bad[3]]));
      assert.equal(r.status, 200);
      const results = (r.body as any).results;
      assert.deepEqual(results.map((x: any) => x.result), ['rejected', 'accepted', 'rejected', 'rejected', 'rejected']);
      assert.deepEqual(results.map((x: any) => x.field), ['itemCode', undefined, 'status', 'applicant.creditCode', 'applicant.idNumber']);
      assert.match(results[3].reason, /统一社会信用代码校验位错误/);
      assert.match(results[3].reason, /expected check character Q/);
      assert.match(results[4].reason, /身份证号码校验位错误/);
      assert.match(results[0].reason, /SCJG-XX-999/);
      assert.match(results[2].reason, /PAUSED/);
      assert.equal((await caseOf(good.caseNo)).status, 'SUBMITTED');
      const missing = await getJson(`${t.url}/api/v1/cases/lookup?system=market-regulation&localId=${bad[2].caseNo}`, SUPERVISOR);
      assert.equal(missing.status, 404);
      // Every refusal is there for an operator too.
      const dl = await getJson(`${t.url}/api/v1/dead-letters?adapter=market-regulation`, OPERATOR);
      assert.equal(dl.status, 200);
      const fields = dl.body.items.map((d: any) => d.field);
      for (const f of ['itemCode', 'status', 'applicant.creditCode', 'applicant.idNumber']) assert.ok(fields.includes(f), `dead letter for ${f}`);
      // Times the hub produces are ISO 8601 in Beijing time.
      for (const d of dl.body.items) assert.match(d.receivedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$/);
    });

    it('gives 50 concurrent first sights of one new case one case with one supervision code', async () => {
      const caseNo = `SJ13010020261125${Math.floor(Math.random() * 1e6)}`;
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) =>
        postBatch(inbound, batch([event({ caseNo, status: 'SUBMITTED', statusTime: `2026-11-25T09:00:${String(i).padStart(2, '0')}+08:00` })]))));
      const codes = new Set(answers.map((a) => { assert.equal(a.status, 200); const r = (a.body as any).results[0]; assert.equal(r.result, 'accepted'); return r.supervisionCode; }));
      assert.equal(codes.size, 1);
      const view = await caseOf(caseNo);
      assert.equal(view.timeline.length, 50);
      const rows = await t.hub.context.store.driver.query<{ n: string }>("SELECT count(DISTINCT supervision_code)::text AS n FROM case_refs WHERE local_id = $1", [caseNo]);
      assert.equal(rows.rows[0].n, '1');
    });

    it('attaches a message carrying a supervision code to that case, and refuses a code that contradicts the case', async () => {
      const { issueSupervisionCode } = await import('../core/identifiers/supervision-code');
      const carried = issueSupervisionCode('130100', new Date());
      const caseNo = `SJCARRY${Date.now()}`;
      const first = await postBatch(inbound, batch([event({ caseNo, supervisionCode: carried })]));
      assert.equal((first.body as any).results[0].supervisionCode, carried);
      const later = await postBatch(inbound, batch([event({ caseNo, status: 'ACCEPTED', statusTime: '2026-11-24T10:00:00+08:00' })]));
      assert.equal((later.body as any).results[0].supervisionCode, carried);
      const other = issueSupervisionCode('130100', new Date());
      const conflict = await postBatch(inbound, batch([event({ caseNo, status: 'IN_REVIEW', supervisionCode: other })]));
      const r = (conflict.body as any).results[0];
      assert.equal(r.result, 'rejected');
      assert.equal(r.field, 'supervisionCode');
      assert.equal((await caseOf(caseNo)).timeline.length, 2);
      const malformed = await postBatch(inbound, batch([event({ supervisionCode: carried.slice(0, 23) + (carried[23] === 'A' ? 'B' : 'A') })]));
      assert.equal((malformed.body as any).results[0].result, 'rejected');
      assert.equal((malformed.body as any).results[0].field, 'supervisionCode');
    });

    it('shows the public no personal data, masks ID and phone for the supervisor, and wants a token', async () => {
      const view = await caseOf('SJ130100202611240044');
      assert.equal(view.applicant.idNumber, '1301**********1283');
      assert.equal(view.applicant.mobile, '158****1907');
      assert.equal(view.applicant.name, '刘芳');
      const pub = await getJson(`${t.url}/api/v1/public/cases/${view.supervisionCode}`);
      assert.equal(pub.status, 200);
      const text = JSON.stringify(pub.body);
      for (const secret of ['刘芳', '130105197806241283', '1283', '15833321907', '1907', '马超', '当场办结']) assert.ok(!text.includes(secret), `public view leaks ${secret}`);
      assert.equal(pub.body.status, 'COMPLETED');
      for (const p of [`/api/v1/cases/${view.supervisionCode}`, '/api/v1/cases', '/api/v1/cases/lookup?system=market-regulation&localId=SJ130100202611240044', '/api/v1/stats/departments']) {
        const r = await getJson(t.url + p);
        assert.equal(r.status, 401, p);
        assert.match(r.contentType, /application\/problem\+json/);
        assert.equal((await getJson(t.url + p, { Authorization: 'Bearer wrong-token-123' })).status, 401);
        assert.equal((await getJson(t.url + p, OPERATOR)).status, 403, p);
      }
      assert.equal((await getJson(`${t.url}/api/v1/dead-letters`, SUPERVISOR)).status, 403);
    });

    it('answers 400 for a malformed code and 404 for a well-formed unknown one', async () => {
      const bad = await getJson(`${t.url}/api/v1/cases/NOT-A-CODE`, SUPERVISOR);
      assert.equal(bad.status, 400);
      assert.match(bad.contentType, /problem\+json/);
      const known = (await caseOf('SJ130100202611240031')).supervisionCode as string;
      // Same shape, another random part, recomputed check character: well-formed, unknown.
      const { supervisionCodeCheckChar } = await import('../core/identifiers/supervision-code');
      const other = known.slice(0, 14) + (known[14] === '0' ? '1' : '0') + known.slice(15, 23);
      const unknown = other + supervisionCodeCheckChar(other);
      assert.equal((await getJson(`${t.url}/api/v1/cases/${unknown}`, SUPERVISOR)).status, 404);
      assert.equal((await getJson(`${t.url}/api/v1/public/cases/${unknown}`)).status, 404);
      const wrongCheck = known.slice(0, 23) + (known[23] === 'A' ? 'B' : 'A');
      assert.equal((await getJson(`${t.url}/api/v1/cases/${wrongCheck}`, SUPERVISOR)).status, 400);
    });

    it('lists cases with filters and a cursor that walks every page once', async () => {
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const r = await getJson(`${t.url}/api/v1/cases?limit=2${cursor ? `&cursor=${cursor}` : ''}`, SUPERVISOR);
        assert.equal(r.status, 200);
        assert.ok(r.body.items.length <= 2);
        all.push(...r.body.items.map((c: any) => c.supervisionCode));
        cursor = r.body.nextCursor;
      } while (cursor);
      const total = (await counts()).cases;
      assert.equal(all.length, total);
      assert.equal(new Set(all).size, total);
      const completed = await getJson(`${t.url}/api/v1/cases?status=COMPLETED&department=11130100000500117D`, SUPERVISOR);
      assert.ok(completed.body.items.length >= 1);
      assert.ok(completed.body.items.every((c: any) => c.status === 'COMPLETED'));
      const item = await getJson(`${t.url}/api/v1/cases?item=130100-SC-0001`, SUPERVISOR);
      assert.ok(item.body.items.every((c: any) => c.item.code === '130100-SC-0001'));
      assert.equal((await getJson(`${t.url}/api/v1/cases?status=NOPE`, SUPERVISOR)).status, 400);
      assert.equal((await getJson(`${t.url}/api/v1/cases?cursor=garbage`, SUPERVISOR)).status, 400);
    });

    it('counts inbound events and applied events in /metrics, and reports health', async () => {
      const m = await fetch(`${t.url}/metrics`).then((r) => r.text());
      assert.match(m, /hub_inbound_messages_total\{adapter="market-regulation",result="accepted"\} \d+/);
      assert.match(m, /hub_inbound_messages_total\{adapter="market-regulation",result="duplicate"\} 3/);
      assert.match(m, /hub_inbound_messages_total\{adapter="market-regulation",result="rejected"\} \d+/);
      assert.match(m, /hub_events_total\{department="11130100000500117D",status="ACCEPTED"\} 2/);
      assert.match(m, /hub_dead_letters\{adapter="market-regulation"\} 6/);
      assert.doesNotMatch(m, /13831100425|130105197806241283/);
      assert.equal((await getJson(`${t.url}/health/live`)).status, 200);
      assert.equal((await getJson(`${t.url}/health/ready`)).status, 200);
      await settled(t.url);
      const stats = await getJson(`${t.url}/api/v1/stats/departments`, SUPERVISOR);
      assert.equal(stats.status, 200);
      const scjg = stats.body.departments.find((d: any) => d.code === '11130100000500117D');
      assert.equal(scjg.received, (await counts()).cases);
    });

    // Last: it takes the store away.
    it('answers 503 problem+json with Retry-After when the store cannot take the message, and is not ready', async () => {
      await t.hub.context.store.driver.close();
      const r = await postBatch(inbound, batch([event()]));
      assert.equal(r.status, 503);
      assert.match(String(r.headers['content-type']), /problem\+json/);
      assert.ok(Number(r.headers['retry-after']) > 0);
      assert.equal((await getJson(`${t.url}/health/ready`)).status, 503);
      assert.equal((await getJson(`${t.url}/health/live`)).status, 200);
    });
  });
}
