import assert from 'node:assert/strict';
import { openStore } from '../services/store/open-store';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { testDataDir } from './support/hub';
import { createTestDatabase } from './support/servers';
import { taxEvent } from './support/events';

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

describe('the PostgreSQL store\'s prepared statements', function () {
  this.timeout(60_000);
  const prepared = async (store: Awaited<ReturnType<typeof openStore>>) =>
    // A statement without parameters is never prepared: this one reads the connection's own list.
    (await store.driver.transaction((tx) => tx.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements'))).rows.map((r) => r.statement);

  for (const setting of ['on', 'off']) {
    it(`${setting === 'on' ? 'prepares the write path\'s statements once on each connection, and never a read outside a transaction' : 'prepares none with HUB_STORE_PREPARED=off'}`, async () => {
      const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE_PREPARED: setting });
      assert.equal(config.storePrepared, setting === 'on');
      const db = await createTestDatabase();
      // One connection: every statement below and the list of prepared ones are on the same one.
      const store = await openStore({ store: db.url, dataDir: testDataDir(`store-prepared-${setting}`, { store: 'none' }), region: '130100', poolSize: 1, prepared: config.storePrepared });
      try {
        const applyTwice = async (key: string) => {
          for (const status of ['SUBMITTED', 'ACCEPTED'] as const) {
            const [r] = await store.cases.apply([taxEvent(`${key}-${status}`, key, status, status === 'SUBMITTED' ? '2026-11-20T09:00:00+08:00' : '2026-11-20T10:00:00+08:00')], { receivedAt: new Date() });
            assert.equal(r.result, 'accepted', JSON.stringify(r));
          }
        };
        await applyTwice('PREP-1');
        const read = 'SELECT supervision_code FROM cases WHERE status = $1 ORDER BY first_seen DESC LIMIT 5';
        assert.equal((await store.driver.query(read, ['ACCEPTED'])).rows.length, 1);
        await store.driver.query('DELETE FROM job_queues WHERE queue = $1', ['none']);
        const first = await prepared(store);
        if (setting === 'off') {
          assert.deepEqual(first, []);
          return;
        }
        assert.ok(first.some((s) => /^\s*INSERT INTO events\b/.test(s)), `the events' insert is prepared: ${first.join('\n')}`);
        assert.ok(first.includes('DELETE FROM job_queues WHERE queue = $1'), 'a DELETE outside a transaction is prepared');
        assert.ok(!first.includes(read), 'a read outside a transaction is planned for its own values each time');
        // The same statements again (another case, other values): prepared already, each once.
        await applyTwice('PREP-2');
        const second = await prepared(store);
        assert.deepEqual([...second].sort(), [...first].sort(), 'no statement prepared twice');
        assert.equal(new Set(second).size, second.length);
        assert.equal((await store.driver.query(read, ['ACCEPTED'])).rows.length, 2);
      } finally {
        await store.close();
        await db.drop();
      }
    });
  }
});
