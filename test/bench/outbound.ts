// `make bench`, outbound: an embedded hub (PGlite, one process, as `make run` starts it) with three
// subscriptions, each to a subscriber simulator that takes every delivery at once, while events are
// applied at 2,000 a second. Reports the rate reached, the outbound lag (hub_outbound_lag_seconds,
// the age of the oldest delivery not yet taken, read every 250 ms) and each delivery's time from
// its event's commit to the subscriber. Goal: the lag stays under 1 s.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import type { CanonicalStatus, CaseEvent } from '../../contracts/types';
import { loadConfig } from '../../core/kernel/config';
import { createLogger } from '../../core/kernel/logger';
import { startHub } from '../../cli/start-hub';
import { fork, ChildProcess } from 'node:child_process';
import { startSubscriber, SubscriberSimulator } from '../../infra/simulators/subscriber';
import { taxEvent, vehicleEvent } from '../support/events';

const RATE = Number(process.env.BENCH_OUTBOUND_RATE ?? 2000);
const SECONDS = Number(process.env.BENCH_OUTBOUND_SECONDS ?? 15);
const SUBSCRIBERS = 3;
const TICK_MS = 100;
const STEPS: CanonicalStatus[] = ['SUBMITTED', 'ACCEPTED', 'UNDER_REVIEW', 'APPROVED', 'COMPLETED'];

const benchStart = Date.now() - 3600_000;

/** A moment as the canonical events write it: Beijing time, +08:00. */
function beijing(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().replace(/\.\d+Z$/, '+08:00');
}

function pct(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] : NaN;
}

/** What the subscribers' process tells: their URLs, then what each took (event id and when). */
type FromSubscribers = { urls: string[] } | { taken: { counts: number[]; duplicates: number[] } } | { received: [string, number][][] };

/**
 * The subscribers run in a process of their own, as the systems they stand for run elsewhere: the
 * hub's process spends nothing on answering its own deliveries.
 */
async function subscribersProcess(): Promise<void> {
  const sims: SubscriberSimulator[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) sims.push(await startSubscriber({ keys: { [`bench-${i}`]: `bench-secret-${i}-0123456789` } }));
  process.send!({ urls: sims.map((s) => s.url) });
  process.on('message', async (m: { ask: 'taken' | 'received' | 'close' }) => {
    if (m.ask === 'taken') process.send!({ taken: { counts: sims.map((s) => s.received().length), duplicates: sims.map((s) => s.duplicates()) } });
    if (m.ask === 'received') process.send!({ received: sims.map((s) => s.received().map((d) => [d.id, d.receivedAt])) });
    if (m.ask === 'close') {
      for (const s of sims) await s.close();
      process.exit(0);
    }
  });
}

function ask<T extends FromSubscribers>(child: ChildProcess, what: 'taken' | 'received', key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: FromSubscribers) => {
      if (key in m) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
    child.send({ ask: what });
  });
}

async function main(): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-outbound-'));
  const child = fork(__filename, ['--subscribers'], { stdio: 'inherit' });
  const urls = await new Promise<string[]>((resolve) => child.once('message', (m: { urls: string[] }) => resolve(m.urls)));
  const sims = urls.map((url) => ({ url }));
  const configFile = path.join(dir, 'hub.yaml');
  fs.writeFileSync(configFile, YAML.stringify({
    region: '130100',
    tokens: [{ name: 'operator', token: 'bench-operator', roles: ['operator'] }],
    subscriptions: sims.map((s, i) => ({ id: `bench-${i}`, url: s.url, secret: `bench-secret-${i}-0123456789`, keyId: `bench-${i}`, ...(i === 0 ? { personalData: true } : {}) })),
    outbound: { concurrency: Number(process.env.BENCH_OUTBOUND_CONCURRENCY ?? 32) },
  }));
  const config = loadConfig({ HUB_CONFIG: configFile, HUB_HTTP_PORT: '0', HUB_DATA_DIR: path.join(dir, 'data'), HUB_STORE: 'embedded', HUB_LOG_LEVEL: 'warn', HUB_POLLING_OFF: 'all' });
  const hub = await startHub(config, createLogger(config.logLevel));
  const committed = new Map<string, number>();
  const lagSamples: number[] = [];
  let sampling = true;
  // The lag as operators see it: the gauge the hub keeps (each second) for every subscription.
  const sampler = (async () => {
    while (sampling) {
      const { values } = await hub.context.metrics.outboundLag.get();
      lagSamples.push(Math.max(0, ...values.map((v) => v.value)));
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const total = RATE * SECONDS;
    const perTick = Math.round((RATE * TICK_MS) / 1000);
    const cases = Math.ceil(total / STEPS.length);
    // Step by step over every case: each tick applies the next events of the next cases, interleaved.
    const eventAt = (n: number): CaseEvent => {
      const c = n % cases;
      const step = Math.floor(n / cases);
      const local = `OB-${c}`;
      // Today's events, a minute apart per step: current cases, within their deadlines, as a steady
      // day brings them (old ones would turn RED at once and add the supervisor's alerts).
      const time = beijing(new Date(benchStart + step * 60_000));
      return c % 2 ? vehicleEvent(`${local}-${step}`, local, STEPS[step], time) : taxEvent(`${local}-${step}`, local, STEPS[step], time);
    };
    const t0 = Date.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / TICK_MS + 1) * perTick));
      if (due > sent) {
        const events = Array.from({ length: due - sent }, (_, i) => eventAt(sent + i));
        await hub.context.store.cases.apply(events, { receivedAt: new Date() });
        const now = Date.now();
        for (const e of events) committed.set(e.id, now);
        sent = due;
      }
      const next = t0 + Math.ceil((Date.now() - t0 + 1) / TICK_MS) * TICK_MS;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    const applySeconds = (Date.now() - t0) / 1000;
    const drainStart = Date.now();
    let taken = await ask<{ taken: { counts: number[]; duplicates: number[] } }>(child, 'taken', 'taken');
    while (taken.taken.counts.some((n) => n < total)) {
      if (Date.now() - drainStart > 300_000) throw new Error(`deliveries not all taken within 5 minutes after the last event (${taken.taken.counts.join(', ')} of ${total})`);
      await new Promise((r) => setTimeout(r, 100));
      taken = await ask(child, 'taken', 'taken');
    }
    const drained = (Date.now() - drainStart) / 1000;
    sampling = false;
    await sampler;
    console.log(`outbound bench: ${total.toLocaleString('en')} events applied in ${applySeconds.toFixed(1)} s (${Math.round(total / applySeconds).toLocaleString('en')}/s offered at ${RATE.toLocaleString('en')}/s), embedded store, ${SUBSCRIBERS} subscriptions`);
    const { received } = await ask<{ received: [string, number][][] }>(child, 'received', 'received');
    let worst = 0;
    for (const [i, list] of received.entries()) {
      const ms = list.filter(([id]) => committed.has(id)).map(([id, at]) => at - committed.get(id)!);
      worst = Math.max(worst, ...ms);
      console.log(`  bench-${i}${i === 0 ? ' (personal data)' : ''}: commit to subscriber p50 ${pct(ms, 0.5).toFixed(0)} ms, p99 ${pct(ms, 0.99).toFixed(0)} ms, max ${Math.max(...ms).toFixed(0)} ms; duplicates ${taken.taken.duplicates[i]}`);
    }
    const maxLag = Math.max(...lagSamples);
    console.log(`  hub_outbound_lag_seconds, every 250 ms: p50 ${pct(lagSamples, 0.5).toFixed(2)} s, p99 ${pct(lagSamples, 0.99).toFixed(2)} s, max ${maxLag.toFixed(2)} s; the deliveries ended ${drained.toFixed(1)} s after the last event`);
    console.log(worst < 1000 && maxLag < 1 ? '  within the goal: every delivery reached its subscriber within 1 s of its event\'s commit'
      : `  goal missed: a delivery reached its subscriber ${(worst / 1000).toFixed(1)} s after its event's commit (goal < 1 s)`);
    return 0;
  } finally {
    sampling = false;
    await sampler.catch(() => undefined);
    await hub.stop();
    child.send({ ask: 'close' });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--subscribers')) {
  void subscribersProcess();
} else {
  main().then((code) => process.exit(code), (err) => {
    console.error(err);
    process.exit(1);
  });
}
