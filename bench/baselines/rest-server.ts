// The REST scenarios' baseline (bench/scenarios/rest.ts): a bare node:http server that takes
// market-regulation's signed batches as the hub's webhook does, with nothing else. It checks the
// same signature (X-Hub-Key-Id, X-Hub-Timestamp within 300 s, X-Hub-Signature = "sha256=" + hex
// HMAC-SHA256 of `<timestamp>.<raw body>`, compared in constant time), parses the JSON, validates it
// with ajv against a schema of the batch, and stores it in one transaction: the raw request into
// an inbox table, its events into an events table (ON CONFLICT DO NOTHING). It answers each event
// accepted or duplicate, as the hub does.
//
// REST_BASELINE_STORE is a postgres:// URL (pg, a pool of 10, the hub's default) or pglite:<dir>
// (PGlite in this process, as the embedded hub runs it). It listens on a free port of 127.0.0.1 and
// tells its parent the port (IPC), or prints its URL when run by hand.
//
// GET /events/<eventId> answers 200 once that event is stored (the latency scenario reads it), and
// GET /count the events stored.

import http from 'node:http';
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import Ajv from 'ajv';
import pg from 'pg';

const PATH = '/api/v1/inbound/market-regulation';
const KEYS: Record<string, string> = { 'scjg-demo': 'scjg-demo-secret-2026' };
const MAX_SKEW_SECONDS = 300;
const MAX_BODY_BYTES = 5 * 1024 * 1024;

const STATUSES = ['SUBMITTED', 'ACCEPTED', 'NOT_ACCEPTED', 'IN_REVIEW', 'NEED_MORE_INFO', 'INFO_PROVIDED', 'ON_HOLD', 'RESUMED', 'APPROVED', 'REJECTED', 'DONE', 'CERT_ISSUED', 'CANCELLED'];
const nullableString = { type: ['string', 'null'] };
/** A batch as departments/market-regulation/SPEC.md describes it. */
const BATCH_SCHEMA = {
  type: 'object',
  required: ['batchId', 'events'],
  properties: {
    batchId: { type: 'string', minLength: 1 },
    events: {
      type: 'array', minItems: 1, maxItems: 500,
      items: {
        type: 'object',
        required: ['eventId', 'caseNo', 'itemCode', 'status', 'statusTime', 'applicant'],
        properties: {
          eventId: { type: 'string', minLength: 1, maxLength: 64 },
          caseNo: { type: 'string', minLength: 1, maxLength: 64 },
          itemCode: { type: 'string', pattern: '^SCJG-[A-Z]{2}-\\d{3}$' },
          status: { enum: STATUSES },
          statusTime: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$' },
          applicant: {
            type: 'object',
            required: ['type', 'name', 'mobile'],
            properties: {
              type: { enum: ['PERSON', 'ENTERPRISE'] },
              name: { type: 'string', minLength: 1 },
              idNumber: { type: 'string', pattern: '^\\d{17}[\\dX]$' },
              creditCode: { type: 'string', pattern: '^[0-9A-HJ-NPQRTUWXY]{18}$' },
              mobile: { type: 'string', pattern: '^1\\d{10}$' },
            },
          },
          officer: nullableString,
          supervisionCode: nullableString,
          remark: nullableString,
        },
      },
    },
  },
};

const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS inbox (
  id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now(), headers jsonb NOT NULL, body bytea NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id text PRIMARY KEY, inbox_id text NOT NULL, case_no text NOT NULL, status text NOT NULL,
  status_time timestamptz NOT NULL, body jsonb NOT NULL);`;
const INSERT_INBOX = 'INSERT INTO inbox (id, headers, body) VALUES ($1, $2, $3)';
// The events straight from the body's JSON: one statement however many there are.
const INSERT_EVENTS = `INSERT INTO events (id, inbox_id, case_no, status, status_time, body)
  SELECT e->>'eventId', $1, e->>'caseNo', e->>'status', (e->>'statusTime')::timestamptz, e
  FROM jsonb_array_elements($2::jsonb->'events') AS e
  ON CONFLICT DO NOTHING RETURNING id`;

/** One transaction at a time on a connection of its own. */
interface Store {
  transaction<T>(fn: (q: (sql: string, params: unknown[]) => Promise<{ rows: any[] }>) => Promise<T>): Promise<T>;
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
  close(): Promise<void>;
}

async function openStore(spec: string): Promise<Store> {
  if (spec.startsWith('postgres://') || spec.startsWith('postgresql://')) {
    const pool = new pg.Pool({ connectionString: spec, max: 10 });
    await pool.query(SCHEMA_SQL);
    return {
      async transaction(fn) {
        const c = await pool.connect();
        try {
          await c.query('BEGIN');
          const out = await fn((sql, params) => c.query(sql, params));
          await c.query('COMMIT');
          return out;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          c.release();
        }
      },
      query: (sql, params) => pool.query(sql, params),
      close: () => pool.end(),
    };
  }
  if (spec.startsWith('pglite:')) {
    const { PGlite } = await import('@electric-sql/pglite');
    // The embedded hub's one setting beyond PGlite's own (services/store/pglite-driver.ts).
    const db = await PGlite.create(spec.slice('pglite:'.length), { startParams: [...PGlite.defaultStartParams, '-c', 'wal_init_zero=off'] });
    await db.exec(SCHEMA_SQL);
    return {
      transaction: (fn) => db.transaction((tx) => fn((sql, params) => tx.query(sql, params))),
      query: (sql, params) => db.query(sql, params),
      close: () => db.close(),
    };
  }
  throw new Error(`REST_BASELINE_STORE must be a postgres:// URL or pglite:<dir>, not ${JSON.stringify(spec)}`);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) { resolve(null); req.resume(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const spec = process.env.REST_BASELINE_STORE;
  if (!spec) throw new Error('REST_BASELINE_STORE is not set (a postgres:// URL or pglite:<dir>)');
  const store = await openStore(spec);
  const validate = new Ajv({ allErrors: false }).compile(BATCH_SCHEMA);

  async function inbound(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const keyId = header(req, 'x-hub-key-id');
    const timestamp = header(req, 'x-hub-timestamp');
    const signature = header(req, 'x-hub-signature');
    const secret = keyId && Object.prototype.hasOwnProperty.call(KEYS, keyId) ? KEYS[keyId] : undefined;
    if (!secret || !timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) {
      req.resume();
      return send(res, 401, { error: 'not authenticated' });
    }
    const body = await readBody(req);
    if (!body) return send(res, 413, { error: 'body too large' });
    const expected = Buffer.from('sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex'));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return send(res, 401, { error: 'signature does not match the body' });
    let batch: { events: { eventId: string }[] };
    try {
      batch = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return send(res, 400, { error: `not JSON: ${(err as Error).message}` });
    }
    if (!validate(batch)) return send(res, 400, { error: 'not a batch', details: validate.errors });
    const text = body.toString('utf8');
    const inboxId = randomUUID();
    const stored = await store.transaction(async (q) => {
      await q(INSERT_INBOX, [inboxId, JSON.stringify({ 'x-hub-key-id': keyId, 'x-hub-timestamp': timestamp }), body]);
      return new Set((await q(INSERT_EVENTS, [inboxId, text])).rows.map((r: { id: string }) => r.id));
    });
    send(res, 200, { results: batch.events.map((e) => ({ eventId: e.eventId, result: stored.has(e.eventId) ? 'accepted' : 'duplicate' })) });
  }

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    let handled: Promise<void>;
    if (req.method === 'POST' && url === PATH) handled = inbound(req, res);
    else if (req.method === 'GET' && url.startsWith('/events/')) {
      handled = store.query('SELECT 1 FROM events WHERE id = $1', [decodeURIComponent(url.slice('/events/'.length))])
        .then((r) => send(res, r.rows.length ? 200 : 404, { stored: r.rows.length > 0 }));
    } else if (req.method === 'GET' && url === '/count') {
      handled = store.query('SELECT count(*)::int AS n FROM events').then((r) => send(res, 200, { events: Number(r.rows[0].n) }));
    } else {
      req.resume();
      handled = Promise.resolve(send(res, 404, { error: `no route ${req.method} ${url}` }));
    }
    handled.catch((err: Error) => {
      if (!res.headersSent) send(res, 503, { error: err.message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const stop = () => server.close(() => store.close().finally(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (process.send) process.send({ port });
  else process.stdout.write(`rest baseline on http://127.0.0.1:${port}${PATH} (${spec.split(':')[0]})\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`rest baseline: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
