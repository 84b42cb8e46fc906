import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import { ServiceBroker } from 'moleculer';
import { connect as natsConnect } from 'nats';
import type { CaseEvent } from '../contracts/types';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { CHANNELS } from '../core/kernel/constants';
import { createLogger } from '../core/kernel/logger';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';
import { startHub, SERVICE_NAMES } from '../cli/start-hub';
import { busMiddleware } from '../services/outbox/bus';
import { eventId } from '../adapters/kit/mapping/event-id';
import { postBatch, MarketBatch, MarketEvent } from '../infra/simulators/market-regulation';
import { createTestDatabase, deleteStreams } from './support/servers';
import { testDataDir, getJson, waitFor, readyWith } from './support/hub';
import { freePort, startNats, kill, running } from './support/nats';

// Cluster issue: NATS is restarted while departments keep sending. The hub's promise is the outbox's
// (README, "The bus"): an applied event stays in the outbox until its publish resolved, and is
// published again after a refusal, with its event id as JetStream's msgID, so that the stream drops
// a re-publish within its duplicate window (2 min). Delivery to a consumer group is at least once:
// a consumer keeps what it has seen by id. So the test holds the hub to this: once NATS is back,
// the probe consumer has every stored event and nothing else, and after its de-duplication by id
// each exactly once; how many ids were delivered more than once is measured and reported.

const ADAPTER = 'market-regulation';
/** Events per posted batch, and how often a batch is posted: a steady stream of 200 events a second. */
const PER_BATCH = 20;
const EVERY_MS = 100;

type Phase = 'before' | 'down' | 'after';

/** One batch the department sent, with what the hub answered to each attempt (0: no answer at all). */
interface SentBatch {
  batch: MarketBatch;
  phase: Phase;
  statuses: number[];
  /** The hub's event ids of the batch's events, by the result the hub answered for them (when it answered 200). */
  results: Map<string, string>;
}

/** The market-regulation system: new cases, a batch at a time, every event with an id of its own. */
class MarketDepartment {
  readonly sent: SentBatch[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private seq = 0;
  private stopped = false;
  private loop: Promise<void> | null = null;
  phase: Phase = 'before';

  constructor(private readonly url: string, private readonly tag: string) {}

  /** Posts a new batch every EVERY_MS, whatever became of the last one (a department does not wait for the hub). */
  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const b: SentBatch = { batch: this.nextBatch(), phase: this.phase, statuses: [], results: new Map() };
        this.sent.push(b);
        const p = this.post(b).finally(() => this.inFlight.delete(p));
        this.inFlight.add(p);
        await new Promise((r) => setTimeout(r, EVERY_MS));
      }
    })();
  }

  /** Stops posting and waits for the answers still outstanding. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all([...this.inFlight]);
  }

  /** Sends a batch that was not answered 200 again, as the department's retry would, until it is (or attempts run out). */
  async retryRefused(attempts: number): Promise<void> {
    for (const b of this.sent.filter((x) => x.statuses.at(-1) !== 200)) {
      for (let i = 0; i < attempts && b.statuses.at(-1) !== 200; i++) {
        if (i) await new Promise((r) => setTimeout(r, 1000));
        await this.post(b);
      }
    }
  }

  private nextBatch(): MarketBatch {
    const n = this.seq++;
    const events = Array.from({ length: PER_BATCH }, (_, i): MarketEvent => ({
      eventId: randomUUID(), caseNo: `SJNATS${this.tag}x${n}x${i}`, itemCode: 'SCJG-DJ-001', status: 'SUBMITTED', statusTime: '2026-11-25T10:00:00+08:00',
      applicant: { type: 'PERSON', name: '刘芳', idNumber: '130105197806241283', mobile: '15833321907' },
      officer: null, supervisionCode: null, remark: null,
    }));
    return { batchId: `b-${this.tag}-${n}`, events };
  }

  private async post(b: SentBatch): Promise<void> {
    try {
      const r = await postBatch(`${this.url}/api/v1/inbound/${ADAPTER}`, b.batch);
      b.statuses.push(r.status);
      if (r.status !== 200) return;
      for (const x of (r.body as { results: { eventId: string; result: string }[] }).results) {
        b.results.set(eventId(ADAPTER, [x.eventId]), x.result);
      }
    } catch {
      // No answer at all (the connection failed): the department does not know, and sends it again.
      b.statuses.push(0);
    }
  }
}

/** What the probe consumer received: how many times each event id was delivered to it. */
class Deliveries {
  readonly counts = new Map<string, number>();
  /** When each id was first delivered (ms since the epoch). */
  readonly firstAt = new Map<string, number>();
  total = 0;
  ids(): Set<string> {
    return new Set(this.counts.keys());
  }
  /** Ids delivered more than once (at least once allows it; the consumer keeps one). */
  repeated(): string[] {
    return [...this.counts].filter(([, n]) => n > 1).map(([id]) => id);
  }
  service(name: string) {
    const deliveries = this;
    return {
      name,
      channels: {
        [CHANNELS.eventApplied]: {
          group: name,
          async handler(event: CaseEvent) {
            deliveries.total++;
            deliveries.counts.set(event.id, (deliveries.counts.get(event.id) ?? 0) + 1);
            if (!deliveries.firstAt.has(event.id)) deliveries.firstAt.set(event.id, Date.now());
          },
        },
      },
    };
  }
}

/** A broker of its own in the test process: a consumer on the hub's NATS, in its namespace, with the hub's bus settings (as test/bus.test.ts builds it). */
async function startProbe(natsUrl: string, namespace: string, deliveries: Deliveries): Promise<ServiceBroker> {
  const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_TRANSPORTER: natsUrl, HUB_NAMESPACE: namespace });
  const broker = new ServiceBroker({
    nodeID: `bus-probe-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    namespace, transporter: natsUrl, logger: false,
    middlewares: [busMiddleware(config)],
  });
  broker.createService(deliveries.service('nats-restart-probe'));
  await broker.start();
  return broker;
}


/** How many messages a stream of the private server holds. */
async function streamMessages(port: number, stream: string): Promise<number> {
  const nc = await natsConnect({ servers: `127.0.0.1:${port}` });
  try {
    return (await (await nc.jetstreamManager()).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('NATS restarted in the middle of the stream (two hub nodes, PostgreSQL, a private nats-server)', function () {
  this.timeout(180_000);
  const cleanup: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch((err) => console.error('cleanup:', err));
    cleanup.length = 0;
  });

  it('loses no event and publishes none twice once NATS is back (each id once after the consumer\'s de-duplication), and the gateway is not ready while it is down', async () => {
    // A NATS server of this test alone: the shared one on 4222 carries every other cluster test.
    const port = await freePort();
    const natsUrl = `nats://127.0.0.1:${port}`;
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-nats-restart-'));
    cleanup.push(async () => fs.rmSync(storeDir, { recursive: true, force: true }));
    let nats: ChildProcess | null = await startNats(port, storeDir);
    cleanup.push(() => kill(nats));
    const namespace = `nats-restart-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    cleanup.push(() => deleteStreams(namespace, port));
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const pool = new pg.Pool({ connectionString: db.url, max: 2 });
    cleanup.push(() => pool.end());
    const storedIds = async () => new Set((await pool.query<{ id: string }>('SELECT id FROM events')).rows.map((r) => r.id));
    const outboxDepth = async () => Number((await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0].n);

    // Every node of a hub has the same data keys; each its own data folder.
    const dataDir = (label: string) => {
      const dir = testDataDir(`nats-restart-${label}`, { store: 'none' });
      cleanup.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
      return dir;
    };
    const keyFile = path.join(dataDir('keys'), 'data-keys.json');
    writeKeyFile(keyFile, withNewKey(null));
    const env = (label: string, services: string) => loadConfig({
      HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir(label), HUB_DATA_KEY_FILE: keyFile, HUB_STORE: db.url,
      HUB_TRANSPORTER: natsUrl, HUB_NAMESPACE: namespace, HUB_SERVICES: services, HUB_POLLING_OFF: 'all', HUB_LOG_LEVEL: 'silent',
    });
    // The webhook's path is the gateway's own (raw message, mapping, case store: all on the node's
    // store connection); the other node runs everything else, the bus's other consumer groups among them.
    const rest = await startHub(env('rest', SERVICE_NAMES.filter((s) => s !== 'gateway').join(',')), createLogger('silent'));
    cleanup.push(() => rest.stop());
    const gateway = await startHub(env('gateway', 'gateway'), createLogger('silent'));
    cleanup.push(() => gateway.stop());
    // The probe subscribes before the first event is published: a new consumer group starts with what comes after it.
    const deliveries = new Deliveries();
    const probe = await startProbe(natsUrl, namespace, deliveries);
    cleanup.push(() => probe.stop());
    // Should the test fail while NATS is down, the nodes and the probe stop against a running server
    // (their NATS clients reconnect for ever, and would otherwise drain against nothing).
    cleanup.push(async () => { if (!running(nats)) nats = await startNats(port, storeDir); });
    const url = gateway.url!;
    assert.deepEqual((await readyWith(url, 200, 20_000)).body, { status: 'ready', store: 'ok', nats: 'ok' });

    const department = new MarketDepartment(url, `${process.pid}${Math.random().toString(36).slice(2, 6)}`);
    department.start();
    await sleep(3000);

    // A crash of NATS, not a shutdown: no goodbye to its clients, its file store as the kill left it.
    await kill(nats);
    const downAt = Date.now();
    department.phase = 'down';
    const gone = await readyWith(url, 503, 10_000);
    assert.ok(gone.body.down.includes('nats'), `down names nats: ${JSON.stringify(gone.body)}`);
    const notReadyAfterMs = Date.now() - downAt;
    // Still not ready later in the outage, while the stream goes on.
    const deliveredWhenDown = deliveries.total;
    await sleep(Math.max(0, 4000 - notReadyAfterMs));
    const stillGone = await getJson(`${url}/health/ready`);
    assert.equal(stillGone.status, 503, JSON.stringify(stillGone.body));
    assert.ok(stillGone.body.down.includes('nats'), `down names nats: ${JSON.stringify(stillGone.body)}`);
    // The events applied meanwhile wait in the outbox, and nothing reaches the consumer: NATS is really gone.
    const waitingInOutbox = await outboxDepth();
    assert.ok(waitingInOutbox > 0, 'events applied while NATS is down wait in the outbox');
    assert.equal(deliveries.total, deliveredWhenDown, 'nothing is delivered while NATS is down');

    // Same port, same storage: the streams, their duplicate windows and the probe's consumer come back.
    nats = await startNats(port, storeDir);
    const upAt = Date.now();
    department.phase = 'after';
    const back = await readyWith(url, 200, 30_000);
    assert.deepEqual(back.body, { status: 'ready', store: 'ok', nats: 'ok' });
    const readyAfterMs = Date.now() - upAt;
    await sleep(3000);
    await department.stop();
    // A batch refused while NATS was away (or left unanswered) is sent again, as a department system does.
    const refused = department.sent.filter((b) => b.statuses.at(-1) !== 200).length;
    await department.retryRefused(10);

    // Every event the store holds reaches the probe, and the outbox is empty: nothing waits to be published.
    const drainStarted = Date.now();
    const stored = await waitFor('the probe to receive every stored event and the outbox to empty', async () => {
      const s = await storedIds();
      const got = deliveries.ids();
      return s.size > 0 && [...s].every((id) => got.has(id)) && (await outboxDepth()) === 0 ? s : null;
    }, 90_000, 200);
    const drainMs = Date.now() - drainStarted;
    // Then until the deliveries have been quiet for 2 s: a redelivery of an event already received comes late, if at all.
    let total = -1;
    await waitFor('the deliveries to stop', async () => {
      const quiet = deliveries.total === total;
      total = deliveries.total;
      return quiet;
    }, 30_000, 2000);

    // The department's view: every batch answered 200 in the end, every event of it applied, no event refused.
    const unanswered = department.sent.filter((b) => b.statuses.at(-1) !== 200);
    assert.deepEqual(unanswered.map((b) => ({ batch: b.batch.batchId, statuses: b.statuses })), [], 'every batch taken in the end');
    const results = department.sent.flatMap((b) => [...b.results]);
    assert.deepEqual(results.filter(([, r]) => r !== 'accepted' && r !== 'duplicate'), [], 'no event refused');
    const accepted = results.filter(([, r]) => r === 'accepted').map(([id]) => id);
    assert.equal(new Set(accepted).size, accepted.length, 'no event answered accepted twice');
    const sentIds = new Set(department.sent.flatMap((b) => b.batch.events.map((e) => eventId(ADAPTER, [e.eventId]))));
    assert.deepEqual([...stored].sort(), [...sentIds].sort(), 'the store holds every event sent, once (events.id is its key), and nothing else');
    assert.ok(accepted.every((id) => stored.has(id)), 'every event answered accepted is stored');
    assert.ok(department.sent.some((b) => b.phase === 'down'), 'batches were posted while NATS was down');

    // The consumer's view: exactly the stored events, none lost and none extra.
    assert.deepEqual([...deliveries.ids()].sort(), [...stored].sort(), 'the probe received exactly the stored events');
    // The publisher's side of "not duplicated": a publish the outage left unanswered and the outbox
    // sent again carried the same msgID, and the stream (its duplicate window rebuilt from its own
    // files at the restart) kept one message per event.
    const inStream = await streamMessages(port, `${namespace}_case_event_applied`);
    assert.equal(inStream, stored.size, 'the stream holds each event once');
    // The consumer's side: JetStream delivers at least once. nats-server writes a consumer's ack
    // progress to its files after the fact, so the server killed here may come back believing the
    // probe has not acknowledged the last events it had; it then holds the group until its ack wait
    // (30 s) runs out for the one it thinks pending, and hands that one and those after it out again.
    // Observed while this test was written: 26 runs of 28 delivered each id once; in the other two,
    // the kill found the probe caught up, and the consumer came back 60 and 95 events behind: it held
    // the group for its ack wait and then delivered those events again, and every stored event had
    // reached the probe some 22 s after the stream stopped instead of 2 s. The hub does not promise more
    // (README, "The bus": consumers are idempotent by id), so those ids are counted and shown, not
    // refused; after the probe's de-duplication by id (the set compared above) each event is there
    // exactly once. What is asserted is where they come from: only events first delivered before the
    // kill come again, never one published after NATS was back.
    const repeated = deliveries.repeated();
    const repeatedLate = repeated.filter((id) => deliveries.firstAt.get(id)! >= downAt);
    assert.deepEqual(repeatedLate, [], 'only events delivered before the kill are delivered again');
    const byPhase = (p: Phase) => department.sent.filter((b) => b.phase === p).length;
    console.log(`      batches of ${PER_BATCH} posted: ${byPhase('before')} before the kill, ${byPhase('down')} while NATS was down, ${byPhase('after')} after it was back; `
      + `${refused} not answered 200 at first, ${department.sent.filter((b) => b.statuses.length > 1).length} sent again`);
    console.log(`      readiness: 503 naming nats ${notReadyAfterMs} ms after the kill, 200 ${readyAfterMs} ms after the restart; `
      + `${waitingInOutbox} events in the outbox before the restart; every stored event received ${drainMs} ms after the stream stopped`);
    console.log(`      ${stored.size} events stored, ${inStream} messages in the stream, ${deliveries.total} deliveries to the probe, `
      + `${repeated.length} id(s) delivered more than once${repeated.length ? ` (${repeated.slice(0, 5).join(', ')}${repeated.length > 5 ? ', …' : ''})` : ''}`);
  });
});
