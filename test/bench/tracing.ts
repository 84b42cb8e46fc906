// `make bench`, tracing: the cost of traces on the webhook. An embedded hub started as `make run`
// starts it (without the simulators), loaded with market-regulation batches of 100 new cases, 4
// requests at a time, once with no OTLP endpoint (tracing off: the SDK is not even loaded) and once
// sending every span to an OTLP/HTTP receiver in this process (OTEL_TRACES_SAMPLER=always_on), twice
// each, alternating (runs of the same code on this machine spread by ±15 %). Reports for each run the
// events accepted per second, the request latency, the hub's CPU per event and the spans received.
//
// BENCH_TRACING_SECONDS (default 10) is how long each run loads the hub; HUB_NODE_OPTIONS,
// HUB_NODE_FLAGS and HUB_GLIBC_TUNABLES the hub's Node options and flags and its allocator's settings, by
// default those of `make run`.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnHub, nodeSettings, cpuSeconds, NodeSettings, waitFor, HubProcess } from '../support/hub';
import { startOtlpReceiver, tracingEnv, OtlpReceiver } from '../support/otlp-receiver';
import { load, pct, sleep } from './webhook-load';

const SECONDS = Number(process.env.BENCH_TRACING_SECONDS ?? 10);
const CONCURRENCY = 4;
const BATCH = 100;
const INBOUND = '/api/v1/inbound/market-regulation';

interface Run {
  tracing: boolean;
  accepted: number;
  refused: number;
  seconds: number;
  latencyMs: number[];
  cpuSeconds: number;
  spans: number;
}

async function run(tracing: boolean, node: NodeSettings): Promise<Run> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-tracing-'));
  let hub: HubProcess | null = null;
  let receiver: OtlpReceiver | null = null;
  try {
    receiver = tracing ? await startOtlpReceiver() : null;
    // Off: no OTEL_* endpoint at all, whatever this process's environment holds.
    const otel = receiver ? tracingEnv(receiver, 'bench') : { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' };
    hub = await spawnHub({ ...otel, OTEL_TRACES_SAMPLER: 'always_on', HUB_DATA_DIR: dataDir, HUB_POLLING_OFF: 'all', ...node.env, HUB_LOG_LEVEL: 'warn' }, [], node.flags);
    const url = hub.url;
    await waitFor('the hub to be ready', async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200, 60_000, 250);
    const warm = await load(`${url}${INBOUND}`, `SJTRACE${tracing ? 'T' : 'O'}W`, 1, { concurrency: CONCURRENCY, batch: BATCH });
    if (warm.accepted === 0) throw new Error(`the warm-up batches were not accepted: ${JSON.stringify([...warm.refused])}`);
    await sleep(1000);
    const spansBefore = receiver?.spans.length ?? 0;
    const cpu0 = cpuSeconds(hub.proc.pid!);
    const r = await load(`${url}${INBOUND}`, `SJTRACE${tracing ? 'T' : 'O'}${Date.now().toString(36).toUpperCase()}`, SECONDS, { concurrency: CONCURRENCY, batch: BATCH });
    // The work the requests began (the outbox, the consumers, the spans' export) counts too.
    await waitFor('the outbox to be empty', async () => /^hub_queue_depth\{queue="outbox"\} 0$/m.test(await (await fetch(`${url}/metrics`)).text()), 120_000, 100);
    await sleep(500);
    const cpu1 = cpuSeconds(hub.proc.pid!);
    return {
      tracing, accepted: r.accepted, refused: [...r.refused.values()].reduce((a, b) => a + b, 0), seconds: (r.lastAnswer - r.firstPost) / 1000,
      latencyMs: r.latencyMs, cpuSeconds: cpu1.user + cpu1.system - cpu0.user - cpu0.system, spans: (receiver?.spans.length ?? 0) - spansBefore,
    };
  } finally {
    await hub?.stop('SIGTERM');
    await receiver?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const node = nodeSettings();
  const runs: Run[] = [];
  for (const tracing of [false, true, false, true]) runs.push(await run(tracing, node));
  const lines = runs.map((r) => [
    r.tracing ? 'on (OTLP/HTTP, all sampled)' : 'off (no endpoint)',
    `${Math.round(r.accepted / r.seconds).toLocaleString('en')}`,
    `${pct(r.latencyMs, 0.5).toFixed(0)} / ${pct(r.latencyMs, 0.99).toFixed(0)} ms`,
    `${((r.cpuSeconds / Math.max(1, r.accepted)) * 1e6).toFixed(0)} µs`,
    r.tracing ? r.spans.toLocaleString('en') : '-',
    r.refused ? `${r.refused} refused` : '',
  ]);
  const head = ['tracing', 'events/s', 'request p50 / p99', 'hub CPU per event', 'spans received', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)) + 2);
  const row = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('').trimEnd();
  process.stdout.write([
    '',
    `tracing: market-regulation batches of ${BATCH} new cases, ${CONCURRENCY} requests at a time for ${SECONDS} s, embedded hub (PGlite); ${os.cpus().length} cores`,
    `hub NODE_OPTIONS="${node.options}", GLIBC_TUNABLES="${node.tunables}", node flags "${node.flags.join(' ')}"`,
    '',
    row(head),
    ...lines.map(row),
    '',
  ].join('\n'));
  return runs.every((r) => r.refused === 0 && (!r.tracing || r.spans > 0)) ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
