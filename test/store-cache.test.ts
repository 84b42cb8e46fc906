import assert from 'node:assert/strict';
import { openStore, Store } from '../services/store/open-store';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { startTestHub, testDataDir } from './support/hub';

// The embedded store's page cache (storeCacheMb, HUB_STORE_CACHE_MB) is its PostgreSQL's
// shared_buffers: memory the hub's process holds for as long as it runs. An operator sets it from the
// configuration and reads it back from the store itself.

async function sharedBuffers(store: Store): Promise<string> {
  return (await store.driver.query<{ shared_buffers: string }>('SHOW shared_buffers')).rows[0].shared_buffers;
}

describe('the embedded store\'s statistics', function () {
  this.timeout(120_000);

  it('are gathered from a sample of 9,000 rows at most: ANALYZE keeps 30 histogram buckets of a column of 20,000 values', async () => {
    const store = await openStore({ store: 'embedded', dataDir: testDataDir('store-statistics'), region: '130100' });
    try {
      await store.driver.query('CREATE TABLE statistics_probe (v int NOT NULL)');
      await store.driver.query('INSERT INTO statistics_probe SELECT i FROM generate_series(1, 20000) AS i');
      await store.driver.query('ANALYZE statistics_probe');
      const r = await store.driver.query<{ n: number }>(
        "SELECT array_length(histogram_bounds::text::text[], 1) - 1 AS n FROM pg_stats WHERE tablename = 'statistics_probe' AND attname = 'v'");
      assert.equal(r.rows[0].n, 30, 'PostgreSQL\'s default target would keep 100');
    } finally {
      await store.close();
    }
  });
});

describe('the embedded store\'s page cache', function () {
  this.timeout(120_000);

  it('is 32 MB unless HUB_STORE_CACHE_MB says otherwise, and a size below 4 MB or not a number is refused by name', () => {
    assert.equal(loadConfig({ HUB_CONFIG: DEMO_CONFIG }).storeCacheMb, 32);
    assert.equal(loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_CACHE_MB: '256' }).storeCacheMb, 256);
    assert.throws(() => loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_CACHE_MB: '2' }), /HUB_STORE_CACHE_MB/);
    assert.throws(() => loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_CACHE_MB: '64MB' }), /HUB_STORE_CACHE_MB/);
  });

  it('is the store\'s shared_buffers: the default when none is given, a hub\'s configured size when it gives one', async () => {
    const dataDir = testDataDir('store-cache');
    const store = await openStore({ store: 'embedded', dataDir, region: '130100' });
    try {
      assert.equal(await sharedBuffers(store), '32MB', 'the default');
    } finally {
      await store.close();
    }
    // A hub started from a configuration that gives a size.
    const hub = await startTestHub('embedded', { HUB_STORE_CACHE_MB: '24' });
    try {
      assert.equal(await sharedBuffers(hub.hub.context.store), '24MB', 'the configured size');
    } finally {
      await hub.stop();
    }
  });
});
