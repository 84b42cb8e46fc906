import assert from 'node:assert/strict';
import { ServiceBroker } from 'moleculer';
import { BUS_FAILED_CHANNEL, CHANNELS } from '../../core/kernel/constants';
import { busMiddleware, cutBusRetries } from './bus';
import { BrokerChannels } from './broker-channels';

const OUTBOX = { dispatch: true, pollIntervalMs: 50, batchSize: 100, stream: { maxAgeHours: 1, maxBytes: 1 << 20 } };

async function embeddedBus(services: object[]): Promise<{ broker: ServiceBroker; channels: BrokerChannels }> {
  const broker = new ServiceBroker({ nodeID: `bus-unit-${Math.random().toString(36).slice(2, 8)}`, logger: false, middlewares: [busMiddleware({ transporter: null, outbox: OUTBOX })] });
  for (const s of services) broker.createService(s as any);
  await broker.start();
  const channels = new BrokerChannels();
  channels.attach(broker);
  return { broker, channels };
}

describe('in-process bus (embedded mode)', function () {
  this.timeout(30_000);
  let broker: ServiceBroker | null = null;
  afterEach(async () => { await broker?.stop(); broker = null; });

  it('resolves a publish only once every consumer group has handled the message, each group once', async () => {
    const seen: string[] = [];
    const consumer = (name: string, group: string, ms: number) => ({
      name,
      channels: { [CHANNELS.eventApplied]: { group, async handler(m: { id: string }) { await new Promise((r) => setTimeout(r, ms)); seen.push(`${name}:${m.id}`); } } },
    });
    const bus = await embeddedBus([consumer('supervisor', 'supervisor', 200), consumer('notifier-1', 'notifier', 10), consumer('notifier-2', 'notifier', 10)]);
    broker = bus.broker;
    await bus.channels.publish(CHANNELS.eventApplied, { id: 'e1' }, { id: 'e1' });
    assert.ok(seen.includes('supervisor:e1'), `the slow consumer had handled it before the publish resolved: ${seen}`);
    await bus.channels.publish(CHANNELS.eventApplied, { id: 'e2' }, { id: 'e2' });
    assert.equal(seen.filter((s) => s.startsWith('supervisor:')).length, 2);
    assert.deepEqual(seen.filter((s) => s.startsWith('notifier')).map((s) => s.split(':')[1]).sort(), ['e1', 'e2'], 'the notifier group took each message once');
    assert.deepEqual(new Set(seen.filter((s) => s.startsWith('notifier')).map((s) => s.split(':')[0])), new Set(['notifier-1', 'notifier-2']), 'in turn');
  });

  it('hands a consumer each message after the one before it is done, in the order published', async () => {
    const order: number[] = [];
    const bus = await embeddedBus([{
      name: 'ordered',
      channels: { [CHANNELS.eventApplied]: { group: 'ordered', async handler(m: { n: number }) { await new Promise((r) => setTimeout(r, 20 - m.n)); order.push(m.n); } } },
    }]);
    broker = bus.broker;
    await Promise.all([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => bus.channels.publish(CHANNELS.eventApplied, { n })));
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('hands a consumer whose channel allows several in flight that many at once, never more, and lets the broker stop only once they are done', async () => {
    let now = 0;
    let most = 0;
    const done: number[] = [];
    const bus = await embeddedBus([{
      name: 'wide',
      channels: {
        [CHANNELS.eventApplied]: {
          group: 'wide', maxInFlight: 4,
          async handler(m: { n: number }) {
            most = Math.max(most, ++now);
            await new Promise((r) => setTimeout(r, 20));
            now--;
            done.push(m.n);
          },
        },
      },
    }]);
    broker = bus.broker;
    const publishes = Array.from({ length: 12 }, (_, n) => bus.channels.publish(CHANNELS.eventApplied, { n }));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(now, 4, 'four taken at once');
    await Promise.all(publishes);
    assert.equal(most, 4);
    assert.deepEqual([...done].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Stopping waits for the messages in hand.
    const late = Array.from({ length: 6 }, (_, n) => bus.channels.publish(CHANNELS.eventApplied, { n: 100 + n }));
    await new Promise((r) => setTimeout(r, 5));
    await broker.stop();
    broker = null;
    await Promise.allSettled(late);
    assert.equal(now, 0, 'nothing was still running when the broker had stopped');
  });

  it('retries a failing consumer after a delay, then puts the message on the failed channel', async () => {
    const attempts: number[] = [];
    const failed: { id: string }[] = [];
    const bus = await embeddedBus([
      {
        name: 'flaky',
        channels: { [CHANNELS.eventApplied]: { group: 'flaky', maxRetries: 1, async handler() { attempts.push(Date.now()); throw new Error('the notifier gateway is down'); } } },
      },
      { name: 'failed-watch', channels: { [BUS_FAILED_CHANNEL]: { group: 'failed-watch', async handler(m: { id: string }) { failed.push(m); } } } },
    ]);
    broker = bus.broker;
    await bus.channels.publish(CHANNELS.eventApplied, { id: 'e-fail' }, { id: 'e-fail' });
    assert.equal(attempts.length, 2, 'the first delivery and one retry');
    assert.ok(attempts[1] - attempts[0] >= 900, `a delay before the retry: ${attempts[1] - attempts[0]} ms`);
    assert.deepEqual(failed, [{ id: 'e-fail' }]);
  });

  it('ends the wait before a failing consumer\'s retry when its node stops, failing the publish so that the outbox keeps the message', async () => {
    let attempts = 0;
    const bus = await embeddedBus([
      { name: 'down', channels: { [CHANNELS.eventApplied]: { group: 'down', maxRetries: 5, async handler() { attempts++; throw new Error('the store is closed'); } } } },
    ]);
    broker = bus.broker;
    const publish = bus.channels.publish(CHANNELS.eventApplied, { id: 'e-stop' }, { id: 'e-stop' });
    publish.catch(() => undefined);
    while (attempts < 1) await new Promise((r) => setTimeout(r, 5));
    const cutAt = Date.now();
    cutBusRetries(bus.broker);
    await assert.rejects(publish, /stopped before handling/);
    const waited = Date.now() - cutAt;
    // Uncut, the five retries would have waited 1 + 2 + 4 + 8 + 16 s before the failed channel.
    assert.ok(waited < 500, `the publish failed ${waited} ms after the cut, not after the consumer's backoff`);
    assert.equal(attempts, 1, 'no attempt after the cut');
    // A failure after the cut is not retried either: the next publish fails at its first failure.
    await assert.rejects(bus.channels.publish(CHANNELS.eventApplied, { id: 'e-next' }, { id: 'e-next' }), /stopped before handling/);
    assert.equal(attempts, 2);
  });

  it('refuses a publish while the bus is not running, so that the outbox keeps the message', async () => {
    const bus = await embeddedBus([]);
    await bus.broker.stop();
    await assert.rejects(bus.channels.publish(CHANNELS.eventApplied, { id: 'late' }), /not running/);
    await assert.rejects(new BrokerChannels().publish(CHANNELS.eventApplied, { id: 'early' }), /no bus/);
  });
});
