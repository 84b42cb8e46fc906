// Scenario `cluster`: market-regulation batches of 100 new cases posted to the gateway of the
// three-node cluster `make run-cluster` starts (cli/run-cluster.ts, on a fresh PostgreSQL database,
// NATS, and Redis for the jobs), 8 requests at a time; beside it, as the baseline, the same load on
// one embedded hub started as `make run` starts it, in the same run. For each: the events applied
// per second (from the first post to the last event applied), the request latency, and the CPU per
// event of the hub processes and of the servers beside them. Goal: the cluster applies ≥ 5,000
// events/s on this 2-core machine.
//
// Both hubs run the demo simulators (`--with-simulators`): the launcher has no way to start its
// gateway without them, and the embedded hub is started as `make run` starts it so that the two
// figures share the same background traffic (a few simulator events a second, and the demo
// subscription's delivery of every case change). Our own events are told apart by their case
// numbers.
//
//   BENCH_CLUSTER_SECONDS=20   seconds of load on each hub per run (tiny: 2)
//   HUB_NODE_OPTIONS, HUB_NODE_FLAGS, HUB_GLIBC_TUNABLES   the hubs' Node options and flags and their
//                                      allocator's settings, by default those of `make run`

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import pg from 'pg';
import { Scenario, repeat, row, benchDatabase, hubDataDir } from '../harness';
import { ROOT } from '../../core/kernel/paths';
import { requireNats, requireRedis, deleteStreams, deleteQueueKeys, freePort } from '../../test/support/servers';
import { spawnHub, nodeSettings, cpuSeconds, waitFor, HubProcess, NodeSettings } from '../../test/support/hub';
import { load as loadWith, pct, sleep } from '../../test/bench/webhook-load';

const CONCURRENCY = 8;
const BATCH = 100;
const GOAL_EVENTS_PER_SECOND = 5000;
const INBOUND = '/api/v1/inbound/market-regulation';
const SERVERS = ['postgres', 'nats-server', 'redis-server'];
/** Posts batches of BATCH new cases from CONCURRENCY senders until `seconds` have passed since the first post. */
const load = (url: string, prefix: string, seconds: number) => loadWith(`${url}${INBOUND}`, prefix, seconds, { concurrency: CONCURRENCY, batch: BATCH });

/** What one load run measured. */
export interface Figure {
  label: string;
  accepted: number;
  /** Events answered otherwise (rejected, duplicate) and requests that failed, by reason. */
  refused: Map<string, number>;
  batches: number;
  latencyMs: number[];
  /** Seconds from the first post to the last event applied. */
  appliedSeconds: number;
  /** Seconds from the last answer until the outbox was empty (every event on the bus). */
  outboxSeconds: number;
  /** CPU seconds (user + system) over the measured window, by process or group. */
  cpu: { name: string; seconds: number }[];
  /** CPU seconds of this process, the load generator, over the same window. */
  loadCpu: number;
}

/** One line of /proc/<pid>/stat, its fields after the command name, and the command name. */
function procStat(pid: number): { comm: string; fields: string[] } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
  } catch {
    return null; // ended between the listing and the read
  }
}

/**
 * CPU seconds used so far by the servers beside the hubs, by command name. A PostgreSQL backend
 * is a process per connection that may end within the window: the time of ended backends is read
 * from the postmaster's cutime and cstime (its reaped children), so that the difference of two
 * readings counts them. Shared servers: other work on them during the window is counted too.
 */
function serverCpuSeconds(): Map<string, number> {
  const ticks = 100; // USER_HZ on Linux
  const out = new Map<string, number>([['postgres', 0], ['nats-server', 0], ['redis-server', 0]]);
  const stats = new Map<number, { comm: string; fields: string[] }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const s = procStat(Number(entry));
    if (s && out.has(s.comm)) stats.set(Number(entry), s);
  }
  for (const { comm, fields } of stats.values()) {
    let t = Number(fields[11]) + Number(fields[12]);
    // The postmaster is the postgres process whose parent is not one.
    if (comm === 'postgres' && stats.get(Number(fields[1]))?.comm !== 'postgres') t += Number(fields[13]) + Number(fields[14]);
    out.set(comm, out.get(comm)! + t / ticks);
  }
  return out;
}

/** CPU seconds of the given processes and the servers now, to subtract a later reading from. */
function cpuReading(pids: { name: string; pid: number }[]): Map<string, number> {
  const reading = serverCpuSeconds();
  for (const { name, pid } of pids) {
    const c = cpuSeconds(pid);
    reading.set(name, c.user + c.system);
  }
  const own = process.cpuUsage();
  reading.set('load generator', (own.user + own.system) / 1e6);
  return reading;
}

function cpuSpent(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  return new Map([...after].map(([name, s]) => [name, s - (before.get(name) ?? 0)]));
}

/**
 * Warm-up, then the load, then the drain, on a hub at `url` that is ready. `applied` answers how
 * many of the events under a case-number prefix are in the store (null where the store cannot be
 * read from outside), `outboxEmpty` whether every applied event is on the bus.
 */
async function measure(label: string, url: string, seconds: number, pids: { name: string; pid: number }[], hooks: {
  applied: ((prefix: string) => Promise<number>) | null;
  outboxEmpty: () => Promise<boolean>;
}): Promise<Figure> {
  const tag = Math.random().toString(36).slice(2, 7).toUpperCase();
  // A round of batches first, not counted: connections opened, code compiled, caches warm. Half a
  // second, so that every sender starts before it ends, however busy the machine.
  const warm = await load(url, `SJBENCH${tag}W`, 0.5);
  if (warm.accepted === 0) throw new Error(`${label}: none of the ${warm.batches} warm-up batches was accepted: ${JSON.stringify([...warm.refused])}`);
  const prefix = `SJBENCH${tag}M`;
  const before = cpuReading(pids);
  const run = await load(url, prefix, seconds);

  // The gateway answers once the events are applied (adapters/kit/transports/rest/README.md): the
  // store is read where it can be to hold it to that, and the later moment counts if it is later.
  let appliedAt = run.lastAnswer;
  if (hooks.applied) {
    let first = true;
    await waitFor(`${label}: every accepted event in the events table`, async () => {
      const n = await hooks.applied!(prefix);
      if (n > run.accepted) throw new Error(`${label}: ${n} events stored for ${run.accepted} accepted`);
      if (n === run.accepted && !first) appliedAt = Date.now();
      first = false;
      return n === run.accepted;
    }, 60_000, 100);
  }
  await waitFor(`${label}: the outbox to be empty`, hooks.outboxEmpty, 120_000, 100);
  const outboxAt = Date.now();
  const spent = cpuSpent(before, cpuReading(pids));
  return {
    label, accepted: run.accepted, refused: run.refused, batches: run.batches, latencyMs: run.latencyMs,
    appliedSeconds: (appliedAt - run.firstPost) / 1000,
    outboxSeconds: (outboxAt - run.lastAnswer) / 1000,
    cpu: [...spent].filter(([name]) => name !== 'load generator').map(([name, seconds]) => ({ name, seconds })),
    loadCpu: spent.get('load generator')!,
  };
}

/** How a figure is taken: the hubs' Node settings, seconds of load, and where its database comes from. */
export interface FigureOptions {
  node: NodeSettings;
  seconds: number;
  /** How long the ready hub is left to its simulators' first requests before the load (default 3 s). */
  settleMs?: number;
  database(): Promise<{ url: string; drop(): Promise<void> }>;
}

/** The cluster of `make run-cluster` on a database, namespace and folder of its own, measured. */
export async function clusterFigure(opts: FigureOptions): Promise<Figure> {
  const { node } = opts;
  await requireNats();
  await requireRedis();
  const db = await opts.database();
  const namespace = `bench-cluster-${process.pid}-${Date.now()}`;
  const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cluster-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HUB_STORE: db.url, HUB_NAMESPACE: namespace, HUB_CLUSTER_DIR: clusterDir, HUB_HTTP_PORT: String(port),
    HUB_TRANSPORTER: 'nats://127.0.0.1:4222', HUB_QUEUE: 'redis://127.0.0.1:6379', HUB_LOG_LEVEL: 'info',
    ...node.vars,
  };
  // Whatever this shell sets for one node is not the cluster's.
  for (const name of ['HUB_CONFIG', 'HUB_DATA_KEY_FILE', 'HUB_DATA_DIR', 'HUB_SERVICES']) delete env[name];
  // Only the start of the launcher's output (the node pids) and its tail (why it failed) are kept:
  // every node logs each message it processes, and the whole would grow with the load.
  let head = '';
  let tail = '';
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    if (head.length < 20_000) head += text;
    tail = (tail + text).slice(-8000);
  };
  let launcher: ChildProcess | null = null;
  const pids = () => [...head.matchAll(/^run-cluster: started (\S+) \(pid (\d+)\)/gm)].map((m) => ({ name: m[1], pid: Number(m[2]) }));
  const client = new pg.Client({ connectionString: db.url });
  try {
    launcher = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'run-cluster.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stdout!.on('data', keep);
    launcher.stderr!.on('data', keep);
    await waitFor('the cluster gateway to be ready', async () => {
      if (launcher!.exitCode !== null) throw new Error(`the launcher ended early:\n${tail}`);
      return (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200;
    }, 120_000, 250);
    const nodes = pids();
    if (nodes.length !== 3) throw new Error(`the launcher named ${nodes.length} nodes:\n${head.slice(0, 4000)}`);
    await client.connect();
    // The simulators' first requests (the vehicle office's change history among them) go by first.
    await sleep(opts.settleMs ?? 3000);
    return await measure('cluster', url, opts.seconds, nodes, {
      applied: async (prefix) => Number((await client.query<{ n: string }>(
        "SELECT count(*)::text AS n FROM events WHERE adapter = 'market-regulation' AND body->'data'->>'localCaseId' LIKE $1", [`${prefix}%`])).rows[0].n),
      outboxEmpty: async () => (await client.query('SELECT 1 FROM outbox LIMIT 1')).rowCount === 0,
    });
  } finally {
    await client.end().catch(() => undefined);
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) {
      const exited = new Promise((resolve) => launcher!.once('exit', resolve));
      launcher.kill('SIGTERM');
      const timer = setTimeout(() => launcher!.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    // Nodes run in process groups of their own: one the launcher could not stop is ended here.
    for (const { pid } of pids()) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already ended, as it should have */ }
    }
    await deleteStreams(namespace);
    await deleteQueueKeys(namespace);
    await db.drop();
    fs.rmSync(clusterDir, { recursive: true, force: true });
  }
}

/** One embedded hub as `make run` starts it (PGlite, the demo simulators), measured. */
export async function embeddedFigure(opts: Omit<FigureOptions, 'database'>): Promise<Figure> {
  const { node } = opts;
  const dataDir = hubDataDir(os.tmpdir(), 'bench-embedded-', 'embedded');
  let hub: HubProcess | null = null;
  try {
    hub = await spawnHub({ HUB_DATA_DIR: dataDir, ...node.env, HUB_LOG_LEVEL: 'info' }, ['--with-simulators'], node.flags);
    const url = hub.url;
    await waitFor('the embedded hub to be ready', async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200, 60_000, 250);
    await sleep(opts.settleMs ?? 3000);
    // PGlite cannot be read from another process while the hub holds it: the outbox is read from
    // the hub's own gauge, and the applied events are those the gateway answered as accepted.
    return await measure('embedded', url, opts.seconds, [{ name: 'hub', pid: hub.proc.pid! }], {
      applied: null,
      outboxEmpty: async () => /^hub_queue_depth\{queue="outbox"\} 0$/m.test(await (await fetch(`${url}/metrics`)).text()),
    });
  } finally {
    await hub?.stop('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The two figures side by side, as text, with the goal's verdict. */
export function report(figures: Figure[], node: NodeSettings, seconds: number): string {
  const us = (f: Figure, s: number) => `${((s / Math.max(1, f.accepted)) * 1e6).toFixed(0)} µs`;
  const hubCpu = (f: Figure) => hubProcesses(f).reduce((n, c) => n + c.seconds, 0);
  const server = (f: Figure, name: string) => f.cpu.find((c) => c.name === name)!.seconds;
  const rate = eventsPerSecond;
  const rows: [string, (f: Figure) => string][] = [
    ['events applied', (f) => `${f.accepted.toLocaleString('en')} in ${f.batches.toLocaleString('en')} batches`],
    ['events/s applied', (f) => `${Math.round(rate(f)).toLocaleString('en')} (${f.appliedSeconds.toFixed(1)} s)`],
    ['refused', (f) => f.refused.size ? [...f.refused].map(([why, n]) => `${n} ${why}`).join('; ') : 'none'],
    ['request p50 / p99', (f) => `${pct(f.latencyMs, 0.5).toFixed(0)} / ${pct(f.latencyMs, 0.99).toFixed(0)} ms`],
    ['outbox empty', (f) => `${f.outboxSeconds.toFixed(1)} s after the last answer`],
    ['hub CPU per event', (f) => `${us(f, hubCpu(f))} (${hubCpu(f).toFixed(1)} s)`],
    ['  by process', (f) => hubProcesses(f).map((c) => `${c.name} ${us(f, c.seconds)}`).join(', ')],
    ['PostgreSQL CPU per event', (f) => `${us(f, server(f, 'postgres'))} (${server(f, 'postgres').toFixed(1)} s)`],
    ['NATS / Redis CPU per event', (f) => `${us(f, server(f, 'nats-server'))} / ${us(f, server(f, 'redis-server'))}`],
    ['load generator CPU per event', (f) => us(f, f.loadCpu)],
  ];
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  const col = Math.max(34, ...figures.flatMap((f) => rows.map(([, v]) => v(f).length))) + 2;
  const cluster = figures.find((f) => f.label === 'cluster');
  return [
    '',
    `market-regulation batches of ${BATCH} new cases, ${CONCURRENCY} requests at a time for ${seconds} s, beside the demo simulators; ${os.cpus().length} cores,`,
    `hub NODE_OPTIONS="${node.options}", GLIBC_TUNABLES="${node.tunables}", node flags "${node.flags.join(' ')}"; time from the first post to the last event applied`,
    '',
    `${''.padEnd(width)}${figures.map((f) => (f.label === 'cluster' ? 'cluster: 3 nodes, PostgreSQL' : 'embedded: 1 process, PGlite').padEnd(col)).join('')}`,
    ...rows.map(([name, value]) => `${name.padEnd(width)}${figures.map((f) => value(f).padEnd(col)).join('')}`.trimEnd()),
    '',
    cluster
      ? `goal: the cluster applies ≥ ${GOAL_EVENTS_PER_SECOND.toLocaleString('en')} events/s: ${rate(cluster) >= GOAL_EVENTS_PER_SECOND ? 'met' : 'NOT met'} (${Math.round(rate(cluster)).toLocaleString('en')})`
      : 'goal: not measured (the cluster did not run)',
    'Servers (PostgreSQL, NATS, Redis) are shared: their CPU counts whatever else used them in the window.',
    '',
  ].join('\n');
}


/** Events applied per second, from the first post to the last event applied. */
export const eventsPerSecond = (f: Figure): number => f.accepted / f.appliedSeconds;
/** The hub processes' CPU (the servers' apart), by process. */
export const hubProcesses = (f: Figure): { name: string; seconds: number }[] => f.cpu.filter((c) => !SERVERS.includes(c.name));
/** The hub processes' CPU per event applied, in µs. */
export const hubCpuPerEvent = (f: Figure): number => (hubProcesses(f).reduce((n, c) => n + c.seconds, 0) / Math.max(1, f.accepted)) * 1e6;

export const clusterScenario: Scenario = {
  id: 'cluster',
  title: 'three nodes (PostgreSQL, NATS, Redis) beside the embedded hub: market-regulation batches of 100, 8 at a time',
  async run(ctx) {
    const seconds = ctx.tiny ? 2 : Number(process.env.BENCH_CLUSTER_SECONDS ?? 20);
    const node = nodeSettings();
    const runs = await repeat(ctx, `${seconds} s of load on each`, async () => {
      // Tiny: no pause for the simulators' first requests, which then fall inside the load.
      const settleMs = ctx.tiny ? 0 : 3000;
      const cluster = await clusterFigure({ node, seconds, settleMs, database: () => benchDatabase(ctx.pgAdminUrl, 'cluster') });
      const embedded = await embeddedFigure({ node, seconds, settleMs });
      for (const f of [cluster, embedded]) {
        if (f.refused.size) ctx.log(`${f.label}: refused ${[...f.refused].map(([why, n]) => `${n} ${why}`).join('; ')}`);
      }
      ctx.log(report([cluster, embedded], node, seconds));
      return { cluster, embedded };
    });
    const details = (f: Figure[]) => f.map((x) => ({
      accepted: x.accepted, batches: x.batches, refused: Object.fromEntries(x.refused), appliedSeconds: x.appliedSeconds, outboxSeconds: x.outboxSeconds,
      cpuSeconds: Object.fromEntries(x.cpu.map((c) => [c.name, c.seconds])), loadGeneratorCpuSeconds: x.loadCpu,
    }));
    const common = { scenario: 'cluster', details: { seconds, concurrency: CONCURRENCY, batch: BATCH, node, cluster: details(runs.map((r) => r.cluster)), embedded: details(runs.map((r) => r.embedded)) } };
    const figure = (what: string, unit: string, of: (f: Figure) => number, higherIsBetter: boolean, goal?: { text: string; judge: (v: number) => boolean }) => row(ctx, {
      ...common, figure: `3 nodes, batches of ${BATCH}, c${CONCURRENCY}: ${what}`, unit, higherIsBetter,
      runs: runs.map((r) => of(r.cluster)),
      baseline: { name: 'embedded hub', runs: runs.map((r) => of(r.embedded)) },
      goal: goal?.text, judge: goal?.judge,
    });
    return [
      figure('events/s applied', 'events/s', eventsPerSecond, true, { text: `≥ ${GOAL_EVENTS_PER_SECOND.toLocaleString('en')}/s`, judge: (v) => v >= GOAL_EVENTS_PER_SECOND }),
      figure('request p50', 'ms', (f) => pct(f.latencyMs, 0.5), false),
      figure('request p99', 'ms', (f) => pct(f.latencyMs, 0.99), false),
      figure('hub CPU per event', 'µs', hubCpuPerEvent, false),
    ];
  },
};
