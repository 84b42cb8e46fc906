import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readLimitedBody, discardBody, LimitedBody } from './request-body';

const LIMIT = 1000;
const LINGER = { ms: 300, bytes: 64 * 1024 };

interface Seen { result?: LimitedBody; error?: string }

/** A server that reads up to LIMIT bytes and answers 413 at once to anything larger, then leaves the rest. */
async function server(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const s = http.createServer((req, res) => {
    const entry: Seen = {};
    seen.push(entry);
    readLimitedBody(req, LIMIT).then((r) => {
      entry.result = r;
      if (!r.ok) {
        discardBody(req, LINGER);
        res.writeHead(413, { 'Content-Type': 'text/plain' }).end('too large');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(String(r.body.length));
    }, (err) => { entry.error = (err as Error).message; });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/`,
    seen,
    close: () => { s.closeAllConnections(); return new Promise((r) => s.close(() => r())); },
  };
}

/**
 * Sends the headers and a first chunk, then keeps writing (a body that never ends: `chunk` bytes
 * every `everyMs`) until the connection is closed; resolves with the answer's status and when the
 * connection closed. The client asks for keep-alive: the connection is closed by the other side.
 */
function endless(url: string, headers: Record<string, string>, chunkBytes: number, everyMs: number): Promise<{ status: number; answeredMs: number; closedMs: number }> {
  const t0 = Date.now();
  const agent = new http.Agent({ keepAlive: true });
  return new Promise<{ status: number; answeredMs: number; closedMs: number }>((resolve, reject) => {
    let status = 0;
    let answeredMs = -1;
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      status = res.statusCode!;
      answeredMs = Date.now() - t0;
      res.resume();
    });
    const chunk = Buffer.alloc(chunkBytes, 0x20);
    const timer = setInterval(() => { if (!req.destroyed) req.write(chunk); }, everyMs);
    req.on('error', () => undefined);
    req.on('close', () => {
      clearInterval(timer);
      if (answeredMs < 0) reject(new Error('closed before any answer'));
      else resolve({ status, answeredMs, closedMs: Date.now() - t0 });
    });
    req.flushHeaders();
    req.write(chunk);
    setTimeout(() => { req.destroy(); }, 10_000).unref();
  }).finally(() => agent.destroy());
}

describe('request-body: reading within a limit, and leaving a body the hub will not read', () => {
  let s: Awaited<ReturnType<typeof server>>;
  before(async () => { s = await server(); });
  after(() => s.close());

  it('reads a body up to the limit, exactly', async () => {
    for (const n of [0, LIMIT]) {
      const r = await fetch(s.url, { method: 'POST', body: Buffer.alloc(n, 0x61) });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), String(n));
    }
  });

  it('refuses a larger Content-Length before reading a byte, and closes the connection once the rest passes the linger\'s bytes', async () => {
    const a = await endless(s.url, { 'Content-Length': String(64 * 1024 * 1024) }, 16 * 1024, 5);
    assert.equal(a.status, 413);
    assert.ok(a.answeredMs < 1000, `answered after ${a.answeredMs} ms`);
    assert.deepEqual(s.seen.at(-1)!.result, { ok: false, declared: 64 * 1024 * 1024 });
    assert.ok(a.closedMs < LINGER.ms, `closed after ${a.closedMs} ms, before the linger's time: by its bytes`);
  });

  it('stops reading a chunked body at the limit, and closes a connection whose body trickles on once the linger\'s time is up', async () => {
    const a = await endless(s.url, { 'Transfer-Encoding': 'chunked' }, 100, 20);
    assert.equal(a.status, 413);
    assert.deepEqual(s.seen.at(-1)!.result, { ok: false, declared: null });
    assert.ok(a.closedMs - a.answeredMs >= LINGER.ms - 50 && a.closedMs - a.answeredMs < LINGER.ms + 1000, `closed ${a.closedMs - a.answeredMs} ms after the answer`);
  });

  it('keeps the connection of a refused body that ends within the linger, so that it can be used again', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const post = (body: Buffer) => new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = http.request(s.url, { method: 'POST', agent, headers: { 'Content-Length': String(body.length) } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
      assert.equal((await post(Buffer.alloc(LIMIT * 20, 0x20))).status, 413);
      const next = await post(Buffer.alloc(10, 0x20));
      assert.equal(next.status, 200);
      assert.equal(next.reused, true, 'the second request went over the same connection');
    } finally {
      agent.destroy();
    }
  });
});
