import assert from 'node:assert/strict';
import { ServiceBroker } from 'moleculer';
import pino from 'pino';
import type { CaseEvent } from '../../contracts/types';
import { CHANNELS } from '../../core/kernel/constants';
import { STORES, waitFor } from '../../test/support/hub';
import { useStore } from '../../test/support/store';
import type { Store } from '../store/open-store';
import { busMiddleware } from './bus';
import { BrokerChannels } from './broker-channels';
import { OutboxDispatcher } from './dispatcher';
import { DISPATCH_LEASE } from './outbox-dispatch';
import { taxEvent as event } from '../../test/support/events';

const OUTBOX = { dispatch: true, pollIntervalMs: 50, batchSize: 4, stream: { maxAgeHours: 1, maxBytes: 1 << 20 } };
const silent = pino({ level: 'silent' });


/** An embedded bus with one consumer of case.event.applied that records what it gets. */
async function consumerBus(): Promise<{ broker: ServiceBroker; channels: BrokerChannels; got: CaseEvent[] }> {
  const got: CaseEvent[] = [];
  const broker = new ServiceBroker({ nodeID: `outbox-unit-${Math.random().toString(36).slice(2, 8)}`, logger: false, middlewares: [busMiddleware({ transporter: null, outbox: OUTBOX })] });
  broker.createService({ name: 'probe', channels: { [CHANNELS.eventApplied]: { group: 'probe', async handler(e: CaseEvent) { got.push(e); } } } } as any);
  await broker.start();
  const channels = new BrokerChannels();
  channels.attach(broker);
  return { broker, channels, got };
}

function dispatcher(store: Store, channels: BrokerChannels): OutboxDispatcher {
  return new OutboxDispatcher({ outbox: store.outbox, channels, lease: store.leases.lease(DISPATCH_LEASE, 2), leaseSeconds: 2, logger: silent, options: OUTBOX });
}

let serial = 0;
let lastApplied: CaseEvent | null = null;
/** n events over two cases, applied in one batch each; answers their ids in the order applied. */
async function applyEvents(store: Store, n: number): Promise<string[]> {
  const run = `${Date.now()}-${serial++}`;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const e = event(`${run}-${i}`, `SX-${run}-${i % 2}`, i < 2 ? 'SUBMITTED' : 'UNDER_REVIEW', `2026-11-24T09:${String(10 + i).padStart(2, '0')}:00+08:00`);
    await store.cases.apply([e], { receivedAt: new Date() });
    ids.push(e.id);
    lastApplied = e;
  }
  return ids;
}

for (const kind of STORES) {
  describe(`outbox dispatcher (${kind} store)`, function () {
    this.timeout(60_000);
    const t = useStore(kind, 'outbox');
    const stops: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const s of stops.reverse()) await s();
      stops.length = 0;
    });

    it('writes an outbox entry with every applied event, none for a duplicate, and publishes them in the order applied', async () => {
      const ids = await applyEvents(t.store, 10);
      assert.equal(await t.store.outbox.depth(), 10, 'committed, not yet published');
      const again = await t.store.cases.apply([lastApplied!], { receivedAt: new Date() });
      assert.equal(again[0].result, 'duplicate');
      assert.equal(await t.store.outbox.depth(), 10, 'a duplicate adds no entry');
      const bus = await consumerBus();
      stops.push(() => bus.broker.stop());
      const d = dispatcher(t.store, bus.channels);
      d.start();
      stops.push(() => d.stop());
      await waitFor('the outbox published', async () => (await t.store.outbox.depth()) === 0);
      assert.deepEqual(bus.got.map((e) => e.id), ids, 'in the order applied, over batches of 4');
      const stored = (await t.store.driver.query<{ supervision_code: string }>('SELECT supervision_code FROM events WHERE id = $1', [ids[0]])).rows[0];
      assert.equal(bus.got[0].subject, stored.supervision_code, 'the envelope carries the case\'s code as its subject');
      assert.deepEqual(bus.got[9].data.status, 'UNDER_REVIEW');
    });

    it('is nudged by a commit, without waiting for its poll', async () => {
      const bus = await consumerBus();
      stops.push(() => bus.broker.stop());
      const d = new OutboxDispatcher({ outbox: t.store.outbox, channels: bus.channels, lease: t.store.leases.lease(DISPATCH_LEASE, 2), leaseSeconds: 2, logger: silent, options: { ...OUTBOX, pollIntervalMs: 60_000 } });
      const off = t.store.onCommit(() => d.nudge());
      stops.push(async () => { off(); await d.stop(); });
      d.start();
      await new Promise((r) => setTimeout(r, 200));
      const [id] = await applyEvents(t.store, 1);
      await waitFor('the event published after its commit', () => bus.got.some((e) => e.id === id), 5_000);
    });

    it('keeps the entries while the bus is down and publishes them once it is back', async () => {
      const channels = new BrokerChannels();
      const d = dispatcher(t.store, channels);
      d.start();
      stops.push(() => d.stop());
      const ids = await applyEvents(t.store, 3);
      d.nudge();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await t.store.outbox.depth(), 3, 'refused by the bus, still in the outbox');
      const bus = await consumerBus();
      stops.push(() => bus.broker.stop());
      channels.attach(bus.broker);
      await waitFor('the outbox published', async () => (await t.store.outbox.depth()) === 0, 10_000);
      assert.deepEqual(bus.got.map((e) => e.id), ids);
    });

    it('with no consumer subscribed in process, empties the outbox without publishing; a consumer that comes gets what follows', async () => {
      const broker = new ServiceBroker({ nodeID: `outbox-unit-${Math.random().toString(36).slice(2, 8)}`, logger: false, middlewares: [busMiddleware({ transporter: null, outbox: OUTBOX })] });
      await broker.start();
      stops.push(() => broker.stop());
      const channels = new BrokerChannels();
      channels.attach(broker);
      assert.equal(channels.listened(CHANNELS.eventApplied), false);
      await applyEvents(t.store, 9);
      const d = dispatcher(t.store, channels);
      d.start();
      stops.push(() => d.stop());
      await waitFor('the outbox emptied', async () => (await t.store.outbox.depth()) === 0);
      const got: string[] = [];
      broker.createService({ name: 'late', channels: { [CHANNELS.eventApplied]: { group: 'late', async handler(e: CaseEvent) { got.push(e.id); } } } } as any);
      await waitFor('the consumer subscribed', () => channels.listened(CHANNELS.eventApplied));
      const later = await applyEvents(t.store, 2);
      d.nudge();
      await waitFor('the later events published', () => got.length === 2);
      assert.deepEqual(got, later);
    });

    it('publishes from one dispatcher at a time; the next takes over when the holder stops', async () => {
      const [busA, busB] = [await consumerBus(), await consumerBus()];
      stops.push(() => busA.broker.stop(), () => busB.broker.stop());
      const a = dispatcher(t.store, busA.channels);
      a.start();
      await new Promise((r) => setTimeout(r, 200));
      const b = dispatcher(t.store, busB.channels);
      b.start();
      stops.push(() => b.stop());
      const first = await applyEvents(t.store, 6);
      await waitFor('the outbox published', async () => (await t.store.outbox.depth()) === 0);
      assert.deepEqual(busA.got.map((e) => e.id), first, 'the holder published all');
      assert.equal(busB.got.length, 0, 'the other none');

      await a.stop();
      const second = await applyEvents(t.store, 2);
      await waitFor('the other dispatcher took over', async () => (await t.store.outbox.depth()) === 0, 10_000);
      assert.deepEqual(busB.got.map((e) => e.id), second);
      assert.equal(busA.got.length, first.length);
    });
  });
}
