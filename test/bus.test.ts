import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import pg from 'pg';
import { ServiceBroker } from 'moleculer';
import { connect as natsConnect } from 'nats';
import type { CaseEvent } from '../contracts/types';
import { validateCaseEvent } from '../contracts/validate';
import { ADAPTERS_DIR, DEMO_CONFIG } from '../core/kernel/paths';
import { CHANNELS, EVENT_TYPE, SOURCE_PREFIX } from '../core/kernel/constants';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub } from '../cli/start-hub';
import { busMiddleware } from '../services/outbox/bus';
import { postBatch, MarketCaseStream } from '../infra/simulators/market-regulation';
import { dropBatch } from '../infra/simulators/tax-bureau';
import { httpPost } from '../infra/simulators/http-post';
import { REPORT_SOAP_ACTION } from '../infra/simulators/vehicle-office';
import { STORES, startTestHub, TestHub, spawnHub, HubProcess, testDataDir, waitFor } from './support/hub';
import { createTestDatabase, requireNats, deleteStreams } from './support/servers';
import { DISPATCH_LEASE } from '../services/outbox/outbox-dispatch';

const NATS_URL = 'nats://127.0.0.1:4222';

// The three demo departments' samples, as each sends them.
const MARKET = ['batch-01.json', 'batch-02-odd-and-refused.json'].map((f) => path.join(ADAPTERS_DIR, 'market-regulation', 'samples', f));
const VEHICLE = ['01-accepted-utf8.xml', '02-supplement-requested.xml', '03-submitted-gbk.xml', '04-refused-id-check-digit.xml', '05-refused-unknown-zt.xml']
  .map((f) => path.join(ADAPTERS_DIR, 'vehicle-office', 'samples', f));
const TAX_NAME = 'SWSX_11301000000_20261124093000_0001.xml';
const TAX = path.join(ADAPTERS_DIR, 'tax-bureau', 'samples', TAX_NAME);

/** The demo configuration without the vehicle office's poller (its simulator is not running here). */
function writeConfig(dir: string): string {
  const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
  for (const a of config.adapters) {
    a.dir = path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id);
    if (a.id === 'vehicle-office') a.overrides = { transport: { options: { poll: { enabled: false } } } };
    if (a.id === 'tax-bureau') a.overrides = { transport: { options: { pollIntervalMs: 200 } } };
  }
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, YAML.stringify(config));
  return file;
}

async function sendMarket(url: string, file: string): Promise<void> {
  const r = await postBatch(`${url}/api/v1/inbound/market-regulation`, fs.readFileSync(file));
  assert.equal(r.status, 200, `${path.basename(file)}: ${JSON.stringify(r.body)}`);
}

async function sendVehicle(url: string, file: string): Promise<void> {
  const charset = file.includes('gbk') ? 'GBK' : 'utf-8';
  const r = await httpPost(`${url}/soap/vehicle-office`, fs.readFileSync(file), { 'Content-Type': `text/xml; charset=${charset}`, SOAPAction: REPORT_SOAP_ACTION });
  assert.equal(r.status, 200, `${path.basename(file)}: ${r.body.toString('utf8').slice(0, 300)}`);
}

async function dropTax(dataDir: string): Promise<void> {
  const receipts = path.join(dataDir, 'drop', 'tax-bureau', 'receipts');
  await dropBatch(path.join(dataDir, 'drop', 'tax-bureau', 'inbox'), fs.readFileSync(TAX), { name: TAX_NAME });
  await waitFor(`the receipt of ${TAX_NAME}`, () => fs.existsSync(path.join(receipts, TAX_NAME.replace(/\.xml$/, '.receipt.xml.ok'))), 60_000);
}

/** What a consumer of case.event.applied saw: every delivery, in order. */
class Received {
  readonly events: CaseEvent[] = [];
  ids(): Set<string> {
    return new Set(this.events.map((e) => e.id));
  }
  /** Ids delivered more than once (at least once allows it; the consumer keeps one). */
  duplicates(): string[] {
    const seen = new Set<string>();
    return this.events.map((e) => e.id).filter((id) => (seen.has(id) ? true : (seen.add(id), false)));
  }
  service(name = 'bus-probe') {
    const events = this.events;
    return {
      name,
      channels: {
        [CHANNELS.eventApplied]: {
          group: name,
          async handler(event: CaseEvent) { events.push(event); },
        },
      },
    };
  }
}

async function storedEventIds(query: (sql: string) => Promise<{ rows: { id: string }[] }>): Promise<Set<string>> {
  return new Set((await query('SELECT id FROM events')).rows.map((r) => r.id));
}

async function outboxDepth(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^hub_queue_depth\{queue="outbox"\} (\S+)$/m.exec(text);
  assert.ok(m, 'hub_queue_depth{queue="outbox"} is exported');
  return Number(m[1]);
}

/** Every delivery is a CloudEvents envelope as contracts/ defines it, and the event as the store keeps it. */
function assertEnvelopes(received: Received): void {
  for (const e of received.events) {
    assert.equal(validateCaseEvent(e), null, `${e.id}: ${JSON.stringify(validateCaseEvent(e))}`);
    assert.equal(e.specversion, '1.0');
    assert.equal(e.type, EVENT_TYPE);
    assert.equal(e.source, SOURCE_PREFIX + e.data.provenance.adapter);
    assert.match(e.subject!, /^130100\d{8}[0-9A-Z]{10}$/, 'the subject is the supervision code');
  }
}

/** The waiting is over once every stored event arrived and nothing waits in the outbox; then a little longer, for late duplicates. */
async function untilAllReceived(received: Received, stored: () => Promise<Set<string>>, depth: () => Promise<number>): Promise<Set<string>> {
  const ids = await waitFor('every stored event on the bus', async () => {
    const s = await stored();
    const got = received.ids();
    return s.size > 0 && [...s].every((id) => got.has(id)) && (await depth()) === 0 ? s : null;
  }, 60_000);
  await new Promise((r) => setTimeout(r, 1500));
  return ids;
}

function bySource(ids: Iterable<string>, received: Received): Map<string, number> {
  const wanted = new Set(ids);
  const out = new Map<string, number>();
  for (const e of received.events) if (wanted.has(e.id)) out.set(e.source, (out.get(e.source) ?? 0) + 1);
  return out;
}

for (const store of STORES) {
  describe(`bus: case.event.applied in process (${store} store, in-process channel)`, function () {
    this.timeout(180_000);
    let t: TestHub;
    const received = new Received();

    before(async () => {
      t = await startTestHub(store, { HUB_CONFIG: writeConfig(testDataDir('bus-config', { store: 'none' })) });
      t.hub.broker.createService(received.service());
      await new Promise((r) => setImmediate(r));
    });
    after(async () => { await t?.stop(); });

    it('delivers every applied event of the three departments\' samples, once per event id, as its CloudEvents envelope', async () => {
      for (const f of MARKET) await sendMarket(t.url, f);
      for (const f of VEHICLE) await sendVehicle(t.url, f);
      await dropTax(t.dataDir);
      const db = t.hub.context.store.driver;
      const stored = await untilAllReceived(received, () => storedEventIds((sql) => db.query(sql)), () => outboxDepth(t.url));

      assert.deepEqual(received.duplicates(), [], 'each event once');
      assert.deepEqual([...received.ids()].sort(), [...stored].sort(), 'exactly the stored events');
      const sources = bySource(stored, received);
      for (const adapter of ['market-regulation', 'vehicle-office', 'tax-bureau']) {
        assert.ok((sources.get(SOURCE_PREFIX + adapter) ?? 0) > 0, `events of ${adapter} on the bus: ${JSON.stringify([...sources])}`);
      }
      assertEnvelopes(received);
      // The stored event and the published one are the same event.
      const one = received.events[0];
      const view = (await db.query<{ supervision_code: string; status: string }>('SELECT supervision_code, status FROM events WHERE id = $1', [one.id])).rows[0];
      assert.equal(one.subject, view.supervision_code);
      assert.equal(one.data.status, view.status);
    });

    it('publishes nothing again for a re-sent message (its events are duplicates, not applied)', async () => {
      const before = received.events.length;
      await sendMarket(t.url, MARKET[0]);
      await sendVehicle(t.url, VEHICLE[0]);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await outboxDepth(t.url), 0);
      assert.equal(received.events.length, before);
    });
  });
}

describe('bus: the outbox across a SIGKILL (embedded store, hub process)', function () {
  this.timeout(180_000);
  let hub: HubProcess | null = null;
  after(async () => { await hub?.stop(); });

  // An embedded hub's consumers live in its own process, so from outside the outbox's depth is what shows the publish.
  it('keeps events committed before the kill in the outbox and dispatches them after the restart', async () => {
    const dataDir = testDataDir('bus-embedded-kill');
    const env = (dispatch: string) => ({ HUB_CONFIG: writeConfig(dataDir), HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_OUTBOX_DISPATCH: dispatch });
    hub = await spawnHub(env('off'));
    await sendMarket(hub.url, MARKET[0]);
    assert.equal(await outboxDepth(hub.url), 3, 'committed and waiting in the outbox');
    assert.equal(await hub.stop('SIGKILL'), -1);
    hub = await spawnHub(env('on'));
    await waitFor('the outbox published after the restart', async () => (await outboxDepth(hub!.url)) === 0, 30_000);
    const again = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, fs.readFileSync(MARKET[0]));
    assert.deepEqual((again.body as any).results.map((x: any) => x.result), ['duplicate', 'duplicate', 'duplicate'], 'the events themselves were kept');
  });
});

describe('bus: a hub stopped while a consumer keeps failing (embedded store)', function () {
  this.timeout(120_000);

  it('stops within seconds instead of waiting out the consumer\'s retries, and keeps the events it could not hand over in the outbox', async () => {
    const dataDir = testDataDir('bus-stop-failing');
    const env = (dispatch: string) => loadConfig({
      HUB_CONFIG: writeConfig(dataDir), HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'silent', HUB_OUTBOX_DISPATCH: dispatch,
    });
    let hub = await startHub(env('on'), createLogger('silent'));
    let attempts = 0;
    try {
      // A consumer whose downstream is down: every message fails, and the bus retries it after 1, 2, 4, 8 and 16 s.
      hub.broker.createService({
        name: 'failing-probe',
        channels: { [CHANNELS.eventApplied]: { group: 'failing-probe', async handler() { attempts++; throw new Error('the probe\'s downstream is down'); } } },
      });
      await new Promise((r) => setImmediate(r));
      await sendMarket(hub.url!, MARKET[0]);
      await waitFor('the consumer failed and waits to retry', () => attempts >= 1, 30_000);
    } catch (err) {
      await hub.stop();
      throw err;
    }
    const stopAt = Date.now();
    await hub.stop();
    const took = Date.now() - stopAt;
    assert.ok(took < 10_000, `stopped after ${took} ms: the retries alone would have waited 31 s`);
    const attemptsAtStop = attempts;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(attempts, attemptsAtStop, 'no attempt after the stop');

    // What the stopped hub's dispatcher could not hand over is still in the outbox for its next start.
    hub = await startHub(env('off'), createLogger('silent'));
    try {
      assert.ok((await outboxDepth(hub.url!)) >= 1, 'the events the consumer had not taken are still in the outbox');
    } finally {
      await hub.stop();
    }
  });
});

/** A broker of its own in the test process: a consumer on the hub's NATS, in its namespace, with the hub's bus settings. */
async function startConsumer(namespace: string, configFile: string, received: Received): Promise<ServiceBroker> {
  const config = loadConfig({ HUB_CONFIG: configFile, HUB_TRANSPORTER: NATS_URL, HUB_NAMESPACE: namespace });
  const broker = new ServiceBroker({
    nodeID: `bus-consumer-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    namespace, transporter: NATS_URL, logger: false,
    middlewares: [busMiddleware(config)],
  });
  broker.createService(received.service());
  await broker.start();
  return broker;
}


async function streamConfigOf(name: string) {
  const nc = await natsConnect({ servers: '127.0.0.1:4222' });
  try {
    return (await (await nc.jetstreamManager()).streams.info(name)).config;
  } finally {
    await nc.close();
  }
}

describe('bus: case.event.applied on NATS JetStream (PostgreSQL store, hub processes)', function () {
  this.timeout(240_000);
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c().catch((err) => console.error('cleanup:', err));
    cleanup.length = 0;
  });

  async function setUp(label: string) {
    await requireNats();
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const namespace = `bus-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    cleanup.push(() => deleteStreams(namespace));
    const configFile = writeConfig(testDataDir(`bus-${label}-config`, { store: 'none' }));
    const received = new Received();
    const consumer = await startConsumer(namespace, configFile, received);
    cleanup.push(() => consumer.stop());
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    cleanup.push(() => pool.end());
    const query = (sql: string) => pool.query(sql) as Promise<{ rows: any[] }>;
    const env = (dataDir: string, dispatch: 'on' | 'off') => ({
      HUB_CONFIG: configFile, HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_TRANSPORTER: NATS_URL, HUB_NAMESPACE: namespace, HUB_OUTBOX_DISPATCH: dispatch,
    });
    const spawn = async (dataDir: string, dispatch: 'on' | 'off') => {
      const h = await spawnHub(env(dataDir, dispatch));
      cleanup.push(() => h.stop());
      return h;
    };
    return { namespace, received, query, spawn };
  }

  it('keeps an event committed before a SIGKILL and publishes it after the restart: none lost', async () => {
    const { namespace, received, query, spawn } = await setUp('kill');
    const dataDir = testDataDir('bus-kill');
    let hub: HubProcess = await spawn(dataDir, 'off');
    await sendMarket(hub.url, MARKET[0]);
    const committed = await storedEventIds(query);
    assert.equal(committed.size, 3, 'the sample batch applied');
    assert.equal(await outboxDepth(hub.url), 3, 'committed and waiting in the outbox');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(received.events.length, 0, 'nothing published while dispatch is off');

    assert.equal(await hub.stop('SIGKILL'), -1);
    assert.equal(Number((await query('SELECT count(*)::int AS n FROM outbox')).rows[0].n), 3, 'the outbox survived the kill');

    hub = await spawn(dataDir, 'on');
    const stored = await untilAllReceived(received, () => storedEventIds(query), () => outboxDepth(hub.url));
    assert.deepEqual([...stored].sort(), [...committed].sort());
    assert.deepEqual([...received.ids()].sort(), [...committed].sort(), 'every committed event published, none lost');
    assert.deepEqual(received.duplicates(), []);
    assertEnvelopes(received);

    // The stream keeps messages within limits, not forever.
    const config = await streamConfigOf(`${namespace}_case_event_applied`);
    assert.equal(config.retention, 'limits');
    assert.ok(config.max_age > 0, `max_age ${config.max_age}`);
    assert.ok(config.max_bytes > 0, `max_bytes ${config.max_bytes}`);
  });

  it('on two hub nodes sharing PostgreSQL and NATS: every stored event received, once per id after the consumer\'s deduplication, also after the dispatching node is killed', async () => {
    const { received, query, spawn } = await setUp('two');
    // One data folder for both, as a cluster shares its drop folders: one node at a time watches them.
    const shared = testDataDir('bus-nodes');
    const [a, b] = await Promise.all([spawn(shared, 'on'), spawn(shared, 'on')]);
    await Promise.all([
      (async () => { await sendMarket(a.url, MARKET[0]); for (const f of VEHICLE.slice(0, 2)) await sendVehicle(a.url, f); })(),
      (async () => { await sendMarket(b.url, MARKET[1]); for (const f of VEHICLE.slice(2)) await sendVehicle(b.url, f); })(),
      dropTax(shared),
    ]);
    const stored = await untilAllReceived(received, () => storedEventIds(query), async () => Math.max(await outboxDepth(a.url), await outboxDepth(b.url)));
    assert.deepEqual([...received.ids()].sort(), [...stored].sort(), 'exactly the stored events');
    const sources = bySource(stored, received);
    for (const adapter of ['market-regulation', 'vehicle-office', 'tax-bureau']) assert.ok((sources.get(SOURCE_PREFIX + adapter) ?? 0) > 0, `events of ${adapter}`);
    assertEnvelopes(received);
    let dupes = received.duplicates();
    console.log(`      two nodes: ${stored.size} events stored, ${received.events.length} deliveries, ${dupes.length} duplicate(s)${dupes.length ? `: ${dupes.join(', ')}` : ''}`);

    // The node that dispatches is killed: the other takes the lease over and publishes what comes next.
    const owner: string = (await query(`SELECT owner FROM job_leases WHERE name = '${DISPATCH_LEASE}'`)).rows[0].owner;
    const [holder, other] = owner.split('/')[1] === String(a.proc.pid) ? [a, b] : [b, a];
    assert.ok(owner.split('/')[1] === String(holder.proc.pid), `the lease is held by one of the two nodes: ${owner}`);
    assert.equal(await holder.stop('SIGKILL'), -1);
    const more = new MarketCaseStream({ seed: process.pid }).nextBatch(12);
    const r = await postBatch(`${other.url}/api/v1/inbound/market-regulation`, more);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const all = await untilAllReceived(received, () => storedEventIds(query), () => outboxDepth(other.url));
    assert.ok(all.size > stored.size, `new events were applied after the kill: ${stored.size} → ${all.size}`);
    assert.deepEqual([...received.ids()].sort(), [...all].sort(), 'every stored event, none lost');
    dupes = received.duplicates();
    console.log(`      after the dispatching node was killed: ${all.size} events stored, ${received.events.length} deliveries, ${dupes.length} duplicate(s)`);
  });
});
