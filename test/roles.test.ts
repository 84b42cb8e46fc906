import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import YAML from 'yaml';
import { ADAPTERS_DIR, DEMO_CONFIG } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { PROBLEM_CONTENT_TYPE } from '../core/kernel/constants';
import configSchema from '../core/kernel/config.schema.json';
import { startHub, RunningHub, SERVICE_NAMES, ROLE_NAMES, rolesOf } from '../cli/start-hub';
import { openStore, Store } from '../services/store/open-store';
import { Inbox } from '../services/store/store';
import type { StatementObserver } from '../services/store/sql-driver';
import { startVehicleQueryService, generateChanges, VehicleQueryService } from '../infra/simulators/vehicle-office';
import type { MarketBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { createTestDatabase, requireNats, deleteStreams } from './support/servers';
import { STORES, testDataDir, storeFor, getJson, waitFor, SUPERVISOR } from './support/hub';

// Issue 15, item 6: a node runs the transports and jobs of the roles HUB_SERVICES gives it and no
// others; a route whose service no node runs answers 503 (problem+json), and readiness is false
// while such a service is missing; recovery at start claims each pending raw message, so that two
// live nodes never work on one message.

const TAX_SAMPLE = path.join(ADAPTERS_DIR, 'tax-bureau', 'samples', 'SWSX_11301000000_20261124093000_0001.xml');
const MARKET_SAMPLE = path.join(ADAPTERS_DIR, 'market-regulation', 'samples', 'batch-01.json');
/** Every service but the gateway: a query node. */
const QUERY_SERVICES = SERVICE_NAMES.filter((n) => n !== 'gateway').join(',');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The demo configuration with its folders made absolute, the given adapters only, and their transport options changed. */
function writeConfig(dir: string, adapters: Record<string, Record<string, unknown>>): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  config.adapters = config.adapters
    .filter((a: { id: string }) => a.id in adapters)
    .map((a: { id: string; dir?: string }) => ({ ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id), overrides: { transport: { options: adapters[a.id] } } }));
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

/** A market regulation batch of `n` new cases (each one SUBMITTED event), as a stored raw message's bytes. */
function marketBatch(n: number, tag: string): Buffer {
  const events: MarketEvent[] = Array.from({ length: n }, (_, i) => ({
    eventId: randomUUID(), caseNo: `SJROLE${tag}x${i}`, itemCode: 'SCJG-DJ-001', status: 'SUBMITTED', statusTime: '2026-11-25T10:00:00+08:00',
    applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241283', mobile: '15833321907' },
    officer: null, supervisionCode: null, remark: null,
  } as MarketEvent));
  const batch: MarketBatch = { batchId: `b-${tag}`, events };
  return Buffer.from(JSON.stringify(batch));
}

/** Raw messages a node stored and never processed before it stopped (its claims given up at the stop). */
async function leavePending(storeUrl: string, dataDir: string, bodies: Buffer[]): Promise<string[]> {
  const store = await openStore({ store: storeUrl, dataDir, region: '130100' });
  try {
    const ids: string[] = [];
    for (const b of bodies) ids.push((await store.inbox.put('market-regulation', b, 'application/json', {})).id);
    await store.inbox.releaseClaims();
    return ids;
  } finally {
    await store.close();
  }
}

function metricSum(text: string, name: string, labels: string): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('roles: a node runs the transports and jobs of the services HUB_SERVICES gives it, and no others', function () {
  this.timeout(180_000);
  const nodes: RunningHub[] = [];
  const drops: (() => Promise<void>)[] = [];
  let svc: VehicleQueryService | null = null;
  afterEach(async () => {
    for (const n of nodes.splice(0).reverse()) await n.stop().catch(() => undefined);
    await svc?.close();
    svc = null;
    for (const d of drops.splice(0)) await d();
  });

  it('the configuration schema names every service and role a node can run', () => {
    assert.deepEqual([...(configSchema.properties.services.items.enum as string[])].sort(), [...ROLE_NAMES].sort());
  });

  it('HUB_SERVICES takes the roles besides the services: adapters runs the transports alone, dispatch the outbound deliveries', () => {
    assert.deepEqual(rolesOf({ services: ['adapters'] }), { services: [], transports: true });
    assert.deepEqual(rolesOf({ services: ['dispatch', 'mapping'] }), { services: ['mapping', 'subscriptions'], transports: false });
    assert.deepEqual(rolesOf({ services: ['gateway'] }), { services: ['gateway'], transports: true }, 'a gateway node runs the transports, as before the roles');
    assert.deepEqual(rolesOf({ services: 'all' }), { services: SERVICE_NAMES, transports: true });
    assert.throws(() => rolesOf({ services: ['dispatcher'] }), /HUB_SERVICES names no service "dispatcher": the services are all, or some of .*adapters, dispatch/);
  });

  for (const puller of ['gateway', 'adapters']) {
    it(`a node without the gateway or adapters polls no department, takes no drop folder and recovers no raw message; a node of ${puller} on the same store does all three`, async () => {
      await pullWorkGoesTo(puller);
    });
  }

  async function pullWorkGoesTo(puller: string): Promise<void> {
    const db = await createTestDatabase();
    drops.push(db.drop);
    svc = await startVehicleQueryService({ port: 0, records: generateChanges(30, { start: '2026-11-24 08:00:00', seed: 'roles' }) });
    const dataDir = testDataDir(`roles-${puller}`, { store: 'none' });
    const hubYaml = writeConfig(dataDir, {
      'vehicle-office': { poll: { enabled: true, url: svc.url, intervalSeconds: 0.2, initialStartTime: '2026-11-24 00:00:00', maxBackoffSeconds: 1 } },
      'tax-bureau': { pollIntervalMs: 100 },
      'market-regulation': {},
    });
    const dropInbox = path.join(dataDir, 'drop', 'tax-bureau', 'inbox');
    fs.mkdirSync(dropInbox, { recursive: true });
    const name = path.basename(TAX_SAMPLE);
    fs.copyFileSync(TAX_SAMPLE, path.join(dropInbox, name));
    fs.writeFileSync(path.join(dropInbox, `${name}.ok`), '');
    const receipt = path.join(dataDir, 'drop', 'tax-bureau', 'receipts', name.replace(/\.xml$/, '.receipt.xml.ok'));
    const [pending] = await leavePending(db.url, dataDir, [fs.readFileSync(MARKET_SAMPLE)]);
    const env = { HUB_CONFIG: hubYaml, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_LOG_LEVEL: 'silent' };
    const state = async () => (await query.context.store.driver.query<{ state: string }>('SELECT state FROM inbox WHERE id = $1', [pending])).rows[0].state;

    const query = await startHub(loadConfig({ ...env, HUB_SERVICES: QUERY_SERVICES }), createLogger('silent'));
    nodes.push(query);
    assert.equal(query.url, null, 'no HTTP on a node without the gateway');
    assert.equal(query.context.adapters.size, 0, 'no department transport');
    await sleep(3000); // fifteen poll intervals of the vehicle office, thirty of the drop folder
    assert.equal(svc.requests, 0, 'the vehicle office was not polled');
    assert.ok(fs.existsSync(path.join(dropInbox, name)), 'the file still waits in the drop folder');
    assert.equal(fs.existsSync(receipt), false, 'no receipt');
    assert.equal(await state(), 'received', 'the pending raw message was left alone');

    const pulling = await startHub(loadConfig({ ...env, HUB_SERVICES: puller }), createLogger('silent'));
    nodes.push(pulling);
    if (puller === 'adapters') assert.equal(pulling.url, null, 'the adapters alone listen on no HTTP port');
    assert.deepEqual([...pulling.context.adapters.keys()].sort(), ['market-regulation', 'tax-bureau', 'vehicle-office']);
    assert.equal(await state(), 'processed', `the ${puller} node recovered the pending message at its start`);
    await waitFor(`the vehicle office polled by the ${puller} node`, () => svc!.requests > 0, 30_000);
    await waitFor(`the dropped file taken and answered by the ${puller} node`, () => fs.existsSync(receipt), 60_000);
    assert.equal(fs.existsSync(path.join(dropInbox, name)), false);
    const polled = await query.context.store.driver.query<{ n: string }>("SELECT count(*)::text AS n FROM events WHERE adapter = 'vehicle-office'");
    assert.ok(Number(polled.rows[0].n) > 0, 'the polled records applied');
  }

  it('answers 503 problem+json for a route whose service no node runs, is not ready while one is missing, and ready once a node runs it', async () => {
    await requireNats();
    const db = await createTestDatabase();
    drops.push(db.drop);
    const dataDir = testDataDir('roles-503', { store: 'none' });
    const hubYaml = writeConfig(dataDir, { 'market-regulation': {} });
    const namespace = `roles-${process.pid}-${Date.now()}`;
    drops.push(async () => { await deleteStreams(namespace); });
    const env = (services: string) => ({
      HUB_CONFIG: hubYaml, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url,
      HUB_TRANSPORTER: 'nats://127.0.0.1:4222', HUB_NAMESPACE: namespace, HUB_SERVICES: services, HUB_LOG_LEVEL: 'silent',
    });
    const gateway = await startHub(loadConfig(env('gateway')), createLogger('silent'));
    nodes.push(gateway);
    const ready = () => getJson(`${gateway.url}/health/ready`);
    const cases = () => getJson(`${gateway.url}/api/v1/cases`, SUPERVISOR);

    const notReady = await ready();
    assert.equal(notReady.status, 503);
    assert.ok(notReady.contentType.startsWith(PROBLEM_CONTENT_TYPE), notReady.contentType);
    // Every service a route calls: each but the gateway (the notifier for its dead letters).
    assert.deepEqual(notReady.body.missing, SERVICE_NAMES.filter((n) => n !== 'gateway').sort());
    const refused = await cases();
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.ok(refused.contentType.startsWith(PROBLEM_CONTENT_TYPE), refused.contentType);
    assert.match(refused.body.type, /unavailable$/);
    assert.equal(refused.body.service, 'cases');
    const publicView = await getJson(`${gateway.url}/api/v1/public/cases/130100202611250000000000`);
    assert.equal(publicView.status, 503);
    assert.equal((await getJson(`${gateway.url}/health/live`)).status, 200, 'alive all the same');

    const query = await startHub(loadConfig(env(QUERY_SERVICES)), createLogger('silent'));
    nodes.push(query);
    await waitFor('ready once a node runs every service the routes call', async () => (await ready()).status === 200, 30_000);
    assert.equal((await cases()).status, 200);

    await query.stop();
    await waitFor('not ready again once that node has stopped', async () => (await ready()).status === 503, 30_000);
    const again = await cases();
    assert.equal(again.status, 503, 'a service that left answers 503, not 404');
    assert.ok(again.contentType.startsWith(PROBLEM_CONTENT_TYPE));
  });
});

describe('recovery at start: two live nodes never work on one raw message', function () {
  this.timeout(240_000);
  const nodes: RunningHub[] = [];
  let drop: (() => Promise<void>) | null = null;
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    await drop?.();
    drop = null;
  });

  it('two nodes starting together on one PostgreSQL store process each pending message once, and both take part', async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const dataDir = testDataDir('recover-two', { store: 'none' });
    const messages = 120;
    const perMessage = 40;
    const ids = await leavePending(db.url, dataDir, Array.from({ length: messages }, (_, i) => marketBatch(perMessage, `${process.pid}x${i}`)));
    const logs: string[][] = [[], []];
    const env = { HUB_CONFIG: writeConfig(dataDir, { 'market-regulation': {} }), HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_SERVICES: 'gateway', HUB_LOG_LEVEL: 'info' };
    const started = await Promise.all(logs.map((lines) => startHub(loadConfig(env), createLogger('info', { write: (l: string) => { lines.push(l); } }))));
    nodes.push(...started);

    const entries = logs.map((lines) => lines.map((l) => JSON.parse(l)));
    const processed = entries.flat().filter((e) => e.msg === 'message processed').map((e) => e.messageId);
    assert.deepEqual([...processed].sort(), [...ids].sort(), 'every pending message processed, none twice');
    assert.deepEqual(entries.flat().filter((e) => e.level === 'error'), [], 'no node failed on a message the other had');
    const perNode = entries.map((list) => list.filter((e) => e.msg === 'message processed').length);
    assert.ok(perNode.every((n) => n > 0), `both nodes recovered some (${perNode.join(' + ')}): the claims, not luck, kept them apart`);

    const driver = started[0].context.store.driver;
    const rows = (await driver.query<{ state: string; n: string }>("SELECT state, count(*)::text AS n FROM inbox WHERE id = ANY($1) GROUP BY state", [ids])).rows;
    assert.deepEqual(rows, [{ state: 'processed', n: String(messages) }]);
    const events = await driver.query<{ n: string }>("SELECT count(*)::text AS n FROM events WHERE adapter = 'market-regulation'");
    assert.equal(Number(events.rows[0].n), messages * perMessage);
    const metrics = await Promise.all(started.map((h) => h.context.metrics.registry.metrics()));
    assert.equal(metrics.reduce((n, m) => n + metricSum(m, 'hub_inbound_messages_total', 'result="accepted"'), 0), messages * perMessage);
    assert.equal(metrics.reduce((n, m) => n + metricSum(m, 'hub_inbound_messages_total', 'result="duplicate"'), 0), 0);
  });
});

for (const kind of STORES) {
  describe(`inbox claims (${kind} store)`, function () {
    this.timeout(120_000);
    let store: Store | null = null;
    let dropDb: (() => Promise<void>) | null = null;
    afterEach(async () => {
      await store?.close();
      store = null;
      await dropDb?.();
      dropDb = null;
    });

    async function open(): Promise<Store> {
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? db.drop : null;
      store = await openStore({ store: db ? db.url : 'embedded', dataDir: testDataDir(`claims-${kind}`, storeFor(kind)), region: '130100' });
      return store;
    }

    it('hands each pending message to one claimant: not while the node that received it lives, once it stops, once a claim runs out, and at once when its holder was a process of this machine that ended', async () => {
      const s = await open();
      // Two nodes on one store.
      const a = new Inbox(s.driver, s.keys);
      const b = new Inbox(s.driver, s.keys);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await a.put('market-regulation', marketBatch(1, `claims${kind}${i}`), 'application/json', {})).id);
        // Received in distinct milliseconds, so that "oldest first" has one answer.
        await new Promise((r) => setTimeout(r, 3));
      }
      const claimedBy = async (id: string) => (await s.driver.query<{ claimed_by: string }>('SELECT claimed_by FROM inbox WHERE id = $1', [id])).rows[0].claimed_by;

      assert.deepEqual(await b.pending('market-regulation', 10), [], 'the node that received them is working on them');
      await a.releaseClaims();
      const first = await b.pending('market-regulation', 3);
      assert.deepEqual(first.map((r) => r.id), ids.slice(0, 3), 'the oldest first');
      const rest = await a.pending('market-regulation', 10);
      assert.deepEqual(rest.map((r) => r.id), ids.slice(3), 'what the other holds is not handed out again');
      assert.deepEqual(await b.pending('market-regulation', 10), []);
      assert.deepEqual(await a.pending('tax-bureau', 10), [], 'one adapter\'s messages only');

      // b died on another machine: its claims hold until they run out.
      await s.driver.query("UPDATE inbox SET claimed_host = 'another-host' WHERE id = ANY($1)", [ids.slice(0, 3)]);
      assert.deepEqual(await a.pending('market-regulation', 10), []);
      await s.driver.query("UPDATE inbox SET claimed_until = now() - interval '1 second' WHERE id = $1", [ids[0]]);
      assert.deepEqual((await a.pending('market-regulation', 10)).map((r) => r.id), [ids[0]], 'a claim that ran out is taken over');
      assert.notEqual(await claimedBy(ids[0]), await claimedBy(ids[1]));

      // A process of this machine that has ended held ids[1]: taken over at once.
      const ended = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const deadPid = Number(ended.stdout);
      assert.ok(deadPid > 0);
      await s.driver.query('UPDATE inbox SET claimed_by = $2, claimed_host = $3, claimed_pid = $4 WHERE id = $1', [ids[1], 'ended-process', os.hostname(), deadPid]);
      assert.deepEqual((await b.pending('market-regulation', 10)).map((r) => r.id), [ids[1]]);

      // A processed message is never handed out again, and is not processed a second time.
      await s.driver.query("UPDATE inbox SET claimed_until = now() - interval '1 second' WHERE id = $1", [ids[2]]);
      await a.markProcessed(ids[2], 1, []);
      assert.deepEqual(await b.pending('market-regulation', 10), []);
      await assert.rejects(b.markProcessed(ids[2], 1, []), /processed by another node/);
    });

    if (kind === 'postgres') {
      it('claims through the pending index, never a sequential scan of the inbox', async () => {
        const db = await createTestDatabase();
        dropDb = db.drop;
        const seqScans: string[] = [];
        const observe: StatementObserver = async ({ sql, params }, sameConnection) => {
          if (!/\binbox\b/.test(sql) || !/^\s*(SELECT|UPDATE|INSERT)/i.test(sql)) return;
          const r = await sameConnection(`EXPLAIN (FORMAT JSON) ${sql}`, params);
          const doc = r.rows[0]['QUERY PLAN'];
          const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
          if (/"Node Type":\s*"Seq Scan",[^}]*"Relation Name":\s*"inbox"/.test(text)) seqScans.push(sql.replace(/\s+/g, ' '));
        };
        store = await openStore({ store: db.url, dataDir: testDataDir('claims-plan', { store: 'none' }), region: '130100', observe });
        // A store some months old: many processed messages of every adapter, a few pending.
        await store.driver.query(`INSERT INTO inbox (id, adapter, received_at, body, sha256, state, processed_at)
          SELECT 'old-' || i, (ARRAY['market-regulation','vehicle-office','tax-bureau'])[1 + i % 3], now() - i * interval '1 minute', '\\x00', 'x', 'processed', now()
          FROM generate_series(1, 50000) AS i`);
        const inbox = new Inbox(store.driver, store.keys);
        for (let i = 0; i < 3; i++) await inbox.put('market-regulation', marketBatch(1, `plan${i}`), 'application/json', {});
        await inbox.releaseClaims();
        await store.driver.query('ANALYZE inbox');
        const other = new Inbox(store.driver, store.keys);
        assert.equal((await other.pending('market-regulation', 20)).length, 3);
        await other.releaseClaims();
        assert.deepEqual(seqScans, []);
      });
    }
  });
}
