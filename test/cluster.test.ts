import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { postBatch } from '../infra/simulators/market-regulation';
import { loadConfig } from '../core/kernel/config';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from '../cli/start-hub';
import { createTestDatabase, requireNats, deleteStreams } from './support/servers';
import { testDataDir, getJson, SUPERVISOR } from './support/hub';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';

const SAMPLE = path.resolve(__dirname, '../../adapters/market-regulation/samples/batch-01.json');

describe('cluster mode: two nodes over NATS sharing PostgreSQL', function () {
  this.timeout(120_000);
  const nodes: RunningHub[] = [];
  let drop: (() => Promise<void>) | null = null;

  let namespace = '';
  after(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined);
    await drop?.();
    if (namespace) await deleteStreams(namespace);
  });

  it('takes a webhook on the gateway node and answers case queries from the cases node', async () => {
    await requireNats();
    const db = await createTestDatabase();
    drop = db.drop;
    namespace = `test-${process.pid}-${Date.now()}`;
    // Every node of a hub has the same data keys.
    const keyFile = path.join(testDataDir('cluster-keys', { store: 'none' }), 'data-keys.json');
    writeKeyFile(keyFile, withNewKey(null));
    const env = (services: string) => ({
      HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('cluster', { store: 'none' }), HUB_DATA_KEY_FILE: keyFile, HUB_STORE: db.url, HUB_TRANSPORTER: 'nats://127.0.0.1:4222',
      HUB_NAMESPACE: namespace, HUB_SERVICES: services, HUB_HEALTH_PORT: '0', HUB_LOG_LEVEL: 'silent', HUB_CONFIG: DEMO_CONFIG,
    });
    const casesNode = await startHub(loadConfig(env('cases,dead-letters,files,mapping')), createLogger('silent'));
    nodes.push(casesNode);
    const gatewayNode = await startHub(loadConfig(env('gateway')), createLogger('silent'));
    nodes.push(gatewayNode);
    assert.equal(casesNode.url, null, 'the cases node serves no API');
    // …but answers its probes and Prometheus on its health port, with its own metrics.
    assert.ok(casesNode.healthUrl && casesNode.healthUrl !== gatewayNode.healthUrl, String(casesNode.healthUrl));
    const ready = await getJson(`${casesNode.healthUrl}/health/ready`);
    assert.deepEqual(ready.body, { status: 'ready', store: 'ok', nats: 'ok' });
    assert.equal(gatewayNode.broker.getLocalService('cases'), undefined, 'the gateway node runs no cases service');
    await gatewayNode.broker.waitForServices(['cases'], 20_000);

    const r = await postBatch(`${gatewayNode.url}/api/v1/inbound/market-regulation`, fs.readFileSync(SAMPLE));
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
    const code = (r.body as any).results[0].supervisionCode;
    const view = await getJson(`${gatewayNode.url}/api/v1/cases/${code}`, SUPERVISOR);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    assert.equal(view.body.status, 'ACCEPTED');
    assert.equal(view.body.timeline.length, 2);
    // Each node's /metrics is its own: the gateway's intake counted the batch; the cases node, which
    // took none of it, shows its own process and none of the gateway's counts.
    const gatewayMetrics = await (await fetch(`${gatewayNode.url}/metrics`)).text();
    assert.match(gatewayMetrics, /hub_inbound_messages_total\{adapter="market-regulation",result="accepted"\} 3/);
    const casesMetrics = await (await fetch(`${casesNode.healthUrl}/metrics`)).text();
    assert.match(casesMetrics, /^hub_process_process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(casesMetrics, /hub_inbound_messages_total\{/);
  });
});
