import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { createLogger } from '../core/kernel/logger';
import { PROBLEM_CONTENT_TYPE } from '../core/kernel/constants';
import { startHub, RunningHub } from '../cli/start-hub';
import { createTestDatabase, requireRedis } from './support/servers';
import { testDataDir, getJson, readyWith } from './support/hub';
import { freePort, startNats, kill } from './support/nats';

// Cluster issue, item 2: /health/ready reflects every server the node depends on. A cluster node is
// not ready while its transporter has lost NATS, and is ready again once NATS is back; a node whose
// HUB_QUEUE names Redis is not ready while Redis does not answer PING.


describe('readiness: every server the node depends on', function () {
  this.timeout(120_000);
  let nats: ChildProcess | null = null;
  const hubs: RunningHub[] = [];
  const drops: (() => Promise<void>)[] = [];
  after(async () => {
    for (const h of hubs.splice(0).reverse()) await h.stop().catch(() => undefined);
    await kill(nats);
    for (const d of drops.splice(0)) await d().catch(() => undefined);
  });

  it('a cluster node is not ready while NATS is gone, naming nats, and ready again once it is back', async () => {
    await requireRedis();
    const port = await freePort();
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-readiness-nats-'));
    drops.push(async () => fs.rmSync(storeDir, { recursive: true, force: true }));
    nats = await startNats(port, storeDir);
    const db = await createTestDatabase();
    drops.push(db.drop);
    const config = loadConfig({
      HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('readiness-cluster', { store: 'none' }), HUB_STORE: db.url,
      HUB_TRANSPORTER: `nats://127.0.0.1:${port}`, HUB_NAMESPACE: `readiness-${process.pid}-${Date.now()}`,
      HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all', HUB_QUEUE: 'redis://127.0.0.1:6379',
    });
    const hub = await startHub(config, createLogger('silent'));
    hubs.push(hub);

    const ready = await readyWith(hub.url!, 200, 10_000);
    // The answer it gave before, with the servers added to it.
    assert.deepEqual(ready.body, { status: 'ready', store: 'ok', nats: 'ok', redis: 'ok' });

    await kill(nats);
    const gone = await readyWith(hub.url!, 503, 5_000);
    assert.ok(gone.contentType.startsWith(PROBLEM_CONTENT_TYPE), gone.contentType);
    assert.deepEqual(gone.body.down, ['nats']);
    assert.deepEqual(gone.body.missing, []);
    assert.match(gone.body.detail, /^nats unreachable: /);
    // Each check gives up within a second: a probe is never held longer.
    const started = Date.now();
    assert.equal((await getJson(`${hub.url}/health/ready`)).status, 503);
    assert.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`);
    assert.equal((await getJson(`${hub.url}/health/live`)).status, 200, 'alive all the same');

    nats = await startNats(port, storeDir);
    const back = await readyWith(hub.url!, 200, 10_000);
    assert.deepEqual(back.body, { status: 'ready', store: 'ok', nats: 'ok', redis: 'ok' });
  });

  it('a node whose HUB_QUEUE names a Redis that does not answer is not ready, naming redis', async () => {
    const closed = await freePort();
    const config = loadConfig({
      HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('readiness-redis'),
      HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all', HUB_QUEUE: `redis://:pw@127.0.0.1:${closed}`,
    });
    const hub = await startHub(config, createLogger('silent'));
    hubs.push(hub);
    const r = await getJson(`${hub.url}/health/ready`);
    assert.equal(r.status, 503);
    assert.ok(r.contentType.startsWith(PROBLEM_CONTENT_TYPE), r.contentType);
    assert.deepEqual(r.body.down, ['redis']);
    assert.match(r.body.detail, /^redis unreachable: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(JSON.stringify(r.body), /pw/, 'the password is not shown');
  });

  it('an embedded node answers as before: store only', async () => {
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('readiness-embedded'), HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all' });
    const hub = await startHub(config, createLogger('silent'));
    hubs.push(hub);
    const r = await getJson(`${hub.url}/health/ready`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'ready', store: 'ok' });
  });
});

// The Helm chart's probes (helm/case-exchange-hub): a node without the gateway answers /health/* on
// HUB_HEALTH_PORT, with the same server checks, so that every role of a cluster can be probed.
describe('readiness: the health port of a node without the gateway', function () {
  this.timeout(120_000);
  const hubs: RunningHub[] = [];
  after(async () => {
    for (const h of hubs.splice(0).reverse()) await h.stop().catch(() => undefined);
  });

  const startNode = async (name: string, env: Record<string, string>) => {
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_DATA_DIR: testDataDir(name), HUB_LOG_LEVEL: 'silent', HUB_POLLING_OFF: 'all', ...env });
    const hub = await startHub(config, createLogger('silent'));
    hubs.push(hub);
    return hub;
  };

  it('answers live and ready with its servers, and 503 naming the one that does not answer', async () => {
    await requireRedis();
    const healthPort = await freePort();
    const hub = await startNode('health-port-ready', { HUB_SERVICES: 'supervisor,evaluations', HUB_HEALTH_PORT: String(healthPort), HUB_QUEUE: 'redis://127.0.0.1:6379' });
    assert.equal(hub.url, null, 'no gateway: no API');
    const base = `http://127.0.0.1:${healthPort}`;
    assert.deepEqual((await getJson(`${base}/health/live`)).body, { status: 'ok' });
    const ready = await getJson(`${base}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', store: 'ok', redis: 'ok' });
    const other = await getJson(`${base}/api/v1/cases`);
    assert.equal(other.status, 404, 'the health port serves nothing else');

    const closed = await freePort();
    const downPort = await freePort();
    await startNode('health-port-down', { HUB_SERVICES: 'cases,mapping', HUB_HEALTH_PORT: String(downPort), HUB_QUEUE: `redis://:pw@127.0.0.1:${closed}` });
    const down = await getJson(`http://127.0.0.1:${downPort}/health/ready`);
    assert.equal(down.status, 503);
    assert.ok(down.contentType.startsWith(PROBLEM_CONTENT_TYPE), down.contentType);
    assert.deepEqual(down.body.down, ['redis']);
    assert.doesNotMatch(JSON.stringify(down.body), /pw/, 'the password is not shown');
    assert.equal((await getJson(`http://127.0.0.1:${downPort}/health/live`)).status, 200, 'alive all the same');
  });

  it('a start whose health port is taken fails, naming HUB_HEALTH_PORT', async () => {
    const taken = await freePort();
    const blocker = http.createServer().listen(taken, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      await assert.rejects(startNode('health-port-taken', { HUB_SERVICES: 'supervisor', HUB_HEALTH_PORT: String(taken) }), /port 127\.0\.0\.1:\d+ is in use \(HUB_HEALTH_PORT\)/);
    } finally {
      blocker.close();
    }
  });
});
