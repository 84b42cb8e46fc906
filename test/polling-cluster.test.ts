import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';
import { startHub, RunningHub } from '../cli/start-hub';
import { startVehicleQueryService, VehicleQueryService } from '../infra/simulators/vehicle-office';
import { testDataDir, waitFor } from './support/hub';
import { createTestDatabase } from './support/servers';

// The vehicle office is polled once per interval by the whole hub, not once per node: two gateway
// nodes on one PostgreSQL store each run the poller, and only the holder of its lease asks the
// office. The office's query service counts what it is asked.

const INTERVAL_S = 0.4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('polling with two gateway nodes: the department is polled once per interval, not once per node (postgres store)', function () {
  this.timeout(120_000);
  const nodes: RunningHub[] = [];
  let svc: VehicleQueryService | null = null;
  let drop: (() => Promise<void>) | null = null;
  after(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
    await svc?.close();
    await drop?.();
  });

  it('asks the office once per interval while two nodes run, and goes on from the other node when the holder stops', async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    svc = await startVehicleQueryService({ port: 0, records: [] });
    const dataDir = testDataDir('polling-cluster', { store: 'none' });
    const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
    config.adapters = config.adapters
      .filter((a: { id: string }) => a.id === 'vehicle-office')
      .map((a: { id: string; dir?: string }) => ({
        ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir ?? a.id),
        overrides: { transport: { options: { poll: { enabled: true, url: svc!.url, intervalSeconds: INTERVAL_S, initialStartTime: '2026-11-24 00:00:00', maxBackoffSeconds: 1 } } } },
      }));
    const configFile = path.join(dataDir, 'hub.yaml');
    fs.writeFileSync(configFile, YAML.stringify(config));
    const keyFile = path.join(dataDir, 'data-keys.json');
    writeKeyFile(keyFile, withNewKey(null));
    const node = async (n: number) => {
      const hub = await startHub(loadConfig({
        HUB_CONFIG: configFile, HUB_HTTP_PORT: '0', HUB_DATA_DIR: path.join(dataDir, `node-${n}`), HUB_DATA_KEY_FILE: keyFile, HUB_STORE: db.url,
        HUB_SERVICES: 'gateway', HUB_LOG_LEVEL: 'silent',
      }), createLogger('silent'));
      nodes.push(hub);
      return hub;
    };
    const first = await node(1);
    const second = await node(2);
    await waitFor('the office polled', () => svc!.requests > 0, 20_000);
    // An empty answer is one request a round: over a window, one poller asks once per interval.
    const windowMs = 6000;
    const before = svc.requests;
    await sleep(windowMs);
    const asked = svc.requests - before;
    const once = windowMs / 1000 / INTERVAL_S;
    assert.ok(asked >= once * 0.6 && asked <= once * 1.3, `${asked} requests in ${windowMs} ms: about one per ${INTERVAL_S} s (${once}), not one per node (${2 * once})`);
    const holder = async () => (await second.context.store.driver.query<{ owner: string }>("SELECT owner FROM job_leases WHERE name = 'poll:vehicle-office'")).rows[0]?.owner;
    const ownerBefore = await holder();
    assert.ok(ownerBefore, 'a lease names the polling node');

    // Each node in turn stops: the one left goes on polling, still once per interval.
    await first.stop();
    nodes.splice(nodes.indexOf(first), 1);
    const after = svc.requests;
    await waitFor('the remaining node polling', () => svc!.requests > after + 2, 20_000);
    const base = svc.requests;
    await sleep(windowMs);
    const alone = svc.requests - base;
    assert.ok(alone >= once * 0.6 && alone <= once * 1.3, `${alone} requests in ${windowMs} ms from the remaining node`);
    assert.ok(await holder(), 'the lease is held by the node left');
  });
});
