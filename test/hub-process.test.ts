import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { ADAPTERS_DIR } from '../core/kernel/paths';
import { postBatch, MarketBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { spawnHub, testDataDir, getJson, waitFor, SUPERVISOR, HubProcess, settled } from './support/hub';

// The department's sample, as handed over (adapters/market-regulation/samples keeps the copy).
const SAMPLE = path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-01.json');

function submitted(caseNo: string): MarketEvent {
  return {
    eventId: randomUUID(), caseNo, itemCode: 'SCJG-DJ-001', status: 'SUBMITTED', statusTime: '2026-11-25T10:00:00+08:00',
    applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241283', mobile: '15833321907' },
    officer: null, supervisionCode: null, remark: null,
  } as MarketEvent;
}

/** The query service a hub's simulators started and the URL its vehicle office poller calls (as their logs say). */
function pollingOf(hub: HubProcess): { served: string | null; polled: string | null } {
  const lines = hub.output().split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  return {
    served: lines.find((l) => l.msg === 'vehicle office query service listening')?.url ?? null,
    polled: lines.find((l) => l.msg === 'polling started' && l.adapter === 'vehicle-office')?.url ?? null,
  };
}

async function timelineLength(url: string, caseNo: string): Promise<number> {
  const l = await getJson(`${url}/api/v1/cases/lookup?system=market-regulation&localId=${caseNo}`, SUPERVISOR);
  if (l.status === 404) return 0;
  assert.equal(l.status, 200);
  const v = await getJson(`${url}/api/v1/cases/${l.body.supervisionCode}`, SUPERVISOR);
  return v.body.timeline.length;
}

describe('the hub as `make run` starts it (embedded, own process)', function () {
  this.timeout(240_000);
  let hub: HubProcess | null = null;
  afterEach(async () => { await hub?.stop('SIGKILL'); hub = null; });

  it('takes the signed sample batch and shows the case to the supervisor', async () => {
    const dataDir = testDataDir('run');
    hub = await spawnHub({ HUB_DATA_DIR: dataDir });
    assert.match(hub.output(), /listening on http:\/\/127\.0\.0\.1:\d+/);
    const r = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, fs.readFileSync(SAMPLE));
    assert.equal(r.status, 200);
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
    const code = (r.body as any).results[0].supervisionCode;
    assert.ok(parseSupervisionCode(code).ok);
    const v = await getJson(`${hub.url}/api/v1/cases/${code}`, SUPERVISOR);
    assert.equal(v.body.status, 'ACCEPTED');
    assert.equal(v.body.item.code, '130100-SC-0001');
    assert.equal(v.body.department.code, '11130100000500117D');
    assert.deepEqual(v.body.timeline.map((e: any) => e.status), ['SUBMITTED', 'ACCEPTED']);
    // The embedded store lives in the data folder.
    assert.ok(fs.existsSync(path.join(dataDir, 'store')));
    // Without its own simulators the demo hub polls nobody: no other process's records come in.
    assert.doesNotMatch(hub.output(), /"msg":"polling started"/);
  });

  it('with the simulators, as `make run` starts it: the first poll finds the query service, and cases come from all three departments', async () => {
    hub = await spawnHub({ HUB_DATA_DIR: testDataDir('run-simulators') }, ['--with-simulators']);
    const until = Date.now() + 60_000;
    const departments = async () => {
      const r = await getJson(`${hub!.url}/api/v1/stats/departments`, SUPERVISOR);
      return new Set<string>(r.body.departments.filter((d: { received: number }) => d.received > 0).map((d: { code: string }) => d.code));
    };
    while ((await departments()).size < 3) {
      assert.ok(Date.now() < until, `cases from only ${[...(await departments())].join(', ')} within 60 s:\n${hub.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const log = hub.output().split('\n');
    assert.ok(log.some((l) => l.includes('"msg":"poll page applied"')), 'the vehicle office feed was polled');
    assert.deepEqual(log.filter((l) => l.includes('poll failed')), [], 'no poll failed');
    // It polled the query service it started itself, on a port of its own.
    const own = pollingOf(hub);
    assert.equal(own.polled, own.served);
  });

  it('two hubs with their simulators on one machine each poll only their own query service, and HUB_POLLING_OFF stops polling', async () => {
    const other = await spawnHub({ HUB_DATA_DIR: testDataDir('run-simulators-a') }, ['--with-simulators']);
    try {
      hub = await spawnHub({ HUB_DATA_DIR: testDataDir('run-simulators-b') }, ['--with-simulators']);
      const a = await waitFor('hub a polling', () => { const p = pollingOf(other); return p.polled ? p : null; });
      const b = await waitFor('hub b polling', () => { const p = pollingOf(hub!); return p.polled ? p : null; });
      assert.equal(a.polled, a.served, other.output().slice(-3000));
      assert.equal(b.polled, b.served, hub.output().slice(-3000));
      assert.notEqual(a.served, b.served, 'each hub started a query service of its own');
      assert.doesNotMatch(`${a.served} ${b.served}`, /:9101\//, 'no fixed port');
    } finally {
      await other.stop('SIGKILL');
    }
    await hub.stop('SIGKILL');
    hub = await spawnHub({ HUB_DATA_DIR: testDataDir('run-simulators-off'), HUB_POLLING_OFF: 'vehicle-office' }, ['--with-simulators']);
    // The pushing simulators still reach it; the feed is never polled.
    await waitFor('a pushed vehicle office report', () => hub!.output().split('\n').some((l) => l.includes('"msg":"message processed"') && l.includes('"adapter":"vehicle-office"')), 60_000, 250);
    assert.doesNotMatch(hub.output(), /"msg":"polling started"/);
  });

  it('lets a request in flight finish on SIGTERM, and keeps every case across a restart', async () => {
    const dataDir = testDataDir('sigterm');
    hub = await spawnHub({ HUB_DATA_DIR: dataDir });
    // A request in flight: headers and half the body sent, then the signal, then the rest.
    const caseNos = Array.from({ length: 500 }, (_, i) => `SJTERM${Date.now()}${String(i).padStart(4, '0')}`);
    const body = Buffer.from(JSON.stringify({ batchId: 'b-term', events: caseNos.map(submitted) }));
    const ts = Math.floor(Date.now() / 1000);
    const { signRequest } = await import('../infra/simulators/market-regulation');
    const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(`${hub!.url}/api/v1/inbound/market-regulation`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': body.length, 'X-Hub-Key-Id': 'scjg-demo', 'X-Hub-Timestamp': ts, 'X-Hub-Signature': signRequest(body, 'scjg-demo-secret-2026', ts) },
      }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.write(body.subarray(0, body.length >> 1));
      setTimeout(() => {
        exit = hub!.stop('SIGTERM');
        setTimeout(() => req.end(body.subarray(body.length >> 1)), 700);
      }, 300);
    });
    let exit: Promise<number | null> = Promise.resolve(null);
    const r = await answer;
    assert.equal(r.status, 200);
    assert.equal(r.body.results.length, 500);
    assert.ok(r.body.results.every((x: any) => x.result === 'accepted'));
    assert.equal(await exit, 0);
    const log = hub.output();
    assert.ok(log.indexOf('"signal":"SIGTERM"') >= 0 && log.indexOf('"signal":"SIGTERM"') < log.indexOf('"records":500'), 'the signal came before the request was complete');
    hub = await spawnHub({ HUB_DATA_DIR: dataDir });
    // The statistics are the supervisor's counters: read once it has had every applied event.
    await settled(hub.url, 120_000);
    const stats = await getJson(`${hub.url}/api/v1/stats/departments`, SUPERVISOR);
    assert.equal(stats.body.departments.find((d: any) => d.code === '11130100000500117D').received, 500);
    for (const n of [caseNos[0], caseNos[249], caseNos[499]]) assert.equal(await timelineLength(hub.url, n), 1);
  });

  it('after SIGKILL mid-stream reopens the store with every accepted event once, and re-sent batches apply once', async () => {
    const dataDir = testDataDir('sigkill');
    hub = await spawnHub({ HUB_DATA_DIR: dataDir });
    const url = `${hub.url}/api/v1/inbound/market-regulation`;
    const sent: { batch: MarketBatch; answered: boolean }[] = [];
    let killed = false;
    const sender = async (lane: number) => {
      for (let i = 0; !killed; i++) {
        const batch: MarketBatch = { batchId: `b-${lane}-${i}`, events: Array.from({ length: 25 }, (_, k) => submitted(`SJKILL${lane}x${i}x${k}x${Date.now()}`)) };
        const entry = { batch, answered: false };
        sent.push(entry);
        try {
          const r = await postBatch(url, batch);
          if (r.status === 200) {
            assert.ok((r.body as any).results.every((x: any) => x.result === 'accepted'));
            entry.answered = true;
          }
        } catch {
          return; // the connection died with the hub
        }
      }
    };
    const lanes = [sender(1), sender(2)];
    await new Promise((r) => setTimeout(r, 2500));
    killed = true;
    await hub.stop('SIGKILL');
    await Promise.all(lanes);
    const answered = sent.filter((s) => s.answered);
    const unanswered = sent.filter((s) => !s.answered);
    assert.ok(answered.length >= 3, `only ${answered.length} batches answered before the kill`);

    hub = await spawnHub({ HUB_DATA_DIR: dataDir });
    for (const s of answered) {
      for (const e of [s.batch.events[0], s.batch.events[24]]) assert.equal(await timelineLength(hub.url, e.caseNo), 1, `${e.caseNo} applied once`);
    }
    for (const s of unanswered) {
      const r = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, s.batch);
      assert.equal(r.status, 200);
      assert.ok((r.body as any).results.every((x: any) => x.result === 'accepted' || x.result === 'duplicate'));
    }
    const total = sent.reduce((n, s) => n + s.batch.events.length, 0);
    await settled(hub.url, 120_000);
    const stats = await getJson(`${hub.url}/api/v1/stats/departments`, SUPERVISOR);
    assert.equal(stats.body.departments.find((d: any) => d.code === '11130100000500117D').received, total);
    for (const s of unanswered) for (const e of s.batch.events) assert.equal(await timelineLength(hub.url, e.caseNo), 1);
  });
});
