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

for (const kind of STORES) {
  describe(`SMS notifier: every notification due reaches its applicant exactly once, through a gateway outage, a 429 and a restart (${kind} store)`, function () {
    this.timeout(120_000);
    let gw: SmsGatewaySimulator;
    let hub: RunningHub | null = null;
    let dropDb: (() => Promise<void>) | null = null;
    before(async () => { gw = await startSmsGateway(); });
    after(async () => {
      await hub?.stop();
      await gw?.close();
      await dropDb?.();
    });

    it('queues while the gateway is down, keeps the queue across a restart, honours Retry-After and the 20/s limit, and never sends an evaluation without its link', async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? () => db.drop() : null;
      const store = db ? db.url : 'embedded';
      const dataDir = testDataDir(`sms-${kind as StoreKind}`);
      const cases = plans();

      // Down: the first message is taken but its answer never comes (the hub times out and sends it
      // again; the gateway drops the resend by its requestId), then 503 until told otherwise.
      gw.fail([{ answer: 'hang', accept: true, requests: 1 }, { answer: 503, ms: 600_000 }]);
      hub = await smsHub(dataDir, store, gw.url);
      const codes = await apply(hub, cases.flatMap((c) => c.before));
      await settled(hub.url!);
      await waitFor('the hub to try the gateway and meet 503s', () => gw.requests().filter((r) => r.answer === 503).length >= 3, 20_000);
      const queued = await smsDepth(hub.url!);
      assert.equal(queued, 22, 'every notification of the first events waits: 21 acceptances and refusals to mobiles, none to the landline, 1 for the other item');
      // Each attempt is counted once its retry is recorded, a moment after the gateway answered it.
      await waitFor('the failed attempts counted', async () => (await outbound(hub!.url!, 'error')) >= 3, 10_000);
      // What waits holds the mobiles sealed.
      const payloads = (await hub.context.store.driver.query<{ payload: string }>("SELECT payload FROM jobs WHERE queue = 'sms' AND state <> 'done'")).rows;
      assert.ok(payloads.length > 0 && payloads.every((p) => p.payload.startsWith('pd1.') && !/1383110\d{4}/.test(p.payload)), 'sealed at rest');

      // The hub restarts while everything waits.
      await hub.stop();
      hub = null;
      const seenBefore = gw.requests().length;
      hub = await smsHub(dataDir, store, gw.url);
      for (const [local, code] of await apply(hub, cases.flatMap((c) => c.after))) codes.set(local, code);
      // The same notification again from other events: a second supplement request, an acceptance reported twice.
      const again = [
        vehicleEvent('VEH-SMS-000-SUPPLEMENT_REQUESTED-2', 'VEH-SMS-000', 'SUPPLEMENT_REQUESTED', at('09:35')),
        vehicleEvent('VEH-SMS-003-ACCEPTED-again', 'VEH-SMS-003', 'ACCEPTED', at('09:11')),
      ];
      for (const e of again) e.data.applicant = { ...e.data.applicant, mobile: cases.find((c) => c.local === e.data.localCaseId)!.mobile };
      await apply(hub, again);
      await settled(hub.url!);
      await waitFor('the restarted hub to meet 503s too', () => gw.requests().slice(seenBefore).filter((r) => r.answer === 503).length >= 2, 20_000);

      // Over its limit: 429 with Retry-After for 3 s, then it takes messages again.
      const throttledFrom = Date.now();
      gw.fail([{ answer: 429, retryAfterSeconds: 1, ms: 3000 }]);
      const recovered = throttledFrom + 3000;
      const statusDue = cases.flatMap((c) => c.due.filter((s) => !EVALUATE.has(s)).map((s) => `${c.mobile}|${codes.get(c.local)}|${s}`));
      await waitFor('every CASE_STATUS notification delivered', () => gw.messages().filter((m) => m.template === 'CASE_STATUS').length >= statusDue.length, 30_000);
      const throttled = gw.requests().filter((r) => r.answer === 429);
      assert.ok(throttled.length >= 2, `${throttled.length} requests answered 429`);
      // Retry-After honoured: after each 429 nothing more came for its second (bar a request already
      // on its way before the hub read the answer).
      for (const t of throttled) {
        const within = gw.requests().filter((r) => r.at > t.at + 250 && r.at < t.at + 900);
        assert.deepEqual(within, [], `requests within the Retry-After second of the 429 at +${t.at - throttledFrom} ms`);
      }
      // The evaluations service is not there yet: no evaluation is sent without its link, and none is lost.
      assert.deepEqual(gw.messages().filter((m) => m.template === 'CASE_EVALUATE'), []);
      const evaluateDue = cases.flatMap((c) => c.due.filter((s) => EVALUATE.has(s)).map((s) => `${c.mobile}|${codes.get(c.local)}|${s}`));
      await waitFor('only the evaluations left in the queue', async () => (await smsDepth(hub!.url!)) === evaluateDue.length, 10_000);

      const asked: string[] = [];
      hub.broker.createService(evaluationsStandIn(asked));
      await waitFor('the queue empty', async () => (await smsDepth(hub!.url!)) === 0, 30_000);

      // Each applicant got each notification due exactly once: none lost, none twice, nothing else.
      const got = gw.messages().map((m) => `${m.mobile}|${m.params.code}|${Object.keys(LABEL).find((s) => LABEL[s] === m.params.status)}`);
      assert.deepEqual([...got].sort(), [...statusDue, ...evaluateDue].sort());
      assert.equal(got.length, 37);
      assert.ok(gw.duplicates >= 1, 'the message taken without an answer was sent again, and dropped by its requestId');
      assert.equal(gw.messagesTo('13931100001').length, 1, 'the typed mobile, normalised');
      for (const m of gw.messages()) {
        const status = Object.keys(LABEL).find((s) => LABEL[s] === m.params.status) as CanonicalStatus;
        assert.equal(m.template, EVALUATE.has(status) ? 'CASE_EVALUATE' : 'CASE_STATUS');
        assert.equal(m.params.item, m.params.code === codes.get('SW-SMS-1') ? '发票领用核定' : '机动车注册登记');
        if (m.template === 'CASE_EVALUATE') assert.equal(m.params.link, `https://pj.example.gov.cn/e/t${m.params.code}`);
        assert.equal(m.requestId, `${m.params.code}-${status}`);
      }
      // The 20/s limit: the messages after the gateway recovered went no faster.
      const drained = gw.requests().filter((r) => r.at >= recovered).map((r) => r.at);
      for (const t of drained) assert.ok(drained.filter((x) => x >= t && x < t + 1000).length <= 22, `more than 20 requests within a second from +${t - recovered} ms`);
      assert.equal(await outbound(hub.url!, 'sent'), 37, 'hub_outbound_total{target="sms",result="sent"} on the restarted hub: it sent them all');
      assert.ok((await outbound(hub.url!, 'throttled')) >= 2);
      const done = (await hub.context.store.driver.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = 'sms' AND state = 'done' AND payload IS NULL")).rows[0];
      assert.equal(Number(done.n), 37, 'every job done, its mobile gone');
    });
  });
}
