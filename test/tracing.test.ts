import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { postBatch } from '../infra/simulators/market-regulation';
import { ROOT, DEMO_CONFIG } from '../core/kernel/paths';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';
import { createTestDatabase, requireNats, deleteStreams } from './support/servers';
import { spawnHub, HubProcess, testDataDir, waitFor, getJson, SUPERVISOR } from './support/hub';
import { startOtlpReceiver, tracingEnv, OtlpReceiver, ReceivedSpan } from './support/otlp-receiver';

const SAMPLE = path.join(ROOT, 'adapters/market-regulation/samples/batch-01.json');
const NATS_URL = 'nats://127.0.0.1:4222';

/** The environment of a test's hub process without any OTEL_* or HUB_* variable of the test runner's own. */
function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('OTEL_') && !k.startsWith('HUB_')) out[k] = v;
  return out;
}

/** `hub start --demo` on a node without the gateway (no HTTP): started once it says so. */
async function startQuietNode(env: Record<string, string>): Promise<{ proc: ChildProcess; output(): string; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), 'start', '--demo'], { cwd: ROOT, env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitFor('the node to start', () => {
    if (proc.exitCode !== null) throw new Error(`the node exited with ${proc.exitCode}:\n${out}`);
    return /node started/.test(out);
  }, 60_000);
  return {
    proc, output: () => out,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The spans of one trace, and whether each hangs from another span of it (all but its root). */
function traceOf(spans: readonly ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === traceId);
}

function describeSpans(spans: readonly ReceivedSpan[]): string {
  return spans.map((s) => `${s.name} [pid ${s.resource['process.pid']}] ${s.spanId}<-${s.parentSpanId || 'root'}`).join('\n');
}

describe('traces: one market regulation batch through a two-node cluster (NATS, PostgreSQL)', function () {
  this.timeout(180_000);
  const cleanup: (() => Promise<unknown>)[] = [];
  let receiver: OtlpReceiver;
  let gateway: HubProcess;
  let workers: Awaited<ReturnType<typeof startQuietNode>>;

  before(async () => {
    await requireNats();
    receiver = await startOtlpReceiver();
    cleanup.push(() => receiver.close());
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const namespace = `tracing-${process.pid}-${Date.now().toString(36)}`;
    cleanup.push(() => deleteStreams(namespace));
    const keyDir = testDataDir('tracing-keys', { store: 'none' });
    const keyFile = path.join(keyDir, 'data-keys.json');
    writeKeyFile(keyFile, withNewKey(null));
    const common = {
      ...tracingEnv(receiver), HUB_CONFIG: DEMO_CONFIG, HUB_STORE: db.url, HUB_TRANSPORTER: NATS_URL, HUB_NAMESPACE: namespace,
      HUB_DATA_KEY_FILE: keyFile, HUB_POLLING_OFF: 'all', HUB_LOG_LEVEL: 'info',
    };
    // The workers' node first: the store's migrations, and the bus's consumer groups before anything is published.
    workers = await startQuietNode({ ...common, HUB_DATA_DIR: testDataDir('tracing-workers', { store: 'none' }), HUB_SERVICES: 'cases,dead-letters,files,mapping,supervisor,audit,keys,evaluations,notifier,subscriptions' });
    cleanup.push(() => workers.stop());
    gateway = await spawnHub({ ...common, HUB_DATA_DIR: testDataDir('tracing-gateway', { store: 'none' }), HUB_SERVICES: 'gateway' });
    cleanup.push(() => gateway.stop());
    await waitFor('the gateway node to be ready (the other node\'s services seen)', async () => (await fetch(`${gateway.url}/health/ready`)).status === 200, 30_000, 200);
  });
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch((err) => console.error('cleanup:', err));
  });

  let code = '';
  /** The cases the batch went to (two of its three events are one case's). */
  let codes: string[] = [];

  it('sends the spans of both processes under one trace id: the adapter, the inbox, the mapping, the store, the publish and the supervisor\'s consumer', async () => {
    const r = await postBatch(`${gateway.url}/api/v1/inbound/market-regulation`, fs.readFileSync(SAMPLE));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
    code = (r.body as any).results[0].supervisionCode;
    codes = [...new Set<string>((r.body as any).results.map((x: any) => x.supervisionCode))];
    const messageId = String(r.headers['x-hub-message-id']);

    const root = await waitFor('the adapter\'s span of the batch', () => receiver.spans.find((s) => s.name === 'POST /api/v1/inbound/market-regulation' && s.attributes['hub.message_id'] === messageId), 30_000);
    assert.equal(root.parentSpanId, '', 'the batch begins a trace of its own');
    assert.equal(root.attributes['hub.adapter'], 'market-regulation');
    assert.equal(root.attributes['http.response.status_code'], 200);
    const consumer = /^consume .*case\.event\.applied$/;
    const spans = await waitFor('the supervisor\'s consumer spans of the batch\'s three events', () => {
      const t = traceOf(receiver.spans, root.traceId);
      return t.filter((s) => consumer.test(s.name) && s.attributes['messaging.consumer.group.name'] === 'supervisor').length >= 3 && t;
    }, 30_000).catch((err) => { throw new Error(`${(err as Error).message}; spans of the trace so far:\n${describeSpans(traceOf(receiver.spans, root.traceId))}`); });

    const names = new Set(spans.map((s) => s.name));
    for (const n of ['inbox', 'map', 'store.apply', 'publish case.event.applied']) assert.ok(names.has(n), `the trace has a ${n} span:\n${describeSpans(spans)}`);
    // One tree: every span but the root hangs from another span of the trace.
    const ids = new Set(spans.map((s) => s.spanId));
    for (const s of spans) if (s !== root) assert.ok(ids.has(s.parentSpanId), `${s.name} hangs from a span of the trace:\n${describeSpans(spans)}`);
    assert.equal(spans.filter((s) => !s.parentSpanId).length, 1, 'one root');
    // Only this message's work: the outbox dispatcher's round (nudged by its commit) and the alerts
    // the supervisor raised are not counted in it.
    for (const s of spans.filter((x) => x.name.startsWith('consume ') || x.name.startsWith('publish '))) {
      assert.match(s.name, /case\.event\.applied$/, `${s.name} is not part of the batch's trace`);
      assert.ok(codes.includes(String(s.attributes['hub.supervision_code'])), `${s.name} names one of the batch's cases`);
    }

    // Two processes: the gateway's (adapter, inbox, mapping, store) and the workers' (the supervisor's consumer).
    const pidOf = (s: ReceivedSpan) => s.resource['process.pid'];
    assert.equal(pidOf(root), gateway.proc.pid);
    for (const n of ['inbox', 'map', 'store.apply']) assert.equal(pidOf(spans.find((s) => s.name === n)!), gateway.proc.pid, `${n} runs on the gateway node`);
    const consumed = spans.filter((s) => consumer.test(s.name) && s.attributes['messaging.consumer.group.name'] === 'supervisor');
    assert.ok(consumed.every((s) => pidOf(s) === workers.proc.pid), 'the supervisor consumes on the workers\' node');
    assert.deepEqual(new Set(consumed.map((s) => s.attributes['hub.supervision_code'])), new Set(codes), 'the consumer spans name the cases');
    const instances = new Set(spans.map((s) => s.resource['service.instance.id']));
    assert.equal(instances.size, 2, `two instances in the trace: ${[...instances].join(', ')}`);
    assert.equal(root.resource['service.name'], 'case-exchange-hub-test', 'OTEL_SERVICE_NAME names the service');
    assert.deepEqual(receiver.refused, []);
  });

  it('carries a query\'s trace from the gateway node to the node that runs the cases service', async () => {
    assert.ok(code, 'the batch above was applied');
    const view = await getJson(`${gateway.url}/api/v1/cases/${code}`, SUPERVISOR);
    assert.equal(view.status, 200, JSON.stringify(view.body));
    const server = await waitFor('the cases.get action\'s span on the workers\' node', () => receiver.spans.find((s) => s.name === 'action cases.get' && s.resource['process.pid'] === workers.proc.pid), 30_000);
    // Each process exports its spans in its own batches: the caller's may come a little later.
    const client = await waitFor('the call\'s span on the gateway node', () => receiver.spans.find((s) => s.spanId === server.parentSpanId), 10_000)
      .catch(() => assert.fail(`the action's parent was sent:\n${describeSpans(traceOf(receiver.spans, server.traceId))}`));
    assert.equal(client.name, 'call cases.get');
    assert.equal(client.traceId, server.traceId);
    assert.equal(client.resource['process.pid'], gateway.proc.pid, 'the call leaves from the gateway node');
  });

  it('writes log lines as JSON objects that carry the trace id of the message they are about', async () => {
    const lines = gateway.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const processed = lines.find((l) => l.msg === 'message processed' && l.adapter === 'market-regulation');
    assert.ok(processed, 'the gateway logged the batch');
    assert.match(String(processed.messageId), /\S/);
    assert.deepEqual(new Set(processed.supervisionCodes), new Set(codes), JSON.stringify(processed));
    assert.match(String(processed.trace_id), /^[0-9a-f]{32}$/);
    const root = receiver.spans.find((s) => s.attributes['hub.message_id'] === processed.messageId && !s.parentSpanId);
    assert.equal(processed.trace_id, root?.traceId, 'the line names the trace of its message');
  });
});

describe('traces: no OTLP endpoint configured', function () {
  this.timeout(120_000);
  let hub: HubProcess;
  const receivers: OtlpReceiver[] = [];
  after(async () => {
    await hub?.stop();
    for (const r of receivers) await r.close();
  });

  it('sends nothing, not even to the exporter\'s default endpoint, writes no trace ids, and the hub takes a batch', async () => {
    // The exporter's default is http://localhost:4318/v1/traces: a receiver there sees whatever a
    // hub would send without being told where.
    // localhost may be either address.
    receivers.push(await startOtlpReceiver(4318, '127.0.0.1'), await startOtlpReceiver(4318, '::1'));
    const env = { ...cleanEnv(), OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '', OTEL_SERVICE_NAME: 'no-endpoint', OTEL_BSP_SCHEDULE_DELAY: '100', HUB_DATA_DIR: testDataDir('tracing-off'), HUB_POLLING_OFF: 'all' };
    hub = await spawnHub(env);
    const r = await postBatch(`${hub.url}/api/v1/inbound/market-regulation`, fs.readFileSync(SAMPLE));
    assert.equal(r.status, 200);
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
    await waitFor('the batch logged', () => /"msg":"message processed"/.test(hub.output()), 10_000);
    await hub.stop();
    const lines = hub.output().split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 3);
    assert.ok(!lines.some((l) => /"trace_id"/.test(l)), 'no line names a trace');
    assert.ok(!/traces sent over OTLP/.test(hub.output()), 'the hub does not say it sends traces');
    for (const receiver of receivers) {
      assert.deepEqual(receiver.bodies, [], 'nothing reached the default OTLP endpoint');
      assert.deepEqual(receiver.refused, []);
    }
  });
});
