import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { CanonicalStatus, CaseEvent, OutboundEvent } from '../contracts/types';
import { validateOutboundEvent } from '../contracts/validate';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { webhookSignatureHeaders } from '../core/kernel/webhook-signature';
import { startHub, RunningHub } from '../cli/start-hub';
import { startSubscriber, SubscriberSimulator, ReceivedDelivery } from '../infra/simulators/subscriber';
import { STORES, StoreKind, testDataDir, storeFor, waitFor, settled } from './support/hub';
import { createTestDatabase, requireNats, deleteStreams, deleteQueueKeys } from './support/servers';
import { demoAdapterEntries, samplePersonalData, sendEverySample } from './support/samples';
import { taxEvent, vehicleEvent } from './support/events';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';

// Issue 20's acceptance: systems that sync automatically receive every case change as a signed
// CloudEvents webhook, filtered as subscribed, in order per case, through a subscriber's outage,
// its 429s, its slowness and a restart of the hub, never twice once it answered 2xx; a delivery
// that keeps failing goes to the outbound dead letters and a replay delivers it; a subscription
// without personal data receives none.

const TAX_BUREAU = '11130100MB0194826G';
const APPLIED = 'cn.gov.hub.case.event.applied';
const LIGHT = 'cn.gov.hub.case.light.changed';
const VIOLATION = 'cn.gov.hub.case.violation.raised';
const OPERATOR = { Authorization: 'Bearer subs-operator', 'Content-Type': 'application/json' };
const OPERATOR_PD = { Authorization: 'Bearer subs-operator-pd', 'Content-Type': 'application/json' };
const SUPERVISOR = { Authorization: 'Bearer subs-supervisor', 'Content-Type': 'application/json' };
const secretOf = (id: string) => `${id}-secret-0123456789`;

interface Setup {
  dataDir: string;
  store: string;
  configFile: string;
  /** HUB_QUEUE and a namespace of its own when the jobs are BullMQ's. */
  env: Record<string, string>;
  drop: (() => Promise<void>) | null;
}

/** Where the jobs are: rows of the store, or BullMQ on the machine's Redis (HUB_QUEUE). */
type Queue = 'store' | 'bullmq';
const REDIS_URL = 'redis://127.0.0.1:6379';

/** A data folder, a store (a database of its own on PostgreSQL) and a configuration file naming these subscriptions. */
async function setUp(kind: StoreKind, queue: Queue, label: string, subscriptions: Record<string, unknown>[], outbound: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Setup> {
  const dataDir = testDataDir(`subs-${label}-${kind}-${queue}`, storeFor(kind));
  const namespace = `subs-${label}-${process.pid}-${Date.now()}`;
  const db = kind === 'postgres' ? await createTestDatabase() : null;
  const configFile = path.join(dataDir, 'hub.yaml');
  fs.writeFileSync(configFile, YAML.stringify({
    region: '130100',
    tokens: [
      { name: 'operator', token: 'subs-operator', roles: ['operator'] },
      { name: 'operator-pd', token: 'subs-operator-pd', roles: ['operator'], personalData: true },
      { name: 'supervisor', token: 'subs-supervisor', roles: ['supervisor'] },
    ],
    subscriptions,
    outbound,
    shutdownGraceSeconds: 5,
    ...extra,
  }));
  const env: Record<string, string> = queue === 'bullmq' ? { HUB_QUEUE: REDIS_URL, HUB_NAMESPACE: namespace } : {};
  const drop = async () => {
    await db?.drop();
    if (queue === 'bullmq') await deleteQueueKeys(namespace);
  };
  return { dataDir, store: db ? db.url : 'embedded', configFile, env, drop };
}

async function start(s: Setup, env: Record<string, string> = {}): Promise<RunningHub> {
  const config = loadConfig({ HUB_CONFIG: s.configFile, HUB_HTTP_PORT: '0', HUB_DATA_DIR: s.dataDir, HUB_STORE: s.store, HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', HUB_POLLING_OFF: 'all', ...s.env, ...env });
  return startHub(config, createLogger(config.logLevel));
}

const subscription = (id: string, url: string, more: Record<string, unknown> = {}) => ({ id, url, secret: secretOf(id), keyId: `${id}-key`, ...more });
const subscriber = (id: string) => startSubscriber({ keys: { [`${id}-key`]: secretOf(id) } });

async function metric(url: string, pattern: RegExp): Promise<number> {
  const m = pattern.exec(await (await fetch(`${url}/metrics`)).text());
  return m ? Number(m[1]) : NaN;
}
const outboundTotal = (url: string, target: string, result: string) => metric(url, new RegExp(`^hub_outbound_total\\{target="${target}",result="${result}"\\} (\\d+)`, 'm'));

async function api(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** Applies events through the case store, as a transport's intake does; answers each event's supervision code by local case id. */
async function apply(hub: RunningHub, events: CaseEvent[], codes = new Map<string, string>()): Promise<Map<string, string>> {
  const results = await hub.context.store.cases.apply(events, { receivedAt: new Date() });
  results.forEach((r, i) => {
    assert.equal(r.result, 'accepted', JSON.stringify(r));
    if (r.result === 'accepted') codes.set(events[i].data.localCaseId, r.supervisionCode);
  });
  return codes;
}

/** What every change the store holds should give a subscriber: the applied events, and the light changes and violations, by id. */
async function changesInStore(hub: RunningHub): Promise<Map<string, { type: string; department: string; item: string; status: string; code: string }>> {
  const out = new Map<string, { type: string; department: string; item: string; status: string; code: string }>();
  const events = (await hub.context.store.driver.query<{ id: string; supervision_code: string; status: string; department_code: string; item_code: string }>(
    `SELECT e.id, e.supervision_code, e.status, c.department_code, c.item_code
     FROM events e JOIN cases c ON c.supervision_code = e.supervision_code`)).rows;
  for (const e of events) out.set(e.id, { type: APPLIED, department: e.department_code, item: e.item_code, status: e.status, code: e.supervision_code });
  const alerts = (await hub.context.store.driver.query<{ id: string; kind: string; supervision_code: string; department_code: string; item_code: string; status: string }>(
    `SELECT a.id::text AS id, a.kind, a.supervision_code, c.department_code, c.item_code, c.status
     FROM alerts a JOIN cases c ON c.supervision_code = a.supervision_code WHERE a.kind IN ('LIGHT_CHANGED', 'VIOLATION')`)).rows;
  for (const a of alerts) out.set(a.id, { type: a.kind === 'LIGHT_CHANGED' ? LIGHT : VIOLATION, department: a.department_code, item: a.item_code, status: a.status, code: a.supervision_code });
  return out;
}

const ids = (received: readonly ReceivedDelivery[]) => received.map((r) => r.id).sort();

// Each behaviour on both stores, and on PostgreSQL with the jobs on BullMQ (cluster mode's queue).
const RUNS: { kind: StoreKind; queue: Queue }[] = [...STORES.map((kind) => ({ kind, queue: 'store' as Queue })), { kind: 'postgres', queue: 'bullmq' }];

for (const { kind, queue } of RUNS) {
  describe(`outbound subscriptions (${kind} store${queue === 'bullmq' ? ', jobs on BullMQ' : ''})`, function () {
    this.timeout(180_000);

    describe('the demo departments\' samples, through their own transports', () => {
      let s: Setup;
      let hub: RunningHub;
      const sims = new Map<string, SubscriberSimulator>();
      let expected: Awaited<ReturnType<typeof changesInStore>>;

      before(async () => {
        for (const id of ['everything', 'masked', 'tax-alerts', 'completed']) sims.set(id, await subscriber(id));
        s = await setUp(kind, queue, 'samples', [
          subscription('everything', sims.get('everything')!.url, { personalData: true }),
          subscription('masked', sims.get('masked')!.url),
          subscription('tax-alerts', sims.get('tax-alerts')!.url, { filter: { departments: [TAX_BUREAU], types: [LIGHT, VIOLATION] } }),
          subscription('completed', sims.get('completed')!.url, { filter: { statuses: ['COMPLETED'], types: [APPLIED] } }),
        ], { pollIntervalMs: 100 }, { adapters: demoAdapterEntries() });
        hub = await start(s);
        await sendEverySample(hub.url!, s.dataDir);
        await settled(hub.url!);
        expected = await changesInStore(hub);
        await waitFor('every change delivered to the subscription without a filter', () => sims.get('everything')!.received().length >= expected.size, 30_000);
      });
      after(async () => {
        await hub?.stop();
        for (const sim of sims.values()) await sim.close();
        await s?.drop?.();
      });

      it('delivers every applied event, light change and violation as a signed CloudEvent, each once, in its published form', async () => {
        const got = sims.get('everything')!.received();
        assert.ok(expected.size >= 10, `the samples gave ${expected.size} changes`);
        assert.ok([...expected.values()].some((c) => c.type === VIOLATION) && [...expected.values()].some((c) => c.type === LIGHT), 'the samples raise violations and light changes');
        assert.deepEqual(ids(got), [...expected.keys()].sort());
        for (const d of got) {
          const want = expected.get(d.id)!;
          assert.equal(d.type, want.type, d.id);
          assert.equal(d.subject, want.code);
          assert.equal(d.keyId, 'everything-key');
          assert.equal(validateOutboundEvent(d.body), null, `${d.id}: ${validateOutboundEvent(d.body)}`);
          // An applied event carries its own status; a light change or violation the case's when it was raised.
          if (want.type === APPLIED) assert.equal((d.body as OutboundEvent).data.status, want.status, `${d.id}: the canonical status`);
          assert.equal((d.body as OutboundEvent).data.department.code, want.department, `${d.id}: the department`);
          assert.equal((d.body as OutboundEvent).data.item.code, want.item, `${d.id}: the item`);
        }
        assert.equal(sims.get('everything')!.rejected().length, 0, 'every signature verified');
        assert.equal(sims.get('everything')!.duplicates(), 0);
        assert.equal(await outboundTotal(hub.url!, 'everything', 'sent'), expected.size);
      });

      it('delivers to a filtered subscription exactly the changes its filter takes', async () => {
        const pick = (f: (c: { type: string; department: string; status: string }) => boolean) => [...expected].filter(([, c]) => f(c)).map(([id]) => id).sort();
        const taxAlerts = pick((c) => c.department === TAX_BUREAU && c.type !== APPLIED);
        const completed = pick((c) => c.status === 'COMPLETED' && c.type === APPLIED);
        assert.ok(taxAlerts.length >= 1 && completed.length >= 1, `the samples give both filters something (${taxAlerts.length}, ${completed.length})`);
        assert.ok(taxAlerts.length < expected.size && completed.length < expected.size, 'and leave out some');
        await waitFor('the filtered deliveries', () => sims.get('tax-alerts')!.received().length >= taxAlerts.length && sims.get('completed')!.received().length >= completed.length, 10_000);
        assert.deepEqual(ids(sims.get('tax-alerts')!.received()), taxAlerts);
        assert.deepEqual(ids(sims.get('completed')!.received()), completed);
      });

      it('gives a subscription without personal data no ID number, mobile or name of the samples', async () => {
        const sim = sims.get('masked')!;
        await waitFor('the masked deliveries', () => sim.received().length >= expected.size, 10_000);
        assert.deepEqual(ids(sim.received()), [...expected.keys()].sort(), 'the same changes as the subscription with personal data');
        const personal = samplePersonalData();
        assert.ok(personal.length >= 15);
        const masked = JSON.stringify(sim.received().map((d) => d.body));
        assert.deepEqual(personal.filter((v) => masked.includes(v)), [], 'none in the masked deliveries');
        const clear = JSON.stringify(sims.get('everything')!.received().map((d) => d.body));
        assert.ok(personal.filter((v) => clear.includes(v)).length >= 10, 'the subscription with personal data has them: the samples do carry them');
      });

      it('lets the subscriber\'s documented verifier tell a tampered delivery from a true one', async () => {
        const sim = sims.get('everything')!;
        const body = JSON.stringify(sim.received()[0].body);
        const post = (b: string, headers: Record<string, string>) => fetch(sim.url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', ...headers }, body: b });
        const signed = webhookSignatureHeaders(body, 'everything-key', secretOf('everything'));
        const tampered = body.replace(/"status":"[A-Z_]+"/, '"status":"COMPLETED"');
        assert.notEqual(tampered, body);
        const before = sim.rejected().length;
        assert.equal((await post(tampered, signed)).status, 401, 'a body changed after signing');
        assert.equal((await post(body, { ...signed, 'X-Hub-Signature': signed['X-Hub-Signature'].replace(/.$/, (c) => (c === '0' ? '1' : '0')) })).status, 401, 'a signature changed');
        assert.equal((await post(body, webhookSignatureHeaders(body, 'everything-key', 'another-secret-0123456789'))).status, 401, 'signed with another secret');
        assert.deepEqual(sim.rejected().slice(before).map((r) => r.type), ['bad-signature', 'bad-signature', 'bad-signature']);
        assert.equal((await post(body, signed)).status, 200, 'the true delivery passes (as a duplicate of what it took)');
      });
    });

    describe('a stream of 2,000 events over 200 cases through a failing subscriber and a restart', () => {
      let s: Setup;
      let sim: SubscriberSimulator;
      let hub: RunningHub | null = null;
      after(async () => {
        await hub?.stop();
        await sim?.close();
        await s?.drop?.();
      });

      it('delivers every event once, each case\'s in order, through 503s, 429s with Retry-After, slow answers and a restart', async () => {
        sim = await subscriber('stream');
        s = await setUp(kind, queue, 'stream', [subscription('stream', sim.url, { filter: { types: [APPLIED] } })],
          { pollIntervalMs: 100, concurrency: 16, timeoutMs: 5000, retry: { firstDelayMs: 100, maxDelayMs: 1000, giveUpHours: 1 } });
        const STEPS: CanonicalStatus[] = ['SUBMITTED', 'ACCEPTED', 'UNDER_REVIEW', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'SUSPENDED', 'RESUMED', 'APPROVED', 'COMPLETED', 'DELIVERED'];
        // Step by step over every case, so that the cases' events interleave as they would in life.
        const step = (i: number) => Array.from({ length: 200 }, (_, c) => {
          const local = `SUB-${String(c).padStart(3, '0')}`;
          const time = `2026-11-${String(10 + i).padStart(2, '0')}T10:${String(c % 60).padStart(2, '0')}:00+08:00`;
          return c % 2 ? vehicleEvent(`${local}-${i}`, local, STEPS[i], time) : taxEvent(`${local}-${i}`, local, STEPS[i], time);
        });
        const byCase = new Map<string, string[]>();
        const record = (events: CaseEvent[]) => events.forEach((e) => byCase.set(e.data.localCaseId, [...(byCase.get(e.data.localCaseId) ?? []), e.id]));
        const codes = new Map<string, string>();

        sim.setMode({ mode: 'error', status: 503 });
        hub = await start(s);
        for (let i = 0; i < 5; i++) {
          const events = step(i);
          record(events);
          await apply(hub, events, codes);
        }
        await waitFor('200 deliveries answered 503', () => sim.requests().filter((r) => r.status === 503).length >= 200, 60_000);
        sim.setMode({ mode: '429', retryAfterSeconds: 1, for: 40 });
        await waitFor('the 429s used up and 300 events taken', () => sim.received().length >= 300, 60_000);
        assert.ok(sim.requests().some((r) => r.status === 429));
        const url1 = hub.url!;
        assert.ok(await outboundTotal(url1, 'stream', 'error') >= 200, 'each 503 counted as an error');
        assert.ok(await outboundTotal(url1, 'stream', 'throttled') >= 1, 'each 429 counted as throttled');
        // The hub stops while deliveries are in flight to a slow subscriber: their answers are still read.
        sim.setMode({ mode: 'slow', delayMs: 300 });
        await waitFor('slow deliveries in flight', () => sim.requests().filter((r) => r.mode === 'slow').length >= 5, 30_000);
        await hub.stop();
        hub = null;
        const beforeRestart = sim.received().length;
        assert.ok(beforeRestart < 2000, `the restart comes in the middle of the stream (${beforeRestart} taken)`);

        sim.setMode({ mode: 'slow', delayMs: 100, for: 200 });
        hub = await start(s);
        for (let i = 5; i < 10; i++) {
          const events = step(i);
          record(events);
          await apply(hub, events, codes);
        }
        await waitFor('every event taken', () => sim.received().length >= 2000, 120_000);
        // Anything sent twice would come now.
        await new Promise((r) => setTimeout(r, 1000));
        const got = sim.received();
        assert.equal(got.length, 2000);
        assert.deepEqual(ids(got), [...byCase.values()].flat().sort(), 'exactly the events applied');
        assert.equal(sim.duplicates(), 0, 'no event sent again after the subscriber answered 2xx');
        assert.equal(sim.requests().filter((r) => r.answerLost).length, 0, 'no answer left unread');
        const order = sim.bySubject();
        for (const [local, eventIds] of byCase) assert.deepEqual(order[codes.get(local)!], eventIds, `case ${local} in the order applied`);
        const status = await api('GET', `${hub.url}/api/v1/subscriptions/stream/status`, OPERATOR);
        assert.equal(status.status, 200);
        assert.equal(status.body.backlog, 0);
        assert.equal(status.body.dead, 0);
        assert.ok(status.body.lastSuccessAt, 'a last success');
        assert.match(status.body.lastError.reason, /503|429/, 'the last error an operator sees');
        await waitFor('the gauges at rest', async () => (await metric(hub!.url!, /^hub_queue_depth\{queue="outbound"\} (\d+)/m)) === 0
          && (await metric(hub!.url!, /^hub_outbound_lag_seconds\{target="stream"\} ([\d.]+)/m)) === 0, 5_000);
      });
    });

    describe('the outbound lag, when events waited before the subscriptions took them', () => {
      it('counts hub_outbound_lag_seconds and the status\'s lag from when each event was applied, not from when its delivery was queued', async () => {
        const sim = await subscriber('lag');
        const s = await setUp(kind, queue, 'lag', [subscription('lag', sim.url, { filter: { types: [APPLIED] } })],
          { pollIntervalMs: 100, retry: { firstDelayMs: 1000, maxDelayMs: 1000, giveUpHours: 1 } });
        let hub: RunningHub | null = null;
        try {
          sim.setMode({ mode: 'error', status: 503 });
          // Applied on a node that publishes nothing (HUB_OUTBOX_DISPATCH=off): the events wait in the outbox.
          hub = await start(s, { HUB_OUTBOX_DISPATCH: 'off' });
          const applied = Date.now();
          await apply(hub, Array.from({ length: 10 }, (_, c) => taxEvent(`LAG-${c}-0`, `LAG-${c}`, 'SUBMITTED', '2026-12-07T09:00:00+08:00')));
          await new Promise((r) => setTimeout(r, 3000));
          await hub.stop();
          hub = await start(s);
          await waitFor('the waiting events\' deliveries attempted', () => sim.requests().filter((r) => r.status === 503).length >= 10, 30_000);
          const floor = (Date.now() - applied) / 1000 - 1;
          const status = await api('GET', `${hub.url}/api/v1/subscriptions/lag/status`, OPERATOR);
          assert.equal(status.body.backlog, 10);
          assert.ok(status.body.lagSeconds >= floor, `the status's lag ${status.body.lagSeconds} s counts from the events' application, ${floor + 1} s ago`);
          // The gauge is refreshed every second.
          let gauge = 0;
          const url = hub.url!;
          await waitFor('the lag gauge read', async () => (gauge = await metric(url, /^hub_outbound_lag_seconds\{target="lag"\} ([\d.]+)/m)) > 0, 5_000);
          assert.ok(gauge >= floor, `hub_outbound_lag_seconds ${gauge} counts from the events' application, ${floor + 1} s ago`);
        } finally {
          await hub?.stop();
          await sim.close();
          await s.drop?.();
        }
      });
    });

    describe('outbound dead letters and replay', () => {
      let s: Setup;
      let hub: RunningHub;
      let fragile: SubscriberSimulator;
      let refusing: SubscriberSimulator;
      before(async () => {
        fragile = await subscriber('fragile');
        refusing = await subscriber('refusing');
        s = await setUp(kind, queue, 'dead', [
          subscription('fragile', fragile.url, { filter: { types: [APPLIED] } }),
          subscription('refusing', refusing.url, { filter: { types: [APPLIED] } }),
        ], { pollIntervalMs: 100, retry: { firstDelayMs: 100, maxDelayMs: 300, giveUpHours: 2 / 3600 } });
        hub = await start(s);
      });
      after(async () => {
        await hub?.stop();
        await fragile?.close();
        await refusing?.close();
        await s?.drop?.();
      });

      it('gives a delivery that keeps failing up after its time, holds its case\'s later events with it, and delivers them all in order on replay', async () => {
        fragile.setMode({ mode: 'error', status: 503 });
        refusing.setMode({ mode: 'ok' });
        const a = [vehicleEvent('DL-A-1', 'DL-A', 'SUBMITTED', '2026-11-20T09:00:00+08:00'), vehicleEvent('DL-A-2', 'DL-A', 'ACCEPTED', '2026-11-20T09:10:00+08:00')];
        const b = [taxEvent('DL-B-1', 'DL-B', 'SUBMITTED', '2026-11-20T09:05:00+08:00')];
        await apply(hub, a.slice(0, 1));
        await apply(hub, b);
        await apply(hub, a.slice(1));
        const dead = async () => (await api('GET', `${hub.url}/api/v1/subscriptions/fragile/dead-letters`, OPERATOR)).body.items as { key: string; attempts: number; reason: string }[];
        await waitFor('three deliveries dead', async () => (await dead()).length === 3, 20_000);
        const letters = await dead();
        const first = letters.find((d) => d.key === a[0].id)!;
        assert.ok(first.attempts >= 2, `retried before it was given up (${first.attempts} attempts)`);
        assert.match(first.reason, /503/);
        assert.match(letters.find((d) => d.key === a[1].id)!.reason, /held/, 'the case\'s later event waits behind it');
        assert.equal(fragile.received().length, 0);
        // A new event of the held case waits too: delivered now, it would overtake the dead ones.
        const a3 = vehicleEvent('DL-A-3', 'DL-A', 'COMPLETED', '2026-11-20T09:20:00+08:00');
        await apply(hub, [a3]);
        await waitFor('the new event held', async () => (await dead()).length === 4, 10_000);
        const status = await api('GET', `${hub.url}/api/v1/subscriptions/fragile/status`, OPERATOR);
        assert.equal(status.body.dead, 4);
        assert.equal(status.body.backlog, 0);
        assert.match(status.body.lastError.reason, /503/);
        assert.ok(await outboundTotal(hub.url!, 'fragile', 'expired') >= 2, 'given up, counted as expired');

        fragile.setMode({ mode: 'ok' });
        assert.equal((await api('POST', `${hub.url}/api/v1/subscriptions/fragile/dead-letters/replay`, SUPERVISOR, {})).status, 403, 'replay is the operator\'s');
        const replay = await api('POST', `${hub.url}/api/v1/subscriptions/fragile/dead-letters/replay`, OPERATOR, {});
        assert.equal(replay.status, 200);
        assert.equal(replay.body.replayed, 4);
        await waitFor('the replayed deliveries taken', () => fragile.received().length === 4, 20_000);
        const code = fragile.received().find((d) => d.id === a[0].id)!.subject;
        assert.deepEqual(fragile.bySubject()[code], [a[0].id, a[1].id, a3.id], 'the held case in its order');
        assert.deepEqual(await dead(), []);
        assert.equal(fragile.duplicates(), 0);
      });

      it('does not retry a delivery the subscriber refuses with a 4xx: dead at once; a replay of its key delivers it', async () => {
        refusing.setMode({ mode: 'refuse', status: 422, for: 1 });
        const e = taxEvent('DL-C-1', 'DL-C', 'SUBMITTED', '2026-11-20T10:00:00+08:00');
        await apply(hub, [e]);
        const dead = async () => (await api('GET', `${hub.url}/api/v1/subscriptions/refusing/dead-letters`, OPERATOR)).body.items as { key: string; attempts: number; reason: string }[];
        await waitFor('the refused delivery dead', async () => (await dead()).some((d) => d.key === e.id), 10_000);
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(refusing.requests().filter((r) => r.id === e.id).length, 1, 'one attempt, not retried');
        assert.equal((await dead()).find((d) => d.key === e.id)!.attempts, 1);
        assert.equal(await outboundTotal(hub.url!, 'refusing', 'rejected'), 1);
        const replay = await api('POST', `${hub.url}/api/v1/subscriptions/refusing/dead-letters/replay`, OPERATOR, { keys: [e.id] });
        assert.equal(replay.body.replayed, 1);
        await waitFor('the replayed delivery taken', () => refusing.received().some((d) => d.id === e.id), 10_000);
      });
    });

    describe('subscriptions through the API', () => {
      let s: Setup;
      let hub: RunningHub;
      let configured: SubscriberSimulator;
      let created: SubscriberSimulator;
      before(async () => {
        configured = await subscriber('configured');
        created = await subscriber('created');
        s = await setUp(kind, queue, 'api', [subscription('configured', configured.url)], { pollIntervalMs: 100 });
        hub = await start(s);
      });
      after(async () => {
        await hub?.stop();
        await configured?.close();
        await created?.close();
        await s?.drop?.();
      });

      it('creates, lists, keeps across a restart and deletes a subscription; its secret is never answered nor stored in clear', async () => {
        let base = `${hub.url}/api/v1/subscriptions`;
        const input = { id: 'created', url: created.url, secret: secretOf('created'), keyId: 'created-key', filter: { types: [APPLIED] } };
        assert.equal((await api('POST', base, SUPERVISOR, input)).status, 403, 'the operator\'s');
        const bad = await api('POST', base, OPERATOR, { ...input, url: 'ftp://nowhere' });
        assert.equal(bad.status, 400);
        assert.match(JSON.stringify(bad.body), /url/);
        assert.equal((await api('POST', base, OPERATOR, { ...input, secret: 'short' })).status, 400, 'a secret of 16 characters at least');
        assert.equal((await api('POST', base, OPERATOR, { ...input, personalData: true })).status, 403, 'personal data needs the grant');
        assert.equal((await api('POST', base, OPERATOR, { ...input, id: 'configured' })).status, 409, 'the id of a subscription of the configuration');
        const pd = await api('POST', base, OPERATOR_PD, { ...input, id: 'pd-sub', personalData: true });
        assert.equal(pd.status, 201, 'an operator with the grant may');
        assert.equal(pd.body.personalData, true);
        assert.equal((await api('DELETE', `${base}/pd-sub`, OPERATOR_PD)).status, 204);
        const made = await api('POST', base, OPERATOR, input);
        assert.equal(made.status, 201, JSON.stringify(made.body));
        assert.deepEqual(made.body, { id: 'created', url: created.url, keyId: 'created-key', filter: { types: [APPLIED] }, personalData: false, ratePerSecond: 0, origin: 'api', createdAt: made.body.createdAt });
        assert.equal((await api('POST', base, OPERATOR, input)).status, 409, 'created twice');
        const listed = await api('GET', base, OPERATOR);
        assert.deepEqual(listed.body.items.map((x: any) => [x.id, x.origin]), [['configured', 'config'], ['created', 'api']]);
        assert.ok(!JSON.stringify(listed.body).includes(secretOf('created')) && !JSON.stringify(listed.body).includes(secretOf('configured')), 'no secret answered');
        const raw = JSON.stringify((await hub.context.store.driver.query('SELECT * FROM subscriptions')).rows);
        assert.ok(raw.includes('created-key') && !raw.includes(secretOf('created')), 'the secret sealed at rest');

        await hub.stop();
        hub = await start(s);
        base = `${hub.url}/api/v1/subscriptions`;
        await apply(hub, [vehicleEvent('API-1', 'API-1', 'SUBMITTED', '2026-11-21T09:00:00+08:00')]);
        const [d] = await created.waitForReceived(1, 10_000);
        assert.equal(d.keyId, 'created-key', 'signed with the created subscription\'s secret, after a restart');
        await configured.waitForReceived(1, 10_000);

        assert.equal((await api('DELETE', `${base}/configured`, OPERATOR)).status, 409, 'one of the configuration is removed there');
        assert.equal((await api('DELETE', `${base}/created`, OPERATOR)).status, 204);
        assert.equal((await api('GET', `${base}/created/status`, OPERATOR)).status, 404);
        assert.equal((await api('DELETE', `${base}/created`, OPERATOR)).status, 404);
        await apply(hub, [vehicleEvent('API-2', 'API-2', 'SUBMITTED', '2026-11-21T09:05:00+08:00')]);
        await configured.waitForReceived(2, 10_000);
        await settled(hub.url!);
        assert.equal(created.received().length, 1, 'a deleted subscription receives nothing more');
        const audit = (await hub.context.store.driver.query<{ body: string }>('SELECT body FROM audit_log ORDER BY seq')).rows
          .map((r) => JSON.parse(r.body) as { action: string; target: string }).filter((e) => e.action.startsWith('subscription.'));
        assert.deepEqual(audit.map((e) => [e.action, e.target]), [['subscription.created', 'pd-sub'], ['subscription.deleted', 'pd-sub'], ['subscription.created', 'created'], ['subscription.deleted', 'created']]);
      });
    });
  });
}

describe('outbound subscriptions in a cluster: a change made on one node reaches the others', function () {
  this.timeout(120_000);
  const nodes: RunningHub[] = [];
  let drop: (() => Promise<void>) | null = null;
  let namespace = '';
  let sim: SubscriberSimulator | null = null;
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
    await sim?.close();
    await drop?.();
    if (namespace) await deleteStreams(namespace);
  });

  it('a subscription created through one node is in force on another at once, and gone from it once deleted', async () => {
    await requireNats();
    sim = await subscriber('shared');
    const s = await setUp('postgres', 'store', 'cluster', [], { pollIntervalMs: 100, reloadSeconds: 3600 });
    drop = s.drop;
    namespace = `test-subs-${process.pid}-${Date.now()}`;
    const keyFile = path.join(s.dataDir, 'data-keys.json');
    writeKeyFile(keyFile, withNewKey(null));
    const env = (services: string) => ({ HUB_DATA_KEY_FILE: keyFile, HUB_TRANSPORTER: 'nats://127.0.0.1:4222', HUB_NAMESPACE: namespace, HUB_SERVICES: services });
    const front = await start(s, env('all'));
    nodes.push(front);
    // The outbound deliveries' role, by its name in DESIGN.md.
    const back = await start(s, env('dispatch'));
    nodes.push(back);
    // Each node knows the other (a broadcast reaches the nodes known when it is sent; one that joins
    // later reads the subscriptions as it starts).
    await waitFor('the nodes to know each other', () => front.broker.registry.nodes.get(back.broker.nodeID)?.available && back.broker.registry.nodes.get(front.broker.nodeID)?.available, 20_000);
    const on = async (node: RunningHub) => ((await node.broker.call('subscriptions.list', {}, { nodeID: node.broker.nodeID })) as { items: { id: string }[] }).items.map((x) => x.id);
    const onBack = async () => (await on(front)).includes('shared') && (await on(back)).includes('shared');
    const offBoth = async () => !(await on(front)).includes('shared') && !(await on(back)).includes('shared');
    assert.ok(await offBoth());
    const made = await api('POST', `${front.url}/api/v1/subscriptions`, OPERATOR, { id: 'shared', url: sim.url, secret: secretOf('shared'), keyId: 'shared-key' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    // Each node reads the subscriptions again every hour only: the change comes by the broadcast to
    // whichever node did not take the call.
    await waitFor('the subscription in force on both nodes', onBack, 5_000);
    await apply(front, [taxEvent('CL-1', 'CL-1', 'SUBMITTED', '2026-11-22T09:00:00+08:00')]);
    await sim.waitForReceived(1, 20_000);
    assert.equal((await api('DELETE', `${front.url}/api/v1/subscriptions/shared`, OPERATOR)).status, 204);
    await waitFor('the subscription gone from both nodes', offBoth, 5_000);
  });
});

