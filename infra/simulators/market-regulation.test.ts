import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { normaliseCitizenId } from '../../core/identifiers/citizen-id';
import { normaliseUscc } from '../../core/identifiers/uscc';
import {
  MarketBatch, MarketCaseStream, MarketEvent, MarketRegulationSimulator, MarketStatus, postBatch, signRequest,
} from './market-regulation';
import { Received, WARN, capturingLogger, startRecordingServer, waitFor, runAgainstMissingEndpoint } from './test-support';

const STATUSES: MarketStatus[] = [
  'SUBMITTED', 'ACCEPTED', 'NOT_ACCEPTED', 'IN_REVIEW', 'NEED_MORE_INFO', 'INFO_PROVIDED', 'ON_HOLD', 'RESUMED',
  'APPROVED', 'REJECTED', 'DONE', 'CERT_ISSUED', 'CANCELLED',
];
const FINAL: MarketStatus[] = ['NOT_ACCEPTED', 'CERT_ISSUED', 'CANCELLED'];

function identifierValid(e: MarketEvent): boolean {
  const a = e.applicant;
  return a.type === 'ENTERPRISE' ? normaliseUscc(a.creditCode).ok : normaliseCitizenId(a.idNumber).ok;
}

function verifySignature(r: Received, secret = 'scjg-demo-secret-2026'): boolean {
  const ts = String(r.headers['x-hub-timestamp']);
  const mac = createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${ts}.`), r.body])).digest('hex');
  return r.headers['x-hub-signature'] === `sha256=${mac}`;
}

const validBatchId = (id: string) => /^b-\d{8}-\d{6}$/.test(id);

const ok = (r: Received) => {
  const batch = JSON.parse(r.body.toString('utf8')) as MarketBatch;
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ results: batch.events.map((e) => ({ eventId: e.eventId, result: 'accepted', supervisionCode: 'X' })) }),
  };
};

describe('simulators: market regulation', () => {
  it('signs timestamp.body with HMAC-SHA256 as the SPEC says', () => {
    // Reference value from `openssl dgst -sha256 -hmac scjg-demo-secret-2026`.
    const body = '{"batchId":"b-1","events":[]}';
    const expected = 'sha256=c36d744282bbf060fa21602fed4325165315ab8127aea7862125a1aa1bbe193e';
    assert.equal(signRequest(body, 'scjg-demo-secret-2026', 1795600000), expected);
    assert.equal(signRequest(Buffer.from(body), 'scjg-demo-secret-2026', 1795600000), expected);
  });

  it('posts a signed batch over HTTP and reads the JSON answer', async () => {
    const hub = await startRecordingServer(ok);
    try {
      const batch = new MarketCaseStream({ seed: 1 }).nextBatch(3);
      const answer = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, batch, { timestamp: 1795600000 });
      assert.equal(answer.status, 200);
      assert.deepEqual((answer.body as { results: unknown[] }).results.length, 3);
      const r = hub.received[0];
      assert.equal(r.url, '/api/v1/inbound/market-regulation');
      assert.equal(r.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(r.headers['x-hub-key-id'], 'scjg-demo');
      assert.equal(r.headers['x-hub-timestamp'], '1795600000');
      assert.ok(verifySignature(r));
      assert.deepEqual(JSON.parse(r.body.toString('utf8')), batch);
    } finally {
      await hub.close();
    }
  });

  it('hands back a non-JSON answer as text', async () => {
    const hub = await startRecordingServer(() => ({ status: 404, body: 'Not Found' }));
    try {
      const answer = await postBatch(hub.url, '{"not":"a batch"}', { keyId: 'other', secret: 's' });
      assert.deepEqual([answer.status, answer.body], [404, 'Not Found']);
      assert.equal(hub.received[0].headers['x-hub-key-id'], 'other');
      assert.ok(verifySignature(hub.received[0], 's'));
    } finally {
      await hub.close();
    }
  });

  it('streams plausible case life-cycles', () => {
    let now = Date.parse('2026-11-24T09:00:00+08:00');
    const stream = new MarketCaseStream({ seed: 7, clock: () => (now += 20_000) });
    const events = Array.from({ length: 3000 }, () => stream.nextEvent());
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
    assert.deepEqual([...new Set(events.map((e) => e.status))].sort(), [...STATUSES].sort());
    assert.deepEqual([...new Set(events.map((e) => e.itemCode))].sort(), ['SCJG-DJ-001', 'SCJG-DJ-002', 'SCJG-SC-001', 'SCJG-SP-001']);
    assert.deepEqual([...new Set(events.map((e) => e.applicant.type))].sort(), ['ENTERPRISE', 'PERSON']);
    const byCase = new Map<string, MarketEvent[]>();
    for (const e of events) {
      assert.match(e.caseNo, /^SJ130100\d{8}\d{4}$/);
      assert.match(e.statusTime, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$/);
      assert.match(e.applicant.mobile, /^1[3-9]\d{9}$/);
      assert.ok(identifierValid(e), JSON.stringify(e.applicant));
      byCase.set(e.caseNo, [...(byCase.get(e.caseNo) ?? []), e]);
    }
    for (const [caseNo, list] of byCase) {
      const statuses = list.map((e) => e.status);
      for (let i = 1; i < list.length; i++) assert.ok(list[i].statusTime > list[i - 1].statusTime, caseNo);
      for (const f of FINAL) assert.ok(!statuses.includes(f) || statuses.indexOf(f) === statuses.length - 1, `${caseNo}: ${statuses.join(' → ')}`);
      if (statuses.includes('ACCEPTED') && statuses.includes('IN_REVIEW')) assert.ok(statuses.indexOf('ACCEPTED') < statuses.indexOf('IN_REVIEW'));
      assert.equal(new Set(list.map((e) => JSON.stringify(e.applicant))).size, 1, 'one applicant per case');
    }
  });

  it('shapes events like the system’s own sample batch', () => {
    const sample = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../infra/simulators/fixtures/batch-01.json'), 'utf8')) as MarketBatch;
    const shape = (e: MarketEvent) => `${Object.keys(e).sort()} / ${e.applicant.type}: ${Object.keys(e.applicant).sort()}`;
    const expected = new Set(sample.events.map(shape));
    const events = new MarketCaseStream({ seed: 10 }).nextBatch(20).events;
    for (const e of events) assert.ok(expected.has(shape(e)), shape(e));
    assert.ok(validBatchId(sample.batchId));
  });

  it('repeats a stream for the same seed', () => {
    const make = () => {
      let now = Date.parse('2026-11-24T09:00:00+08:00');
      const s = new MarketCaseStream({ seed: 'same', clock: () => (now += 1000) });
      return [s.nextBatch(), s.nextBatch()];
    };
    assert.deepEqual(make(), make());
  });

  it('posts batches of 1–20 events every interval', async () => {
    const hub = await startRecordingServer(ok);
    const sim = new MarketRegulationSimulator({ url: `${hub.url}/hook`, intervalMs: 10, seed: 3, logger: capturingLogger().logger });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 15, 3000, '15 batches');
      await sim.stop();
      for (const r of hub.received) {
        assert.ok(verifySignature(r));
        const batch = JSON.parse(r.body.toString('utf8')) as MarketBatch;
        assert.ok(batch.events.length >= 1 && batch.events.length <= 20);
        assert.ok(validBatchId(batch.batchId), batch.batchId);
      }
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('re-sends the same batch when the hub answers 503, then moves on', async () => {
    const hub = await startRecordingServer((r, i) => (i < 2 ? { status: 503, headers: { 'Retry-After': '0' } } : ok(r)));
    const sim = new MarketRegulationSimulator({ url: hub.url, intervalMs: 10, seed: 4, retry: { initialMs: 5, maxMs: 20 }, resendChance: 0, logger: capturingLogger().logger });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 4, 3000, 'four requests');
      await sim.stop();
      const bodies = hub.received.map((r) => r.body.toString('utf8'));
      const first = bodies.map((b, i) => [b, i] as const).filter(([b]) => b === bodies[0]).map(([, i]) => i);
      // Twice refused, then taken (the third request or later); later batches go on meanwhile.
      assert.ok(first.length === 3 && first[2] >= 2, `first batch sent at ${first.join(', ')}`);
      assert.ok(bodies.some((b) => b !== bodies[0]));
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('sometimes re-sends the previous batch unchanged and sometimes breaks an identifier', async () => {
    const hub = await startRecordingServer(ok);
    const sim = new MarketRegulationSimulator({ url: hub.url, intervalMs: 5, seed: 5, resendChance: 0.5, badIdentifierChance: 0.5, logger: capturingLogger().logger });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 30, 3000, '30 batches');
      await sim.stop();
      const batches = hub.received.map((r) => JSON.parse(r.body.toString('utf8')) as MarketBatch);
      const repeats = batches.filter((b, i) => i > 0 && JSON.stringify(b) === JSON.stringify(batches[i - 1])).length;
      assert.ok(repeats >= 5, `${repeats} repeats`);
      const distinct = [...new Map(batches.map((b) => [b.batchId, b])).values()];
      const bad = distinct.map((b) => b.events.filter((e) => !identifierValid(e)).length);
      assert.ok(bad.every((n) => n <= 1));
      assert.ok(bad.filter((n) => n === 1).length >= 3, `${bad.filter((n) => n === 1).length} batches with a bad identifier`);
    } finally {
      await sim.stop();
      await hub.close();
    }
  });

  it('warns once and backs off while the endpoint is missing', async () => {
    const { received, warnings } = await runAgainstMissingEndpoint((url, logger) => {
      const sim = new MarketRegulationSimulator({ url, intervalMs: 5, seed: 6, retry: { initialMs: 20, maxMs: 80 }, logger });
      sim.start();
      return sim;
    }, 600);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0].reason), /404/);
    // 120 ticks in 600 ms; the backoff keeps requests to a handful.
    assert.ok(received.length >= 3 && received.length <= 20, `${received.length} requests`);
    // While the first batch is stuck, retries carry it unchanged.
    assert.equal(received[1].body.toString(), received[0].body.toString());
  });

  it('keeps going when nothing listens', async () => {
    const { logger, lines } = capturingLogger();
    const sim = new MarketRegulationSimulator({ url: 'http://127.0.0.1:9/nothing', intervalMs: 5, seed: 8, retry: { initialMs: 10, maxMs: 40 }, logger });
    sim.start();
    await new Promise((r) => setTimeout(r, 300));
    await sim.stop();
    assert.equal(lines.filter((l) => l.level >= WARN).length, 1);
    assert.match(String(lines[0].reason), /ECONNREFUSED/);
  });

  it('never logs ID numbers or mobiles, whatever the hub answers', async () => {
    const hub = await startRecordingServer((r, i) => {
      if (i % 3 === 1) return { status: 400, headers: { 'Content-Type': 'application/problem+json' }, body: '{"title":"bad batch"}' };
      const batch = JSON.parse(r.body.toString('utf8')) as MarketBatch;
      const results = batch.events.map((e) => ({ eventId: e.eventId, result: 'rejected', field: 'applicant.creditCode', reason: 'check character' }));
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ results }) };
    });
    const { logger, lines } = capturingLogger('trace');
    const sim = new MarketRegulationSimulator({ url: hub.url, intervalMs: 5, seed: 9, retry: { initialMs: 5, maxMs: 10 }, logger });
    try {
      sim.start();
      await waitFor(() => hub.received.length >= 20, 3000, '20 requests');
      await sim.stop();
      const personal = new Set<string>();
      for (const r of hub.received) {
        for (const e of (JSON.parse(r.body.toString('utf8')) as MarketBatch).events) {
          const a = e.applicant;
          personal.add(a.type === 'ENTERPRISE' ? a.creditCode : a.idNumber).add(a.mobile);
        }
      }
      const logged = JSON.stringify(lines);
      assert.ok(lines.some((l) => l.msg === 'event rejected by the hub'));
      for (const value of personal) assert.ok(!logged.includes(value), `${value} logged`);
    } finally {
      await sim.stop();
      await hub.close();
    }
  });
});
