import assert from 'node:assert/strict';
import { ServiceBroker } from 'moleculer';
import { connect, AckPolicy, type NatsConnection, type JetStreamManager } from 'nats';
import { APPLIED_AT_HEADER, CHANNELS } from '../../core/kernel/constants';
import { requireNats } from '../../test/support/servers';
import { waitFor } from '../../test/support/hub';
import { busMiddleware, busAdapter } from './bus';
import { BrokerChannels, appliedAtOf } from './broker-channels';
import { ACK_WAIT_MS, type JetStreamAdapter } from './jetstream-adapter';

const NATS_URL = 'nats://127.0.0.1:4222';
const OUTBOX = { dispatch: true, pollIntervalMs: 50, batchSize: 100, stream: { maxAgeHours: 2, maxBytes: 8 << 20 } };

describe('NATS JetStream bus (cluster mode)', function () {
  this.timeout(60_000);
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const brokers: ServiceBroker[] = [];
  const namespaces: string[] = [];

  before(async () => {
    await requireNats();
    nc = await connect({ servers: '127.0.0.1:4222' });
    jsm = await nc.jetstreamManager();
  });
  afterEach(async () => {
    for (const b of brokers.splice(0)) await b.stop();
    const names = (await jsm.streams.list().next()).map((s) => s.config.name);
    for (const ns of namespaces.splice(0)) for (const n of names.filter((x) => x.startsWith(`${ns}_`))) await jsm.streams.delete(n);
  });
  after(async () => { await nc?.close(); });

  const namespace = () => {
    const ns = `bus-unit-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    namespaces.push(ns);
    return ns;
  };

  async function node(ns: string, services: object[] = []): Promise<{ broker: ServiceBroker; channels: BrokerChannels }> {
    const broker = new ServiceBroker({ nodeID: `${ns}-${brokers.length}`, namespace: ns, logger: false, middlewares: [busMiddleware({ transporter: NATS_URL, outbox: OUTBOX })] });
    for (const s of services) broker.createService(s as any);
    brokers.push(broker);
    await broker.start();
    const channels = new BrokerChannels();
    channels.attach(broker);
    return { broker, channels };
  }

  it('creates every channel\'s stream at start with limits retention, so a publish with no consumer yet is kept', async () => {
    const ns = namespace();
    const { broker, channels } = await node(ns);
    const adapter = busAdapter(broker) as JetStreamAdapter;
    for (const c of [...Object.values(CHANNELS), 'bus.failed']) {
      const info = await jsm.streams.info(adapter.streamName(c));
      assert.deepEqual(info.config.subjects, [`${ns}.${c}`]);
      assert.equal(info.config.retention, 'limits');
      assert.equal(info.config.max_age, 2 * 3600 * 1e9);
      assert.equal(info.config.max_bytes, 8 << 20);
    }
    await channels.publish(CHANNELS.eventApplied, { id: 'e1' }, { id: 'e1' });
    await channels.publish(CHANNELS.eventApplied, { id: 'e1' }, { id: 'e1' });
    const state = (await jsm.streams.info(`${ns}_case_event_applied`)).state;
    assert.equal(state.messages, 1, 'kept once: the second publish of the same id is recognised');
  });

  it('brings an existing stream without limits up to the configured ones', async () => {
    const ns = namespace();
    await jsm.streams.add({ name: `${ns}_case_event_applied`, subjects: [`${ns}.case.event.applied`] });
    assert.equal((await jsm.streams.info(`${ns}_case_event_applied`)).config.max_age, 0, 'no limit to begin with');
    await node(ns);
    const config = (await jsm.streams.info(`${ns}_case_event_applied`)).config;
    assert.equal(config.max_age, 2 * 3600 * 1e9);
    assert.equal(config.max_bytes, 8 << 20);
  });

  it('hands a message to a failing consumer again after a delay, not at once', async () => {
    const ns = namespace();
    const deliveries: number[] = [];
    await node(ns, [{
      name: 'flaky',
      channels: {
        [CHANNELS.eventApplied]: {
          group: 'flaky',
          async handler() {
            deliveries.push(Date.now());
            if (deliveries.length === 1) throw new Error('the notifier gateway is down');
          },
        },
      },
    }]);
    const { channels } = await node(ns);
    await channels.publish(CHANNELS.eventApplied, { id: 'e-retry' }, { id: 'e-retry' });
    await waitFor('the redelivery', () => deliveries.length >= 2, 15_000);
    assert.ok(deliveries[1] - deliveries[0] >= 900, `waited ${deliveries[1] - deliveries[0]} ms before the redelivery`);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(deliveries.length, 2, 'acknowledged once handled: not delivered again');
  });

  /** A consumer of case.event.applied in group `group` that records what it is given, holding each message until released. */
  function holder(group: string, got: { node: string; id: string }[], node: string, release: Promise<void>) {
    return {
      name: `holder-${node}`,
      channels: {
        [CHANNELS.eventApplied]: {
          group,
          async handler(m: { id: string }) {
            got.push({ node, id: m.id });
            await release;
          },
        },
      },
    };
  }

  it('hands the message of a node that died mid-message to another node of the group within the ack wait, not JetStream\'s 30 s', async () => {
    const ns = namespace();
    const got: { node: string; id: string }[] = [];
    let releaseA!: () => void;
    const a = await node(ns, [holder('supervisor', got, 'a', new Promise<void>((r) => { releaseA = r; }))]);
    const { channels } = await node(ns);
    await channels.publish(CHANNELS.eventApplied, { id: 'held' }, { id: 'held' });
    await waitFor('node a to take the message', () => got.some((g) => g.node === 'a'), 10_000);
    // Node a dies holding it: its NATS connection goes, no ack and no word of work follow.
    const adapter = busAdapter(a.broker) as unknown as { connection: NatsConnection };
    await adapter.connection.close();
    const died = Date.now();
    await node(ns, [holder('supervisor', got, 'b', Promise.resolve())]);
    await waitFor('node b to be handed the message', () => got.some((g) => g.node === 'b'), 20_000);
    const took = Date.now() - died;
    assert.ok(took < 20_000, `handed over after ${took} ms`);
    assert.deepEqual(got.map((g) => [g.node, g.id]), [['a', 'held'], ['b', 'held']]);
    releaseA();
  });

  it('does not take a consumer slower than the ack wait for a dead one: the message is not handed to another node', async () => {
    const ns = namespace();
    const got: { node: string; id: string }[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => { release = r; });
    await node(ns, [holder('notifier', got, 'a', slow)]);
    await node(ns, [holder('notifier', got, 'b', slow)]);
    const { channels } = await node(ns);
    await channels.publish(CHANNELS.eventApplied, { id: 'slow' }, { id: 'slow' });
    await waitFor('a node to take the message', () => got.length > 0, 10_000);
    await new Promise((r) => setTimeout(r, ACK_WAIT_MS * 2));
    release();
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(got.length, 1, `taken once, by ${got.map((g) => g.node).join(', ')}`);
  });

  it('brings a group\'s consumer made with the server\'s 30 s ack wait to the hub\'s', async () => {
    const ns = namespace();
    await node(ns);
    const stream = `${ns}_case_event_applied`;
    await jsm.consumers.add(stream, { durable_name: 'old-group', ack_policy: AckPolicy.Explicit, deliver_subject: `${ns}.old.deliver`, deliver_group: stream, max_ack_pending: 1 });
    assert.equal((await jsm.consumers.info(stream, 'old-group')).config.ack_wait, 30 * 1e9, 'the server\'s default to begin with');
    await node(ns, [holder('old-group', [], 'a', Promise.resolve())]);
    assert.equal((await jsm.consumers.info(stream, 'old-group')).config.ack_wait, ACK_WAIT_MS * 1e6);
  });

  it('carries a message\'s headers to its consumer on another node: when an applied event was applied', async () => {
    const ns = namespace();
    const got: { id: string; appliedAt: Date | null }[] = [];
    await node(ns, [{
      name: 'consumer',
      channels: { [CHANNELS.eventApplied]: { group: 'g', async handler(this: { broker: ServiceBroker }, msg: { id: string }, raw: unknown) { got.push({ id: msg.id, appliedAt: appliedAtOf(this.broker, raw) }); } } },
    }]);
    const { channels } = await node(ns);
    await channels.publish(CHANNELS.eventApplied, { id: 'e1' }, { id: 'e1', headers: { [APPLIED_AT_HEADER]: '1796000000000' } });
    await channels.publish(CHANNELS.eventApplied, { id: 'e2' }, { id: 'e2' });
    await waitFor('both taken', () => got.length === 2, 10_000);
    assert.deepEqual(got, [{ id: 'e1', appliedAt: new Date(1796000000000) }, { id: 'e2', appliedAt: null }]);
  });

  it('refuses a publish once the bus is stopping, rather than resolving with nothing sent', async () => {
    const ns = namespace();
    const { broker, channels } = await node(ns);
    brokers.splice(brokers.indexOf(broker), 1);
    await broker.stop();
    await assert.rejects(channels.publish(CHANNELS.eventApplied, { id: 'late' }, { id: 'late' }), /stopping/);
    assert.equal((await jsm.streams.info(`${ns}_case_event_applied`)).state.messages, 0);
  });
});
