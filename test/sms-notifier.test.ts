import assert from 'node:assert/strict';
import type { CanonicalStatus, CaseEvent } from '../contracts/types';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { startHub, RunningHub, SERVICE_NAMES } from '../cli/start-hub';
import { STORES, StoreKind, testDataDir, waitFor, settled } from './support/hub';
import { createTestDatabase } from './support/servers';
import { taxEvent, vehicleEvent } from './support/events';
import { startSmsGateway, SmsGatewaySimulator, SMS_DEMO_TOKEN } from '../infra/simulators/sms-gateway';

// Issue 19's acceptance: the SMS gateway answers 503 for a while (and once takes a message without
// answering), the hub restarts meanwhile, then the gateway answers 429 with Retry-After; once it
// recovers every notification due has reached its applicant's phone exactly once.

const EVALUATE: ReadonlySet<CanonicalStatus> = new Set(['COMPLETED', 'REJECTED']);
const LABEL: Record<string, string> = { ACCEPTED: '已受理', SUPPLEMENT_REQUESTED: '待补正', COMPLETED: '已办结', REJECTED: '不予受理' };
const DAY = '2026-11-24';
const at = (hhmm: string) => `${DAY}T${hhmm}:00+08:00`;

/** A case of the test: its events (by step), and the notifications its applicant is due. */
interface Plan {
  local: string;
  /** Events by hub: the first before the restart, the second after. */
  before: CaseEvent[];
  after: CaseEvent[];
  /** The mobile the notifications go to, and which; none for a landline. */
  mobile: string | null;
  due: CanonicalStatus[];
}

const TIMES: Partial<Record<CanonicalStatus, string>> = { SUBMITTED: '09:00', ACCEPTED: '09:10', REJECTED: '09:10', SUPPLEMENT_REQUESTED: '09:20', SUPPLEMENTED: '09:30', COMPLETED: '09:40' };

function vehicleCase(local: string, mobile: string | null, steps: CanonicalStatus[], split: number, phone?: string): CaseEvent[][] {
  const events = ['SUBMITTED' as CanonicalStatus, ...steps].map((s) => {
    const e = vehicleEvent(`${local}-${s}`, local, s, at(TIMES[s]!));
    e.data.applicant = { ...e.data.applicant, mobile, ...(phone ? { phone } : {}) };
    return e;
  });
  return [events.slice(0, split + 1), events.slice(split + 1)];
}

/** 24 cases: most with a mobile, one with a landline, one whose mobile comes as a clerk typed it, one of an item told only of acceptance. */
function plans(): Plan[] {
  const out: Plan[] = [];
  for (let i = 0; i < 20; i++) {
    const local = `VEH-SMS-${String(i).padStart(3, '0')}`;
    const mobile = `1383110${String(i).padStart(4, '0')}`;
    const steps: CanonicalStatus[][] = [['ACCEPTED', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'COMPLETED'], ['ACCEPTED', 'COMPLETED'], ['REJECTED'], ['ACCEPTED']];
    const s = steps[i % 4];
    const [before, after] = vehicleCase(local, mobile, s, 1);
    out.push({ local, before, after, mobile, due: s.filter((x) => x !== 'SUPPLEMENTED') });
  }
  // A landline gets no SMS.
  const [lb, la] = vehicleCase('VEH-SMS-LANDLINE', null, ['ACCEPTED', 'COMPLETED'], 1, '0311-87654321');
  out.push({ local: 'VEH-SMS-LANDLINE', before: lb, after: la, mobile: null, due: [] });
  // A mobile as typed (+86, spaces, dashes) is normalised.
  const [fb, fa] = vehicleCase('VEH-SMS-TYPED', '+86 139-3110-0001', ['ACCEPTED'], 1);
  out.push({ local: 'VEH-SMS-TYPED', before: fb, after: fa, mobile: '13931100001', due: ['ACCEPTED'] });
  // An item configured to tell of acceptance only (发票领用核定).
  const tax = (['SUBMITTED', 'ACCEPTED', 'COMPLETED'] as CanonicalStatus[]).map((s) => {
    const e = taxEvent(`SW-SMS-1-${s}`, 'SW-SMS-1', s, at(TIMES[s]!));
    e.data.item = { code: '130100-SW-0002', name: '发票领用核定' };
    e.data.applicant = { kind: 'PERSON', name: '李娜', idType: 'CITIZEN_ID', idNumber: '130102197512086233', mobile: '13831199999' };
    return e;
  });
  out.push({ local: 'SW-SMS-1', before: tax.slice(0, 2), after: tax.slice(2), mobile: '13831199999', due: ['ACCEPTED'] });
  return out;
}

/** A demo hub in this process with the notifier on against the gateway simulator, without the evaluations service (the test stands one in). */
async function smsHub(dataDir: string, store: string, gatewayUrl: string): Promise<RunningHub> {
  const config = loadConfig({
    HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: store, HUB_POLLING_OFF: 'all',
    HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', HUB_SERVICES: SERVICE_NAMES.filter((n) => n !== 'evaluations').join(','),
  });
  config.notifier = {
    ...config.notifier!, enabled: true,
    gateway: { url: gatewayUrl, token: SMS_DEMO_TOKEN, timeoutMs: 700 },
    items: { '130100-SW-0002': { statuses: ['ACCEPTED'] } },
    retry: { firstDelayMs: 150, maxDelayMs: 800, giveUpHours: 1 },
    pollIntervalMs: 200,
  };
  return startHub(config, createLogger(config.logLevel));
}

/** A stand-in for the evaluations service's `link` action: one address per case, the same on every call. */
function evaluationsStandIn(asked: string[]) {
  return {
    name: 'evaluations',
    actions: {
      link: {
        params: { supervisionCode: 'string' },
        handler(ctx: { params: { supervisionCode: string } }) {
          asked.push(ctx.params.supervisionCode);
          return { token: `t${ctx.params.supervisionCode}`, url: `https://pj.example.gov.cn/e/t${ctx.params.supervisionCode}`, expiresAt: '2027-01-01T00:00:00.000+08:00' };
        },
      },
    },
  };
}

async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}
const smsDepth = (url: string) => metric(url, /^hub_queue_depth\{queue="sms"\} (\d+)/m);
const outbound = (url: string, result: string) => metric(url, new RegExp(`^hub_outbound_total\\{target="sms",result="${result}"\\} (\\d+)`, 'm'));

async function apply(hub: RunningHub, events: CaseEvent[]): Promise<Map<string, string>> {
  const results = await hub.context.store.cases.apply(events, { receivedAt: new Date() });
  const codes = new Map<string, string>();
  results.forEach((r, i) => {
    assert.equal(r.result, 'accepted', JSON.stringify(r));
    if (r.result === 'accepted') codes.set(events[i].data.localCaseId, r.supervisionCode);
  });
  return codes;
}

/**
 * What a describe's test runs against: one gateway simulator for the describe, and the hub and the
 * store the test starts (a database of its own on PostgreSQL), stopped and dropped after it.
 */
function smsTest(kind: StoreKind): { gw: SmsGatewaySimulator; hub: RunningHub | null; store(): Promise<string> } {
  let dropDb: (() => Promise<void>) | null = null;
  const t = {
    gw: null as unknown as SmsGatewaySimulator,
    hub: null as RunningHub | null,
    async store(): Promise<string> {
      if (kind !== 'postgres') return 'embedded';
      const db = await createTestDatabase();
      dropDb = () => db.drop();
      return db.url;
    },
  };
  before(async () => { t.gw = await startSmsGateway(); });
  after(async () => {
    await t.hub?.stop();
    await t.gw?.close();
    await dropDb?.();
  });
  return t;
}

for (const kind of STORES) {
  describe(`SMS notifications given up: an operator lists them and sends them again (${kind} store)`, function () {
    this.timeout(120_000);
    const run = smsTest(kind);

    it('lists a notification the gateway refused, its reason masked, to an operator only, and sends it exactly once on replay', async () => {
      const store = await run.store();
      run.hub = await smsHub(testDataDir(`sms-dead-${kind as StoreKind}`), store, run.gw.url);
      const url = run.hub.url!;
      const as = (token: string, init: RequestInit = {}) => ({ ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
      const deadLetters = async () => {
        const r = await fetch(`${url}/api/v1/notifications/dead-letters`, as('demo-operator-token'));
        assert.equal(r.status, 200);
        return (await r.json() as { items: { key: string; attempts: number; reason: string | null; addedAt: string; diedAt: string | null }[] }).items;
      };
      // The first notification is refused for good (a 4xx other than 401/403/404/408/429), in words naming the mobile.
      run.gw.fail([{ answer: 400, requests: 1, error: 'mobile 13831100777 is on the blocklist' }]);
      // One case first, so that its notification is the one the gateway refuses; then the other.
      const codes = await apply(run.hub, vehicleCase('VEH-SMS-DEAD-1', '13831100777', ['ACCEPTED'], 1)[0]);
      await waitFor('the refused one given up', async () => (await deadLetters()).length === 1, 20_000);
      for (const [local, code] of await apply(run.hub, vehicleCase('VEH-SMS-DEAD-2', '13831100778', ['ACCEPTED'], 1)[0])) codes.set(local, code);
      await waitFor('the other notification sent', () => run.gw.messages().length === 1, 20_000);
      const refused = `${codes.get('VEH-SMS-DEAD-1')}-ACCEPTED`;
      assert.deepEqual(run.gw.messages().map((m) => m.requestId), [`${codes.get('VEH-SMS-DEAD-2')}-ACCEPTED`]);
      const [dead] = await deadLetters();
      assert.equal(dead.key, refused, 'listed by its requestId');
      assert.equal(dead.attempts, 1, 'a refusal for good is not retried');
      assert.match(dead.reason ?? '', /answered 400/);
      assert.match(dead.reason ?? '', /blocklist/);
      assert.doesNotMatch(JSON.stringify(dead), /13831100777/, 'the mobile in the gateway\'s words is masked');
      assert.match(dead.diedAt ?? '', /\+08:00$/);
      assert.equal(await outbound(url, 'rejected'), 1);

      // A supervisor sees none of it, nor may replay it.
      assert.equal((await fetch(`${url}/api/v1/notifications/dead-letters`, as('demo-supervisor-token'))).status, 403);
      assert.equal((await fetch(`${url}/api/v1/notifications/dead-letters/replay`, as('demo-supervisor-token', { method: 'POST', body: '{}' }))).status, 403);
      assert.equal((await deadLetters()).length, 1);

      // Replayed (the gateway takes it now): sent once, under the same requestId, and no longer dead.
      const replay = await fetch(`${url}/api/v1/notifications/dead-letters/replay`, as('demo-operator-token', { method: 'POST', body: JSON.stringify({ keys: [refused] }) }));
      assert.equal(replay.status, 200);
      assert.deepEqual(await replay.json(), { replayed: 1 });
      await waitFor('the replayed notification sent', () => run.gw.messages().length === 2, 20_000);
      assert.equal(run.gw.messages()[1].requestId, refused);
      assert.equal(run.gw.messages()[1].mobile, '13831100777');
      assert.deepEqual(await deadLetters(), []);
      // A second replay finds nothing to send: nothing goes twice.
      const again = await fetch(`${url}/api/v1/notifications/dead-letters/replay`, as('demo-operator-token', { method: 'POST', body: '{}' }));
      assert.deepEqual(await again.json(), { replayed: 0 });
      await settled(url);
      assert.equal(run.gw.messages().length, 2);
      assert.equal(run.gw.duplicates, 0);
      const audit = await (await fetch(`${url}/api/v1/audit`, as('demo-auditor-token'))).json() as { items: { entry: { action: string; actor: string; detail: { replayed: number } } }[] };
      assert.deepEqual(audit.items.filter((a) => a.entry.action === 'notification.replayed').map((a) => a.entry.detail.replayed).sort(), [0, 1], 'each replay audited with what it replayed');
    });
  });

  describe(`SMS notifier: every notification due reaches its applicant exactly once, through a gateway outage, a 429 and a restart (${kind} store)`, function () {
    this.timeout(120_000);
    const run = smsTest(kind);

    it('queues while the gateway is down, keeps the queue across a restart, honours Retry-After and the 20/s limit, and never sends an evaluation without its link', async () => {
      const store = await run.store();
      const dataDir = testDataDir(`sms-${kind as StoreKind}`);
      const cases = plans();

      // Down: the first message is taken but its answer never comes (the hub times out and sends it
      // again; the gateway drops the resend by its requestId), then 503 until told otherwise.
      run.gw.fail([{ answer: 'hang', accept: true, requests: 1 }, { answer: 503, ms: 600_000 }]);
      run.hub = await smsHub(dataDir, store, run.gw.url);
      const codes = await apply(run.hub, cases.flatMap((c) => c.before));
      await settled(run.hub.url!);
      await waitFor('the run.hub to try the gateway and meet 503s', () => run.gw.requests().filter((r) => r.answer === 503).length >= 3, 20_000);
      const queued = await smsDepth(run.hub.url!);
      assert.equal(queued, 22, 'every notification of the first events waits: 21 acceptances and refusals to mobiles, none to the landline, 1 for the other item');
      // Each attempt is counted once its retry is recorded, a moment after the gateway answered it.
      await waitFor('the failed attempts counted', async () => (await outbound(run.hub!.url!, 'error')) >= 3, 10_000);
      // What waits holds the mobiles sealed.
      const payloads = (await run.hub.context.store.driver.query<{ payload: string }>("SELECT payload FROM jobs WHERE queue = 'sms' AND state <> 'done'")).rows;
      assert.ok(payloads.length > 0 && payloads.every((p) => p.payload.startsWith('pd1.') && !/1383110\d{4}/.test(p.payload)), 'sealed at rest');

      // The hub restarts while everything waits.
      await run.hub.stop();
      run.hub = null;
      const seenBefore = run.gw.requests().length;
      run.hub = await smsHub(dataDir, store, run.gw.url);
      for (const [local, code] of await apply(run.hub, cases.flatMap((c) => c.after))) codes.set(local, code);
      // The same notification again from other events: a second supplement request, an acceptance reported twice.
      const again = [
        vehicleEvent('VEH-SMS-000-SUPPLEMENT_REQUESTED-2', 'VEH-SMS-000', 'SUPPLEMENT_REQUESTED', at('09:35')),
        vehicleEvent('VEH-SMS-003-ACCEPTED-again', 'VEH-SMS-003', 'ACCEPTED', at('09:11')),
      ];
      for (const e of again) e.data.applicant = { ...e.data.applicant, mobile: cases.find((c) => c.local === e.data.localCaseId)!.mobile };
      await apply(run.hub, again);
      await settled(run.hub.url!);
      await waitFor('the restarted run.hub to meet 503s too', () => run.gw.requests().slice(seenBefore).filter((r) => r.answer === 503).length >= 2, 20_000);

      // Over its limit: 429 with Retry-After for 3 s, then it takes messages again.
      const throttledFrom = Date.now();
      run.gw.fail([{ answer: 429, retryAfterSeconds: 1, ms: 3000 }]);
      const recovered = throttledFrom + 3000;
      const statusDue = cases.flatMap((c) => c.due.filter((s) => !EVALUATE.has(s)).map((s) => `${c.mobile}|${codes.get(c.local)}|${s}`));
      await waitFor('every CASE_STATUS notification delivered', () => run.gw.messages().filter((m) => m.template === 'CASE_STATUS').length >= statusDue.length, 30_000);
      const throttled = run.gw.requests().filter((r) => r.answer === 429);
      assert.ok(throttled.length >= 2, `${throttled.length} requests answered 429`);
      // Retry-After honoured: after each 429 nothing more came for its second (bar a request already
      // on its way before the hub read the answer).
      for (const t of throttled) {
        const within = run.gw.requests().filter((r) => r.at > t.at + 250 && r.at < t.at + 900);
        assert.deepEqual(within, [], `requests within the Retry-After second of the 429 at +${t.at - throttledFrom} ms`);
      }
      // The evaluations service is not there yet: no evaluation is sent without its link, and none is lost.
      assert.deepEqual(run.gw.messages().filter((m) => m.template === 'CASE_EVALUATE'), []);
      const evaluateDue = cases.flatMap((c) => c.due.filter((s) => EVALUATE.has(s)).map((s) => `${c.mobile}|${codes.get(c.local)}|${s}`));
      await waitFor('only the evaluations left in the queue', async () => (await smsDepth(run.hub!.url!)) === evaluateDue.length, 10_000);

      const asked: string[] = [];
      run.hub.broker.createService(evaluationsStandIn(asked));
      await waitFor('the queue empty', async () => (await smsDepth(run.hub!.url!)) === 0, 30_000);

      // Each applicant got each notification due exactly once: none lost, none twice, nothing else.
      const got = run.gw.messages().map((m) => `${m.mobile}|${m.params.code}|${Object.keys(LABEL).find((s) => LABEL[s] === m.params.status)}`);
      assert.deepEqual([...got].sort(), [...statusDue, ...evaluateDue].sort());
      assert.equal(got.length, 37);
      assert.ok(run.gw.duplicates >= 1, 'the message taken without an answer was sent again, and dropped by its requestId');
      assert.equal(run.gw.messagesTo('13931100001').length, 1, 'the typed mobile, normalised');
      for (const m of run.gw.messages()) {
        const status = Object.keys(LABEL).find((s) => LABEL[s] === m.params.status) as CanonicalStatus;
        assert.equal(m.template, EVALUATE.has(status) ? 'CASE_EVALUATE' : 'CASE_STATUS');
        assert.equal(m.params.item, m.params.code === codes.get('SW-SMS-1') ? '发票领用核定' : '机动车注册登记');
        if (m.template === 'CASE_EVALUATE') assert.equal(m.params.link, `https://pj.example.gov.cn/e/t${m.params.code}`);
        assert.equal(m.requestId, `${m.params.code}-${status}`);
      }
      // The 20/s limit: the messages after the gateway recovered went no faster.
      const drained = run.gw.requests().filter((r) => r.at >= recovered).map((r) => r.at);
      for (const t of drained) assert.ok(drained.filter((x) => x >= t && x < t + 1000).length <= 22, `more than 20 requests within a second from +${t - recovered} ms`);
      assert.equal(await outbound(run.hub.url!, 'sent'), 37, 'hub_outbound_total{target="sms",result="sent"} on the restarted hub: it sent them all');
      assert.ok((await outbound(run.hub.url!, 'throttled')) >= 2);
      const done = (await run.hub.context.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = 'sms' AND state = 'done' AND payload IS NULL")).rows[0];
      assert.equal(Number(done.n), 37, 'every job done, its mobile gone');
    });
  });
}
