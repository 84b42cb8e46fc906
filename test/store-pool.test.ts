import assert from 'node:assert/strict';
import { openStore } from '../services/store/open-store';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { testDataDir } from './support/hub';
import { createTestDatabase } from './support/servers';

// A node's connections to a PostgreSQL store are as many as its configuration says
// (storePoolSize, HUB_STORE_POOL_SIZE): the server's max_connections is shared by every node.

describe('the PostgreSQL store\'s connection pool', function () {
  this.timeout(60_000);

  it('is sized by HUB_STORE_POOL_SIZE: statements beyond it wait for a connection rather than open one', async () => {
    assert.equal(loadConfig({ HUB_CONFIG: DEMO_CONFIG }).storePoolSize, 10, 'ten by default');
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_POOL_SIZE: '3' });
    assert.equal(config.storePoolSize, 3);
    assert.throws(() => loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_POOL_SIZE: '0' }), /HUB_STORE_POOL_SIZE/);
    const db = await createTestDatabase();
    const store = await openStore({ store: db.url, dataDir: testDataDir('store-pool', { store: 'none' }), region: '130100', poolSize: config.storePoolSize });
    try {
      const pids = await Promise.all(Array.from({ length: 9 }, () => store.driver.query<{ pid: number }>('SELECT pg_backend_pid() AS pid FROM pg_sleep(0.2)')));
      assert.equal(new Set(pids.map((r) => r.rows[0].pid)).size, 3, 'nine statements at once share three connections');
    } finally {
      await store.close();
      await db.drop();
    }
  });
});
