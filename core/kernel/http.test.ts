import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendOnce } from './http';
import { freePort } from '../../test/support/servers';

// sendOnce is how the hub talks to the systems it sends to (subscribers, the SMS gateway): what it
// reports is what an operator reads as a delivery's last error.

async function listen(handler: http.RequestListener): Promise<{ url: string; server: http.Server; connections: () => number; close(): Promise<void> }> {
  const server = http.createServer(handler);
  let connections = 0;
  server.on('connection', () => { connections++; });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`, server, connections: () => connections,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

describe('sendOnce: one request to a system the hub sends to', () => {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of closers.splice(0)) await c(); });

  it('sends the method, headers and body, and reads the status, headers (any case) and the whole answer', async () => {
    let seen: { method?: string; type?: string; length?: string; body?: string } = {};
    const s = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        seen = { method: req.method, type: req.headers['content-type'], length: req.headers['content-length'], body: Buffer.concat(chunks).toString('utf8') };
        res.writeHead(429, { 'Retry-After': '7', 'Content-Type': 'text/plain' });
        res.end('slow down, 慢一点');
      });
    });
    closers.push(s.close);
    const sent = await sendOnce(`${s.url}/hook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"案":"一"}' }, { timeoutMs: 5000 });
    assert.ok(sent.ok);
    assert.equal(sent.res.status, 429);
    assert.equal(sent.res.header('retry-after'), '7');
    assert.equal(sent.res.header('Retry-After'), '7');
    assert.equal(sent.res.header('x-none'), null);
    assert.equal(sent.text, 'slow down, 慢一点');
    assert.deepEqual(seen, { method: 'POST', type: 'application/json', length: String(Buffer.byteLength('{"案":"一"}')), body: '{"案":"一"}' });
  });

  it('does not follow a redirect: the 3xx is the answer', async () => {
    const s = await listen((_req, res) => { res.writeHead(302, { Location: 'http://elsewhere.example/' }); res.end(); });
    closers.push(s.close);
    const sent = await sendOnce(s.url, { method: 'POST', headers: {}, body: 'x' }, { timeoutMs: 5000 });
    assert.ok(sent.ok);
    assert.equal(sent.res.status, 302);
    assert.equal(sent.res.header('location'), 'http://elsewhere.example/');
  });

  it('keeps the connection open for the next request to the same system', async () => {
    const s = await listen((_req, res) => res.end('ok'));
    closers.push(s.close);
    for (let i = 0; i < 5; i++) {
      const sent = await sendOnce(s.url, { method: 'POST', headers: {}, body: String(i) }, { timeoutMs: 5000 });
      assert.ok(sent.ok && sent.res.status === 200);
    }
    assert.equal(s.connections(), 1);
  });

  it('says why there is no answer: nothing listening, no answer in time, the sender stopping, not a URL', async () => {
    const refused = await sendOnce(`http://127.0.0.1:${await freePort()}/`, { method: 'POST', headers: {}, body: 'x' }, { timeoutMs: 5000 });
    assert.equal(refused.ok, false);
    assert.match((refused as { reason: string }).reason, /ECONNREFUSED/);

    const s = await listen(() => undefined); // never answers
    closers.push(s.close);
    const started = Date.now();
    const late = await sendOnce(s.url, { method: 'POST', headers: {}, body: 'x' }, { timeoutMs: 300 });
    assert.deepEqual(late, { ok: false, reason: 'no answer within 300 ms' });
    assert.ok(Date.now() - started < 3000);

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 100);
    const abandoned = await sendOnce(s.url, { method: 'POST', headers: {}, body: 'x' }, { timeoutMs: 60_000, signal: stop.signal });
    assert.deepEqual(abandoned, { ok: false, reason: 'the request was abandoned (the sender stopped)' });

    assert.deepEqual(await sendOnce('not a url', { method: 'POST', headers: {} }, { timeoutMs: 1000 }), { ok: false, reason: '"not a url" is not a URL' });
    assert.deepEqual(await sendOnce('ftp://127.0.0.1/', { method: 'POST', headers: {} }, { timeoutMs: 1000 }), { ok: false, reason: 'ftp: is not http: or https:' });
  });
});
