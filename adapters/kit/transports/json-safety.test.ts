import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { jsonDepth, MAX_JSON_DEPTH } from './json-safety';
import { RestTransport, RestOptions } from './rest/rest';
import { validateOptions } from './index';
import type { Intake } from '../../../core/ports/intake';
import { HubMetrics } from '../../../core/kernel/metrics';
import { createLogger } from '../../../core/kernel/logger';

const nested = (depth: number, inner = '1') => `${'['.repeat(depth)}${inner}${']'.repeat(depth)}`;

describe('jsonDepth: how deep JSON nests, read without parsing it', () => {
  it('counts arrays and objects, and not the brackets inside strings', () => {
    assert.equal(jsonDepth(Buffer.from('1')), 0);
    assert.equal(jsonDepth(Buffer.from('{"events":[{"eventId":"e-1","applicant":{"name":"x"}}]}')), 4);
    assert.equal(jsonDepth(Buffer.from(nested(70))), 70);
    assert.equal(jsonDepth(Buffer.from(JSON.stringify({ a: '[[[{{{', b: 'a \\"[[[ "' }))), 1);
    assert.equal(jsonDepth(Buffer.from(JSON.stringify(['石家庄[', { x: ['\\'] }]))), 3);
  });

  it('stops counting past the limit', () => {
    assert.equal(jsonDepth(Buffer.from(nested(100_000)), MAX_JSON_DEPTH), MAX_JSON_DEPTH + 1);
  });
});

describe('rest transport: a body nested deeper than any department message', () => {
  // An event nested 5000 levels deep (a 10 kB body) was stored, then failed where the hub writes
  // it back out with JSON.stringify (the answer echoing its id, the dead letter keeping it): the
  // department was answered 503, and again on every retry of the same batch.
  const SECRET = 'webhook-secret-0001';
  let server: http.Server;
  let url: string;
  let stored = 0;

  before(async () => {
    const options = { maxBodyBytes: 1 << 20, signature: { keys: { k1: SECRET } }, batch: {} };
    validateOptions('rest', options, 'json-safety.test');
    const down = () => Promise.reject(new Error('store unreachable'));
    const intake = { profileOf: () => { throw new Error('no profile'); }, receive: () => { stored++; return down(); }, process: down, apply: down, recover: down } as unknown as Intake;
    const adapter = { id: 'webhook-probe', name: 'probe', dir: '.', transport: { type: 'rest', options }, mapping: '', samples: '', monitoring: { quietMinutes: 60, endToEndObjectiveSeconds: 10 } };
    const transport = new RestTransport({
      adapter, intake, leases: null as never, cursors: null as never, files: null as never, logger: createLogger('silent'), metrics: new HubMetrics(), config: null as never,
    }, options as unknown as RestOptions);
    const [route] = transport.httpRoutes();
    server = http.createServer((req, res) => { void route.handler(req, res); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${route.path}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const post = (body: Buffer): Promise<{ status: number; body: any }> => new Promise((resolve, reject) => {
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json', 'content-length': String(body.length), 'x-hub-key-id': 'k1', 'x-hub-timestamp': String(ts),
      'x-hub-signature': `sha256=${createHmac('sha256', SECRET).update(`${ts}.`).update(body).digest('hex')}`,
    };
    const req = http.request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const batch = (eventId: string) => Buffer.from(`{"events":[{"eventId":${eventId},"caseNo":"SJ1"}]}`);

  it('is refused with 400 too-deep before anything is stored', async () => {
    const before = stored;
    for (const depth of [5000, MAX_JSON_DEPTH - 2]) {
      const a = await post(batch(nested(depth)));
      assert.equal(a.status, 400, JSON.stringify(a.body));
      assert.match(a.body.type, /too-deep$/);
      assert.match(a.body.detail, /64 levels/);
    }
    assert.equal(stored, before);
  });

  it('and one nested 64 levels deep reaches the store', async () => {
    const before = stored;
    const a = await post(batch(nested(MAX_JSON_DEPTH - 3)));
    assert.equal(a.status, 503, JSON.stringify(a.body));
    assert.equal(stored, before + 1);
  });
});
