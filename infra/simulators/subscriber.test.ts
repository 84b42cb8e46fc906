import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { capturingLogger } from './test-support';
import { CLOUDEVENTS_CONTENT_TYPE, SubscriberSimulator, startSubscriber } from './subscriber';

const KEY_ID = 'sub-1';
const SECRET = 'subscriber-secret-0001';
const CODE_A = '130100202611240000000010';
const CODE_B = '130100202611240000000028';
const ID_NUMBER = '130105197806241283';
const MOBILE = '13831100425';

/** A delivery as the hub makes it; personal data in it, as a subscription that allows it receives. */
function event(id: string, subject = CODE_A, type = 'cn.gov.hub.case.event.applied', status = 'ACCEPTED') {
  return {
    specversion: '1.0', id, source: 'urn:hub:system:market-regulation', type, subject, time: '2026-11-24T09:12:44+08:00', datacontenttype: 'application/json',
    data: {
      status, supervisionCode: subject, department: { code: '11130100000500117D', name: '石家庄市市场监督管理局' }, item: { code: '130100-SC-0001', name: '食品经营许可' },
      applicant: { kind: 'PERSON', name: '张三', idType: 'CITIZEN_ID', idNumber: ID_NUMBER, mobile: MOBILE },
    },
  };
}

type Answer = { status: number; body: any; headers: Headers };
type Signing = { keyId?: string; secret?: string; timestamp?: number; tamper?: (body: Buffer) => Buffer; contentType?: string };

/** Signs as the SPEC says, with node:crypto here rather than the hub's module, so that the two check each other. */
async function deliver(sub: SubscriberSimulator, payload: unknown, s: Signing = {}, signal?: AbortSignal): Promise<Answer> {
  const body = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
  const ts = s.timestamp ?? Math.floor(Date.now() / 1000);
  const signature = `sha256=${createHmac('sha256', s.secret ?? SECRET).update(`${ts}.`).update(body).digest('hex')}`;
  const sent = s.tamper ? s.tamper(body) : body;
  const r = await fetch(sub.url, {
    method: 'POST', signal, body: sent,
    headers: { 'Content-Type': s.contentType ?? CLOUDEVENTS_CONTENT_TYPE, 'X-Hub-Key-Id': s.keyId ?? KEY_ID, 'X-Hub-Timestamp': String(ts), 'X-Hub-Signature': signature },
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
}

async function admin(sub: SubscriberSimulator, method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`${sub.baseUrl}/_admin/${route}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }) });
  return { status: r.status, body: await r.json() };
}

describe('simulators: a subscriber', () => {
  let sub: SubscriberSimulator;
  afterEach(async () => sub?.close());

  it('takes signed deliveries, records them and their order per case, and answers a redelivered id 200 again, counting it', async () => {
    const { logger, lines } = capturingLogger();
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET }, logger });
    assert.match(sub.url, /^http:\/\/127\.0\.0\.1:\d+\/hub\/events$/);
    const before = Date.now();
    const sent = [event('e-1'), event('e-2', CODE_B), event('a-7', CODE_A, 'cn.gov.hub.case.light.changed'), event('e-3', CODE_A, 'cn.gov.hub.case.event.applied', 'UNDER_REVIEW')];
    for (const e of sent) {
      const a = await deliver(sub, e);
      assert.deepEqual([a.status, a.body], [200, { id: e.id, result: 'accepted' }]);
    }
    const again = await deliver(sub, sent[1]);
    assert.deepEqual([again.status, again.body], [200, { id: 'e-2', result: 'duplicate' }]);

    assert.deepEqual(sub.received().map((d) => [d.id, d.type, d.subject, d.keyId]), [
      ['e-1', 'cn.gov.hub.case.event.applied', CODE_A, KEY_ID],
      ['e-2', 'cn.gov.hub.case.event.applied', CODE_B, KEY_ID],
      ['a-7', 'cn.gov.hub.case.light.changed', CODE_A, KEY_ID],
      ['e-3', 'cn.gov.hub.case.event.applied', CODE_A, KEY_ID],
    ]);
    assert.deepEqual(sub.received()[3].body, sent[3], 'the body as parsed');
    assert.ok(sub.received().every((d) => d.receivedAt >= before && d.receivedAt <= Date.now()));
    assert.equal(sub.duplicates(), 1);
    assert.deepEqual(sub.bySubject(), { [CODE_A]: ['e-1', 'a-7', 'e-3'], [CODE_B]: ['e-2'] });
    assert.deepEqual(sub.requests().map((r) => [r.id, r.status, r.outcome]), [
      ['e-1', 200, 'accepted'], ['e-2', 200, 'accepted'], ['a-7', 200, 'accepted'], ['e-3', 200, 'accepted'], ['e-2', 200, 'duplicate'],
    ]);
    await sub.waitForReceived(4, 100);

    // Ids, types and case codes in the log; no ID number, mobile or name, in full or masked.
    assert.ok(lines.some((l) => l.id === 'e-1' && l.subject === CODE_A));
    const log = JSON.stringify(lines);
    for (const personal of [ID_NUMBER, MOBILE, '张三', '****']) assert.ok(!log.includes(personal), `the log holds ${personal}`);
  });

  it('refuses with 401 a tampered body, a signature from another secret, an unknown key id, a stale timestamp and no signature, counting each', async () => {
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET } });
    const now = Math.floor(Date.now() / 1000);
    const flipOneByte = (b: Buffer) => {
      const c = Buffer.from(b);
      const at = c.indexOf('ACCEPTED');
      c[at] = 'R'.charCodeAt(0); // ACCEPTED → RCCEPTED: one byte, still JSON
      return c;
    };
    const refused: [string, Signing, string][] = [
      ['a tampered body', { tamper: flipOneByte }, 'bad-signature'],
      ['another secret', { secret: 'another-secret-0002' }, 'bad-signature'],
      ['an unknown key id', { keyId: 'sub-9' }, 'unknown-key'],
      ['a stale timestamp', { timestamp: now - 301 }, 'stale-timestamp'],
      ['a timestamp from the future', { timestamp: now + 400 }, 'stale-timestamp'],
    ];
    for (const [what, signing, type] of refused) {
      const a = await deliver(sub, event('e-1'), signing);
      assert.equal(a.status, 401, what);
      assert.match(a.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
      assert.equal(a.body.type, `urn:subscriber:problem:${type}`, what);
    }
    const unsigned = await fetch(sub.url, { method: 'POST', headers: { 'Content-Type': CLOUDEVENTS_CONTENT_TYPE }, body: JSON.stringify(event('e-1')) });
    assert.equal(unsigned.status, 401);
    assert.deepEqual(sub.rejected().map((r) => r.type), ['bad-signature', 'bad-signature', 'unknown-key', 'stale-timestamp', 'stale-timestamp', 'missing-signature']);
    assert.match(sub.rejected()[3].detail, /^timestamp is 30[12] s away from the subscriber's clock \(limit 300 s\)$/);
    assert.deepEqual(sub.received(), [], 'nothing refused is taken');
    assert.equal((await deliver(sub, event('e-1'), { timestamp: now - 290 })).status, 200, 'within the window, the same event is taken');
    assert.deepEqual([sub.state().rejected, sub.state().accepted], [6, 1]);
  });

  it('refuses a signed delivery that is no CloudEvent of the hub, with 415 or 400, and takes nothing of it', async () => {
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET } });
    assert.equal((await deliver(sub, event('e-1'), { contentType: 'application/json' })).status, 415);
    assert.equal((await deliver(sub, '{"id":')).status, 400);
    assert.equal((await deliver(sub, { ...event('e-2'), specversion: '0.3' })).status, 400);
    const noSubject: Record<string, unknown> = { ...event('e-3') };
    delete noSubject.subject;
    const a = await deliver(sub, noSubject);
    assert.deepEqual([a.status, a.body.detail], [400, 'subject is required']);
    assert.deepEqual(sub.invalid().map((i) => i.id), [undefined, undefined, 'e-2', 'e-3']);
    assert.deepEqual(sub.received(), []);
  });

  it('fails as told through its methods, for so many deliveries or until told otherwise, without taking the events; then recovers', async () => {
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET } });
    sub.setMode({ mode: 'error', status: 503, for: 2 });
    assert.equal((await deliver(sub, event('e-1'))).status, 503);
    assert.equal((await deliver(sub, event('e-1'))).status, 503);
    assert.equal((await deliver(sub, event('e-1'))).status, 200, 'after two, back to ok');

    sub.setMode({ mode: '429', retryAfterSeconds: 7, for: 1 });
    const throttled = await deliver(sub, event('e-2'));
    assert.deepEqual([throttled.status, throttled.headers.get('retry-after')], [429, '7']);
    sub.setMode({ mode: '429' });
    assert.equal((await deliver(sub, event('e-2'))).headers.get('retry-after'), null, 'no Retry-After unless given');
    assert.equal((await deliver(sub, event('e-2'))).status, 429, 'with no "for", until told otherwise');

    sub.setMode({ mode: 'refuse', status: 422 });
    assert.equal((await deliver(sub, event('e-2'))).status, 422);
    sub.setMode({ mode: 'error', status: 400 });
    assert.equal((await deliver(sub, event('e-2'))).status, 400, 'error takes a 4xx too');
    sub.setMode({ mode: 'ok' });
    assert.equal((await deliver(sub, event('e-2'))).status, 200);

    assert.deepEqual(sub.received().map((d) => d.id), ['e-1', 'e-2'], 'a failed delivery is not taken, nor counted a duplicate');
    assert.equal(sub.duplicates(), 0);
    assert.deepEqual(sub.requests().map((r) => [r.id, r.mode, r.status, r.outcome]), [
      ['e-1', 'error', 503, 'failed'], ['e-1', 'error', 503, 'failed'], ['e-1', 'ok', 200, 'accepted'],
      ['e-2', '429', 429, 'failed'], ['e-2', '429', 429, 'failed'], ['e-2', '429', 429, 'failed'],
      ['e-2', 'refuse', 422, 'failed'], ['e-2', 'error', 400, 'failed'], ['e-2', 'ok', 200, 'accepted'],
    ]);
    assert.throws(() => sub.setMode({ mode: 'refuse', status: 429 }), /a 4xx other than 408 and 429/);
    assert.throws(() => sub.setMode({ mode: 'error', status: 302 }), /4xx or 5xx/);
  });

  it('answers slowly as told: taken at once, answered after the delay; an answer the caller gave up on is lost and the redelivery a duplicate', async () => {
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET } });
    sub.setMode({ mode: 'slow', delayMs: 300, for: 2 });
    const started = Date.now();
    const slow = await deliver(sub, event('e-1'));
    assert.equal(slow.status, 200);
    assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
    // The caller's timeout is shorter than the delay: it gives up, the subscriber has the event.
    await assert.rejects(deliver(sub, event('e-2'), {}, AbortSignal.timeout(100)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sub.requests()[1].answerLost, true);
    const fast = Date.now();
    const resent = await deliver(sub, event('e-2'));
    assert.deepEqual([resent.status, resent.body.result], [200, 'duplicate']);
    assert.ok(Date.now() - fast < 250, 'after two slow answers, back to ok');
    assert.deepEqual(sub.received().map((d) => d.id), ['e-1', 'e-2']);
    assert.equal(sub.duplicates(), 1);
  });

  it('is told how to answer through its admin API, and reports its counts there', async () => {
    sub = await startSubscriber({ keys: { [KEY_ID]: SECRET }, path: '/webhooks/case-events' });
    assert.match(sub.url, /\/webhooks\/case-events$/);
    assert.deepEqual((await admin(sub, 'POST', 'mode', { mode: 'error', status: 500, for: 1 })).body, { mode: 'error', status: 500, for: 1, remaining: 1 });
    assert.equal((await deliver(sub, event('e-1'))).status, 500);
    assert.deepEqual((await admin(sub, 'POST', 'mode', { mode: '429', retryAfterSeconds: 3, for: 1 })).status, 200);
    assert.equal((await deliver(sub, event('e-1'))).headers.get('retry-after'), '3');
    assert.equal((await admin(sub, 'POST', 'mode', { mode: 'refuse', for: 1 })).status, 200);
    assert.equal((await deliver(sub, event('e-1'))).status, 400, 'refuse answers 400 by default');
    assert.equal((await admin(sub, 'POST', 'mode', { mode: 'slow', delayMs: 50, for: 1 })).status, 200);
    assert.equal((await deliver(sub, event('e-1'))).status, 200);
    assert.equal((await deliver(sub, event('e-1'))).status, 200);
    assert.equal((await deliver(sub, event('e-2'), { keyId: 'nobody' })).status, 401);

    const state = await admin(sub, 'GET', 'state');
    assert.deepEqual(state.body, {
      mode: { mode: 'ok' }, received: 6, accepted: 1, duplicates: 1, rejected: 1, invalid: 0, failed: 3,
      byMode: { ok: 2, error: 1, '429': 1, slow: 1, refuse: 1 },
    });

    for (const bad of [{ mode: 'down' }, { mode: 'slow' }, { mode: 'error', status: 200 }, { mode: '429', retryAfterSeconds: -1 }, { mode: 'error', for: 0 }, []]) {
      const a = await admin(sub, 'POST', 'mode', bad);
      assert.equal(a.status, 400, JSON.stringify(bad));
      assert.equal(a.body.type, 'urn:subscriber:problem:bad-mode');
    }
    const notJson = await fetch(`${sub.baseUrl}/_admin/mode`, { method: 'POST', body: '{mode' });
    assert.equal(notJson.status, 400);
    assert.equal((await admin(sub, 'GET', 'nothing')).status, 404);
    assert.equal((await fetch(`${sub.baseUrl}/hub/events`, { method: 'POST', body: '{}' })).status, 404, 'deliveries go to the path it was given');
    assert.equal((await fetch(sub.url)).status, 405);

    assert.deepEqual((await admin(sub, 'POST', 'reset')).body.received, 0);
    assert.deepEqual(sub.received(), []);
  });
});
