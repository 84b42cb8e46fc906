import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { RestTransport, RestOptions } from './rest';
import { validateOptions } from '../index';
import type { Intake } from '../../../../core/ports/intake';
import { HubMetrics } from '../../../../core/kernel/metrics';
import { createLogger } from '../../../../core/kernel/logger';

const SECRET = 'webhook-secret-0001';
const MAX_BODY = 4096;
const SKEW = 300;

/**
 * A hub whose store cannot be reached: whatever passes the transport's own checks is answered 503
 * with nothing applied. So a request refused by the transport (401, 413) is told apart from one it
 * let through by its status alone, and `stored` counts the requests that got as far as the store.
 */
function unreachableStore(): { intake: Intake; stored: () => number } {
  let attempts = 0;
  const down = () => Promise.reject(new Error('store unreachable'));
  const intake: Intake = {
    get dataKeys(): never { throw new Error('store unreachable'); },
    profileOf: () => { throw new Error('store unreachable'); },
    receive: () => { attempts++; return down(); },
    process: down,
    apply: down,
    recover: down,
  };
  return { intake, stored: () => attempts };
}

function sign(body: Buffer, ts: number, secret = SECRET): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-hub-key-id': 'k1',
    'x-hub-timestamp': String(ts),
    'x-hub-signature': `sha256=${createHmac('sha256', secret).update(`${ts}.`).update(body).digest('hex')}`,
  };
}

/** A batch of one event whose JSON is exactly `bytes` long. */
function batchOfSize(bytes: number): Buffer {
  const empty = JSON.stringify({ events: [{ eventId: 'e-1', pad: '' }] });
  const body = Buffer.from(JSON.stringify({ events: [{ eventId: 'e-1', pad: 'x'.repeat(bytes - empty.length) }] }));
  assert.equal(body.length, bytes);
  return body;
}

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: any }

function post(url: string, body: Buffer, headers: Record<string, string>, opts: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: opts.chunked ? headers : { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text ? JSON.parse(text) : null });
      });
    });
    req.on('error', reject);
    if (opts.chunked) {
      // Without a Content-Length the limit can only be enforced while the body streams in.
      for (let i = 0; i < body.length; i += 1000) req.write(body.subarray(i, i + 1000));
      req.end();
    } else req.end(body);
  });
}

describe('rest transport: what it refuses before anything is stored', () => {
  let server: http.Server;
  let url: string;
  let store: ReturnType<typeof unreachableStore>;
  const now = () => Math.floor(Date.now() / 1000);

  before(async () => {
    const options = { maxBodyBytes: MAX_BODY, signature: { keys: { k1: SECRET } }, batch: {} };
    validateOptions('rest', options, 'rest.test');
    store = unreachableStore();
    const adapter = { id: 'webhook-probe', name: 'probe', dir: '.', transport: { type: 'rest', options }, mapping: '', samples: '', monitoring: { quietMinutes: 60, endToEndObjectiveSeconds: 10 } };
    const transport = new RestTransport({
      adapter, intake: store.intake, leases: null as never, cursors: null as never, files: null as never,
      logger: createLogger('silent'), metrics: new HubMetrics(), config: null as never,
    }, options as unknown as RestOptions);
    const [route] = transport.httpRoutes();
    assert.equal(route.path, '/api/v1/inbound/webhook-probe');
    server = http.createServer((req, res) => { void route.handler(req, res); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${route.path}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it(`takes a signature up to ${SKEW} s old or ahead and refuses one beyond, naming the skew`, async () => {
    const body = batchOfSize(200);
    const before = store.stored();
    for (const ts of [now() - SKEW + 5, now() + SKEW - 5]) {
      const a = await post(url, body, sign(body, ts));
      assert.equal(a.status, 503, `timestamp ${ts - now()} s from now is within the window: ${JSON.stringify(a.body)}`);
      assert.equal(a.headers['retry-after'], '5');
    }
    assert.equal(store.stored(), before + 2);
    for (const ts of [now() - SKEW - 5, now() + SKEW + 5]) {
      const a = await post(url, body, sign(body, ts));
      assert.equal(a.status, 401);
      assert.match(a.headers['content-type'] ?? '', /^application\/problem\+json/);
      assert.match(a.body.type, /stale-timestamp$/);
      assert.match(a.body.detail, new RegExp(`limit ${SKEW} s`));
      assert.equal(a.body.adapter, 'webhook-probe');
    }
    assert.equal(store.stored(), before + 2, 'a stale request never reaches the store');
  });

  it('refuses a body signed with another secret, or re-signed for another time (a replay)', async () => {
    const body = batchOfSize(200);
    const before = store.stored();
    const other = await post(url, body, sign(body, now(), 'another-secret-0002'));
    assert.equal(other.status, 401);
    assert.match(other.body.type, /bad-signature$/);
    const replay = { ...sign(body, now() - 1000), 'x-hub-timestamp': String(now()) };
    const replayed = await post(url, body, replay);
    assert.equal(replayed.status, 401);
    assert.match(replayed.body.type, /bad-signature$/);
    assert.equal(store.stored(), before);
  });

  it(`takes a body of exactly maxBodyBytes and refuses one byte more with 413, declared or streamed`, async () => {
    const fits = batchOfSize(MAX_BODY);
    assert.equal((await post(url, fits, sign(fits, now()))).status, 503, 'a body at the limit gets past the size check');
    const before = store.stored();
    const over = batchOfSize(MAX_BODY + 1);
    for (const chunked of [false, true]) {
      const a = await post(url, over, sign(over, now()), { chunked });
      assert.equal(a.status, 413, `chunked: ${chunked}`);
      assert.match(a.body.type, /body-too-large$/);
      assert.match(a.body.detail, new RegExp(`${MAX_BODY} bytes`));
    }
    assert.equal(store.stored(), before, 'an oversized body never reaches the store');
  });
});
