import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../core/kernel/config';
import { createLogger } from '../../core/kernel/logger';
import { HubMetrics } from '../../core/kernel/metrics';
import { DEMO_CONFIG } from '../../core/kernel/paths';
import { openStore, Store } from '../store/open-store';
import { StoreJobQueue } from '../store/job-queue';
import { Outbound } from './outbound';
import { SubscriptionStore } from './subscription-store';

// A node reads the subscriptions again every outbound.reloadSeconds and whenever another node
// changed them: a reading the store fails (a PostgreSQL restart) must leave the subscriptions read
// before in force, and must not end the process with an unhandled rejection.

describe('outbound subscriptions: reading them again while the store fails', function () {
  this.timeout(60_000);
  let store: Store | null = null;
  let dataDir = '';
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };

  before(() => { process.prependListener('unhandledRejection', onUnhandled); });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await store?.close().catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the subscriptions read before in force, answers each caller the failure, and leaves no rejection unhandled', async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'outbound-reload-'));
    store = await openStore({ store: 'embedded', dataDir, region: '130100' });
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_DATA_DIR: dataDir });
    const outbound = new Outbound({
      config: config.outbound,
      configured: [{ id: 'configured', url: 'http://127.0.0.1:9/', secret: 'a-secret-of-the-configuration', keyId: 'k', filter: {}, personalData: false, ratePerSecond: 0 }],
      store: new SubscriptionStore(store.driver, store.keys),
      jobs: new StoreJobQueue(store.driver, store.keys),
      keys: store.keys,
      metrics: new HubMetrics(),
      logger: createLogger('silent'),
    });
    await outbound.reload();
    assert.deepEqual(outbound.list().map((s) => s.id), ['configured']);

    await store.driver.close();
    // Two readings at once (the hourly one and a change told by another node), then a third.
    const [first, second] = await Promise.allSettled([outbound.reload(), outbound.reload()]);
    assert.equal(first.status, 'rejected');
    assert.equal(second.status, 'rejected');
    await assert.rejects(outbound.reload(), /closed/);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(unhandled, [], 'no reading failed unhandled');
    assert.deepEqual(outbound.list().map((s) => s.id), ['configured'], 'the subscriptions read before stay in force');
  });
});
