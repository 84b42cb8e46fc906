import assert from 'node:assert/strict';
import type { ServiceSchema } from 'moleculer';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { CHANNELS } from '../core/kernel/constants';
import type { CaseEvent } from '../contracts/types';
import { startClusterBehind, clusterReady, ClusterBehind } from './support/cluster';
import { testDataDir, getJson, waitFor, settled, SUPERVISOR, startTestHub, TestHub } from './support/hub';
import { taxEvent, vehicleEvent, VEHICLE_OFFICE, VEHICLE_HALLS } from './support/events';
import { openSse, SseEvent } from './support/sse';
import { issueSupervisionCode } from '../core/identifiers/supervision-code';

const VEHICLE_SUPERVISOR = { Authorization: 'Bearer demo-vehicle-supervisor-token' };
const TAX = '11130100MB0194826G';

/**
 * A demo hub in this process whose clock the test moves, sweeping every 100 ms. In a cluster, this
 * process's node is the supervisor's (the clock is the supervisor's), and its url the gateway's,
 * which runs in a process of its own.
 */
async function clockedHub(dataDir: string, clock: () => Date, behind: ClusterBehind | null): Promise<RunningHub> {
  const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', HUB_POLLING_OFF: 'all', ...behind?.env });
  config.supervision.sweepSeconds = 0.1;
  const hub = await startHub(config, createLogger(config.logLevel), { clock });
  if (!behind) return hub;
  await clusterReady(behind.gatewayUrl!, behind).catch(async (err) => { await hub.stop(); throw err; });
  return { ...hub, url: behind.gatewayUrl };
}

/** A consumer of a bus channel in its own group: every message it is given. */
function watcher(name: string, channel: string): { got: any[]; service: ServiceSchema } {
  const got: any[] = [];
  return { got, service: { name, channels: { [channel]: { group: name, handler(m: unknown) { got.push(m); } } } } as ServiceSchema };
}

async function apply(hub: RunningHub, events: CaseEvent[]): Promise<void> {
  const results = await hub.context.store.cases.apply(events, { receivedAt: new Date() });
  assert.ok(results.every((r) => r.result === 'accepted'), JSON.stringify(results));
}

async function caseView(url: string, system: string, localId: string, headers = SUPERVISOR): Promise<any> {
  const found = await getJson(`${url}/api/v1/cases/lookup?system=${system}&localId=${localId}`, SUPERVISOR);
  assert.equal(found.status, 200, JSON.stringify(found.body));
  return (await getJson(`${url}/api/v1/cases/${found.body.supervisionCode}`, headers)).body;
}

async function alertsOf(url: string, code: string, headers = SUPERVISOR): Promise<any[]> {
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const r = await getJson(`${url}/api/v1/alerts?limit=50${cursor ? `&cursor=${cursor}` : ''}`, headers);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    all.push(...r.body.items);
    cursor = r.body.nextCursor;
  } while (cursor);
  return all.filter((a) => a.supervisionCode === code);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const target of ['embedded', 'cluster'] as const) {
describe(`the supervisor (${target})`, function () {
  this.timeout(120_000);
  /** In a cluster: the gateway's and the cases' nodes, as processes of their own. */
  let behind: ClusterBehind | null = null;

  describe('the sweep, with a clock the test moves', () => {
    let hub: RunningHub | null = null;
    before(async () => { if (target === 'cluster') behind = await startClusterBehind('supervisor', { HUB_POLLING_OFF: 'all' }); });
    after(async () => { await hub?.stop(); await behind?.stop(); });

    it('turns a case YELLOW, then RED, with no new event; each change stored and published once, across a restart', async () => {
      let now = new Date('2026-09-14T10:00:00+08:00');
      const dataDir = testDataDir('sweep');
      hub = await clockedHub(dataDir, () => now, behind);
      const before = watcher('light-watcher-1', CHANNELS.lightChanged);
      hub.broker.createService(before.service);
      // 增值税一般纳税人登记, promised 5 working days: accepted Mon 09-14, due at the end of Sun 09-20 (an
      // adjusted working day); YELLOW once 4 have elapsed (from Fri 09-18), RED from Mon 09-21.
      await apply(hub, [taxEvent('sweep-1', 'SW-SWEEP-1', 'SUBMITTED', '2026-09-14T09:00:00+08:00'), taxEvent('sweep-2', 'SW-SWEEP-1', 'ACCEPTED', '2026-09-14T09:30:00+08:00')]);
      await settled(hub.url!);
      let view = await caseView(hub.url!, 'tax-bureau', 'SW-SWEEP-1');
      const code = view.supervisionCode;
      assert.equal(view.light, 'GREEN');
      assert.equal(view.deadline, '2026-09-20T23:59:59+08:00');

      now = new Date('2026-09-17T23:59:00+08:00');
      await sleep(500);
      assert.equal((await caseView(hub.url!, 'tax-bureau', 'SW-SWEEP-1')).light, 'GREEN');
      assert.deepEqual(await alertsOf(hub.url!, code), []);

      now = new Date('2026-09-18T00:00:05+08:00');
      view = await waitFor('the sweep to turn the case YELLOW', async () => {
        const v = await caseView(hub!.url!, 'tax-bureau', 'SW-SWEEP-1');
        return v.light === 'YELLOW' && v;
      }, 10_000);
      await settled(hub.url!);
      let alerts = await alertsOf(hub.url!, code);
      assert.deepEqual(alerts.map((a) => [a.kind, a.level, a.from, a.to]), [['LIGHT_CHANGED', 'YELLOW', 'GREEN', 'YELLOW']]);
      assert.deepEqual(alerts[0].department, { code: TAX, name: '国家税务总局石家庄市税务局' });
      assert.match(alerts[0].at, /^2026-09-18T00:00:05\.\d{3}\+08:00$/);
      assert.deepEqual(before.got.filter((m) => m.supervisionCode === code).map((m) => m.id), [alerts[0].id]);
      assert.match(await (await fetch(`${hub.url}/metrics`)).text(), new RegExp(`^hub_cases\\{department="${TAX}",light="YELLOW"\\} 1$`, 'm'));

      // Restarted on the same store while still YELLOW, then the clock passes the deadline.
      await hub.stop();
      now = new Date('2026-09-20T12:00:00+08:00');
      hub = await clockedHub(dataDir, () => now, behind);
      const afterRestart = watcher('light-watcher-2', CHANNELS.lightChanged);
      hub.broker.createService(afterRestart.service);
      await sleep(300);
      assert.equal((await caseView(hub.url!, 'tax-bureau', 'SW-SWEEP-1')).light, 'YELLOW');
      now = new Date('2026-09-21T00:00:05+08:00');
      await waitFor('the sweep to turn the case RED', async () => (await caseView(hub!.url!, 'tax-bureau', 'SW-SWEEP-1')).light === 'RED', 10_000);
      await settled(hub.url!);
      await sleep(300);
      alerts = await alertsOf(hub.url!, code);
      assert.deepEqual(alerts.map((a) => [a.kind, a.level, a.from, a.to]), [['LIGHT_CHANGED', 'YELLOW', 'GREEN', 'YELLOW'], ['LIGHT_CHANGED', 'RED', 'YELLOW', 'RED']]);
      assert.ok(Number(alerts[1].id) > Number(alerts[0].id));
      // The YELLOW alert was published before the restart and is not published again.
      assert.deepEqual(afterRestart.got.filter((m) => m.supervisionCode === code).map((m) => m.id), [alerts[1].id]);
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`^hub_cases\\{department="${TAX}",light="RED"\\} 1$`, 'm'));
      assert.match(metrics, new RegExp(`^hub_cases\\{department="${TAX}",light="YELLOW"\\} 0$`, 'm'));
    });

    it('raises REPEATED_SUPPLEMENT on a second supplement request: YELLOW, once, with its reason and event', async () => {
      // The last test's node is done with: in a cluster it would still sweep the shared store with its own clock.
      await hub?.stop();
      hub = null;
      const now = new Date('2026-09-14T12:00:00+08:00');
      const h = await clockedHub(testDataDir('supplement'), () => now, behind);
      try {
        const events = [
          taxEvent('sup-1', 'SW-SUP-1', 'ACCEPTED', '2026-09-14T09:00:00+08:00'),
          taxEvent('sup-2', 'SW-SUP-1', 'SUPPLEMENT_REQUESTED', '2026-09-14T09:30:00+08:00'),
          taxEvent('sup-3', 'SW-SUP-1', 'SUPPLEMENTED', '2026-09-14T10:00:00+08:00'),
        ];
        await apply(h, events);
        await settled(h.url!);
        assert.deepEqual((await caseView(h.url!, 'tax-bureau', 'SW-SUP-1')).violations, []);
        const second = taxEvent('sup-4', 'SW-SUP-1', 'SUPPLEMENT_REQUESTED', '2026-09-14T11:00:00+08:00');
        await apply(h, [second]);
        await settled(h.url!);
        const view = await caseView(h.url!, 'tax-bureau', 'SW-SUP-1');
        assert.equal(view.light, 'YELLOW');
        assert.equal(view.paused, true);
        assert.deepEqual(view.violations, [{ code: 'REPEATED_SUPPLEMENT', eventId: second.id, reason: '多次要求补正，未一次性告知 (a second supplement request: missing materials not asked for at once)' }]);
        const alerts = await alertsOf(h.url!, view.supervisionCode);
        assert.deepEqual(alerts.map((a) => [a.kind, a.level]).sort(), [['LIGHT_CHANGED', 'YELLOW'], ['VIOLATION', 'YELLOW']]);
        assert.equal(alerts.find((a) => a.kind === 'VIOLATION').violation.code, 'REPEATED_SUPPLEMENT');
        // The same event again changes nothing and raises nothing.
        assert.equal((await h.context.store.cases.apply([second], { receivedAt: new Date() }))[0].result, 'duplicate');
        await h.broker.call('supervisor.supervise', { codes: [view.supervisionCode] });
        await settled(h.url!);
        assert.equal((await alertsOf(h.url!, view.supervisionCode)).length, 2);
      } finally {
        await h.stop();
      }
    });
  });

  describe('alerts, live and department-scoped', () => {
    let t: TestHub;
    before(async () => { t = await startTestHub(target, { HUB_POLLING_OFF: 'all' }); });
    after(async () => { await t?.stop(); });

    const noAcceptance = (key: string, localId: string) => taxEvent(key, localId, 'COMPLETED', '2026-11-24T10:00:00+08:00');
    const violationsIn = (events: SseEvent[]) => events.filter((e) => e.event === 'VIOLATION').map((e) => JSON.parse(e.data));

    it('streams a violation to a client connected before it within a second; a client back with Last-Event-ID gets what it missed, once', async () => {
      const stream = await openSse(`${t.url}/api/v1/alerts/stream`, SUPERVISOR);
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      const started = Date.now();
      await apply(t.hub, [noAcceptance('live-1', 'SW-LIVE-1')]);
      const code = (await t.hub.context.store.cases.lookup('tax-bureau', 'SW-LIVE-1'))!;
      const got = await waitFor('the violation on the stream', () => violationsIn(stream.events).find((a) => a.supervisionCode === code), 5_000, 10);
      const arrived = stream.events.find((e) => e.event === 'VIOLATION' && JSON.parse(e.data).supervisionCode === code)!;
      assert.ok(arrived.at - started <= 1000, `arrived ${arrived.at - started} ms after the event was applied`);
      assert.deepEqual(got.violation, { code: 'NO_ACCEPTANCE', reason: '未受理即办结 (completed with no acceptance on record)', eventId: noAcceptance('live-1', 'SW-LIVE-1').id });
      assert.equal(got.level, 'RED');
      assert.equal(arrived.id, got.id);
      await settled(t.url);
      await sleep(400);
      const lastSeen = stream.events[stream.events.length - 1].id!;
      stream.close();

      // Missed while away: two more cases handled outside the system.
      await apply(t.hub, [noAcceptance('live-2', 'SW-LIVE-2'), noAcceptance('live-3', 'SW-LIVE-3')]);
      await settled(t.url);
      const missed = (await getJson(`${t.url}/api/v1/alerts?cursor=${lastSeen}`, SUPERVISOR)).body.items;
      assert.equal(missed.length, 4, JSON.stringify(missed));
      const back = await openSse(`${t.url}/api/v1/alerts/stream`, { ...SUPERVISOR, 'Last-Event-ID': lastSeen });
      await waitFor('the missed alerts', () => back.events.length >= 4, 5_000, 10);
      await sleep(600);
      back.close();
      assert.deepEqual(back.events.map((e) => e.id), missed.map((a: any) => a.id));
      assert.deepEqual(back.events.map((e) => e.event), missed.map((a: any) => a.kind));
      assert.deepEqual(back.events.map((e) => JSON.parse(e.data)), missed);
    });

    it('lists alerts by level, kind, department and time, newest after the cursor', async () => {
      const red = (await getJson(`${t.url}/api/v1/alerts?level=RED&kind=VIOLATION`, SUPERVISOR)).body.items;
      assert.ok(red.length >= 3);
      assert.ok(red.every((a: any) => a.level === 'RED' && a.kind === 'VIOLATION' && a.department.code === TAX));
      assert.deepEqual((await getJson(`${t.url}/api/v1/alerts?department=${VEHICLE_OFFICE.code}`, SUPERVISOR)).body.items, []);
      const future = (await getJson(`${t.url}/api/v1/alerts?since=2999-01-01T00:00:00%2B08:00`, SUPERVISOR)).body.items;
      assert.deepEqual(future, []);
      const page = (await getJson(`${t.url}/api/v1/alerts?limit=2`, SUPERVISOR)).body;
      assert.equal(page.items.length, 2);
      const next = (await getJson(`${t.url}/api/v1/alerts?limit=2&cursor=${page.nextCursor}`, SUPERVISOR)).body;
      assert.ok(Number(next.items[0].id) > Number(page.items[1].id));
      assert.equal((await getJson(`${t.url}/api/v1/alerts?level=GREEN`, SUPERVISOR)).status, 400);
      assert.equal((await getJson(`${t.url}/api/v1/alerts`)).status, 401);
    });

    it('shows a department-scoped token only its own departments\' cases, statistics and alerts; another\'s case is 404', async () => {
      const stream = await openSse(`${t.url}/api/v1/alerts/stream`, VEHICLE_SUPERVISOR);
      assert.equal(stream.status, 200);
      await apply(t.hub, [
        vehicleEvent('scope-1', 'VEH-SCOPE-1', 'COMPLETED', '2026-11-24T10:00:00+08:00', VEHICLE_HALLS[0]),
        vehicleEvent('scope-2', 'VEH-SCOPE-2', 'ACCEPTED', '2026-11-24T10:00:00+08:00', VEHICLE_HALLS[1]),
        vehicleEvent('scope-3', 'VEH-SCOPE-3', 'ACCEPTED', '2026-11-24T10:00:00+08:00', null),
        noAcceptance('scope-4', 'SW-SCOPE-4'),
      ]);
      await settled(t.url);
      const taxCode = (await t.hub.context.store.cases.lookup('tax-bureau', 'SW-SCOPE-4'))!;
      const vehicleCode = (await t.hub.context.store.cases.lookup('vehicle-office', 'VEH-SCOPE-1'))!;

      // Cases: another department's case is not found, exactly as a case that does not exist.
      const other = await getJson(`${t.url}/api/v1/cases/${taxCode}`, VEHICLE_SUPERVISOR);
      assert.equal(other.status, 404);
      const unknown = await getJson(`${t.url}/api/v1/cases/${issueSupervisionCode('130100', new Date())}`, VEHICLE_SUPERVISOR);
      assert.equal(unknown.status, 404);
      assert.equal(other.body.type, unknown.body.type);
      assert.equal((await getJson(`${t.url}/api/v1/cases/${taxCode}`, SUPERVISOR)).status, 200);
      assert.equal((await getJson(`${t.url}/api/v1/cases/${vehicleCode}`, VEHICLE_SUPERVISOR)).status, 200);
      assert.equal((await getJson(`${t.url}/api/v1/cases/lookup?system=tax-bureau&localId=SW-SCOPE-4`, VEHICLE_SUPERVISOR)).status, 404);
      assert.equal((await getJson(`${t.url}/api/v1/cases/lookup?system=vehicle-office&localId=VEH-SCOPE-1`, VEHICLE_SUPERVISOR)).status, 200);
      const listed = (await getJson(`${t.url}/api/v1/cases?limit=200`, VEHICLE_SUPERVISOR)).body.items;
      assert.deepEqual(new Set(listed.map((c: any) => c.department.code)), new Set([VEHICLE_OFFICE.code]));
      assert.equal(listed.length, 3);
      assert.deepEqual((await getJson(`${t.url}/api/v1/cases?department=${TAX}`, VEHICLE_SUPERVISOR)).body.items, []);
      assert.equal((await getJson(`${t.url}/api/v1/cases?department=${VEHICLE_HALLS[1].code}`, VEHICLE_SUPERVISOR)).body.items.length, 1);

      // Statistics: the vehicle office alone, its halls rolled up into it.
      const stats = (await getJson(`${t.url}/api/v1/stats/departments`, VEHICLE_SUPERVISOR)).body.departments;
      assert.deepEqual(stats.map((d: any) => d.code), [VEHICLE_OFFICE.code]);
      assert.equal(stats[0].received, 3);
      assert.deepEqual(stats[0].halls.map((h: any) => [h.code, h.received]).sort(), VEHICLE_HALLS.map((h) => [h.code, 1]).sort());
      const everyone = (await getJson(`${t.url}/api/v1/stats/departments`, SUPERVISOR)).body.departments;
      assert.deepEqual(everyone.map((d: any) => d.code).sort(), [VEHICLE_OFFICE.code, TAX].sort());

      // Alerts: only the vehicle office's, listed and streamed.
      const alerts = (await getJson(`${t.url}/api/v1/alerts?limit=500`, VEHICLE_SUPERVISOR)).body.items;
      assert.ok(alerts.some((a: any) => a.supervisionCode === vehicleCode && a.kind === 'VIOLATION'));
      assert.ok(alerts.every((a: any) => a.department.code === VEHICLE_OFFICE.code));
      assert.ok((await alertsOf(t.url, taxCode)).length >= 1);
      await sleep(500);
      stream.close();
      const streamed = stream.events.map((e) => JSON.parse(e.data));
      assert.ok(streamed.some((a) => a.supervisionCode === vehicleCode));
      assert.ok(streamed.every((a) => a.department.code === VEHICLE_OFFICE.code), JSON.stringify(streamed));
    });
  });
});
}

describe('the supervisor\'s alert stream and a stopping gateway', function () {
  this.timeout(60_000);
  it('ends the open alert streams when the gateway stops, so that the node stops instead of waiting for the consoles', async () => {
    const t = await startTestHub('embedded', { HUB_POLLING_OFF: 'all' });
    let stopped = false;
    try {
      const stream = await openSse(`${t.url}/api/v1/alerts/stream`, SUPERVISOR);
      assert.equal(stream.status, 200);
      const stopping = t.stop().then(() => { stopped = true; });
      assert.equal(await stream.ended, true, 'the server ended the stream');
      await waitFor('the node to stop', () => stopped, 20_000);
      await stopping;
    } finally {
      if (!stopped) await t.stop().catch(() => undefined);
    }
  });
});
