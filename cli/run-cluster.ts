import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { ROOT } from '../core/kernel/paths';
import { withNewKey, writeKeyFile } from '../core/kernel/data-keys';

/**
 * `make run-cluster`: the demo hub as a cluster of three `hub start` processes on this machine,
 * sharing one PostgreSQL database and one NATS namespace, the cluster counterpart of `make run`.
 * Its settings are the hub's own variables where they mean the same for every node (HUB_STORE,
 * HUB_TRANSPORTER, HUB_NAMESPACE, HUB_DATA_KEY_FILE, HUB_HTTP_PORT…), and HUB_CLUSTER_DIR for the
 * folder under which each node gets its data folder.
 *
 *   node dist/cli/run-cluster.js             prepare, start the nodes, run until SIGINT or SIGTERM
 *   node dist/cli/run-cluster.js --prepare   only make the database and the key file (infra/compose.yaml)
 */

/** A node of the cluster: the name its lines are prefixed with, and what it runs. */
export interface ClusterNode {
  name: string;
  /** HUB_SERVICES of the node. */
  services: string[];
  /** Whether the demo departments' simulators run in this node's process (`--with-simulators`). */
  simulators: boolean;
}

/**
 * What runs where. The simulators run in the gateway's process: they post to its URL, and the SMS
 * gateway and the subscriber they start are written into that process's own configuration
 * (cli/hub.ts), so the notifier and the subscriptions, which read it, run there too; elsewhere
 * they would send nothing. infra/compose.yaml gives its nodes the same services (a test holds them
 * together).
 */
export const CLUSTER_NODES: readonly ClusterNode[] = [
  { name: 'gateway', services: ['gateway', 'notifier', 'subscriptions'], simulators: true },
  { name: 'cases', services: ['cases', 'mapping', 'dead-letters', 'files', 'audit', 'keys'], simulators: false },
  { name: 'supervisor', services: ['supervisor', 'evaluations'], simulators: false },
];

/** How long a node may take to say it started (migrations on a fresh database included). */
const START_TIMEOUT_MS = 60_000;
/** How long the gateway may take to see every service on some node (`/health/ready` answers 200). */
const READY_TIMEOUT_MS = 30_000;

interface ClusterSettings {
  store: string;
  transporter: string;
  queue: string;
  namespace: string;
  clusterDir: string;
  keyFile: string;
}

/** The cluster's settings: the environment's, or the local servers of scripts/ensure-services.sh. */
function clusterSettings(env: NodeJS.ProcessEnv): ClusterSettings {
  const clusterDir = path.resolve(env.HUB_CLUSTER_DIR || 'data-cluster');
  return {
    // The user ensure-services.sh's PostgreSQL trusts on loopback, as the tests use it.
    store: env.HUB_STORE || 'postgres://postgres@127.0.0.1:5432/hub_cluster',
    transporter: env.HUB_TRANSPORTER || 'nats://127.0.0.1:4222',
    // The durable jobs (SMS, outbound deliveries) on BullMQ, as a cluster runs them (services/queue/).
    queue: env.HUB_QUEUE || 'redis://127.0.0.1:6379',
    // Not the hub's default `hub`: another hub on the same NATS server must not share its bus.
    namespace: env.HUB_NAMESPACE || 'hub-cluster',
    clusterDir,
    keyFile: path.resolve(env.HUB_DATA_KEY_FILE || path.join(clusterDir, 'keys', 'data-keys.json')),
  };
}

/** A URL as it may be printed: without its password. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Makes the store's database when it does not exist, from the server's maintenance database
 * `postgres`: `hub start` expects its database to be there, and a first `make run-cluster` should
 * not need a psql step.
 */
async function ensureDatabase(store: string): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(store)) throw new Error(`HUB_STORE must be a postgres:// URL for a cluster, not ${shown(store)}`);
  const target = new pg.Client({ connectionString: store, connectionTimeoutMillis: 5000 });
  try {
    await target.connect();
    return;
  } catch (err) {
    // 3D000: the database does not exist. Anything else (no server, a refused user) is the answer.
    if ((err as { code?: string }).code !== '3D000') throw new Error(`cannot connect to ${shown(store)} (HUB_STORE): ${(err as Error).message}`);
  } finally {
    await target.end().catch(() => undefined);
  }
  const url = new URL(store);
  const database = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    process.stdout.write(`run-cluster: made the database ${database} on ${url.host}\n`);
  } catch (err) {
    // 42P04: made by someone else between the two connections, which is as good.
    if ((err as { code?: string }).code !== '42P04') throw new Error(`cannot make the database ${database} of ${shown(store)} (HUB_STORE): ${(err as Error).message}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/**
 * Makes the data key file every node reads, when it does not exist. A node given HUB_DATA_KEY_FILE
 * never makes one itself: three nodes each making their own would seal under three keys.
 */
function ensureKeyFile(file: string): void {
  if (fs.existsSync(file)) return;
  writeKeyFile(file, withNewKey(null));
  process.stdout.write(`run-cluster: made the data key file ${file}\n`);
}

/** A started node process and what is known of it. */
interface RunningNode {
  node: ClusterNode;
  proc: ChildProcess;
  dataDir: string;
  /** The gateway's URL, once the node printed it. */
  url: string | null;
  /** Settles when the node says it started: with its URL (null without HTTP). */
  started: Promise<string | null>;
  /** Settles when the process ends: its exit code, or null when a signal ended it. */
  ended: Promise<number | null>;
  exited: boolean;
}

/** Copies a stream's lines to out, each after the node's name, as `docker compose` shows its services. */
function prefixLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WriteStream, onLine: (line: string) => void): void {
  readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    out.write(`${prefix}${line}\n`);
    onLine(line);
  });
}

/** The port of the index-th node of CLUSTER_NODES: the gateway's HUB_HTTP_PORT (8080 by default), then the next ones; 0 stays 0 (free ports). */
export function nodePort(base: string | undefined, index: number): number {
  const port = base === undefined || base === '' ? 8080 : Number(base);
  return port === 0 ? 0 : port + index;
}

/** The Makefile's variables of how `make run` starts a hub (HUB_NODE_OPTIONS, HUB_NODE_FLAGS, HUB_GLIBC_TUNABLES). */
export interface LaunchVars {
  HUB_NODE_OPTIONS?: string;
  HUB_NODE_FLAGS?: string;
  HUB_GLIBC_TUNABLES?: string;
}

/**
 * A hub process's environment and node flags from those variables: NODE_OPTIONS and GLIBC_TUNABLES
 * where they are set, and the flags that go before the script (NODE_OPTIONS does not take them).
 */
export function launchSettings(vars: LaunchVars): { env: { NODE_OPTIONS?: string; GLIBC_TUNABLES?: string }; flags: string[] } {
  const env: { NODE_OPTIONS?: string; GLIBC_TUNABLES?: string } = {};
  if (vars.HUB_NODE_OPTIONS !== undefined) env.NODE_OPTIONS = vars.HUB_NODE_OPTIONS;
  if (vars.HUB_GLIBC_TUNABLES !== undefined) env.GLIBC_TUNABLES = vars.HUB_GLIBC_TUNABLES;
  return { env, flags: (vars.HUB_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean) };
}

function startNode(node: ClusterNode, settings: ClusterSettings, index: number, width: number): RunningNode {
  const dataDir = path.join(settings.clusterDir, `node-${index + 1}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HUB_STORE: settings.store,
    HUB_TRANSPORTER: settings.transporter,
    HUB_QUEUE: settings.queue,
    HUB_NAMESPACE: settings.namespace,
    HUB_DATA_KEY_FILE: settings.keyFile,
    HUB_DATA_DIR: dataDir,
    HUB_SERVICES: node.services.join(','),
  };
  // The nodes without the gateway answer their probes and Prometheus on a health port: on one
  // machine the ports after the gateway's (8080, then 8081 and 8082); with HUB_HTTP_PORT=0, free ones.
  if (!node.services.includes('gateway')) env.HUB_HEALTH_PORT = String(nodePort(process.env.HUB_HTTP_PORT, index));
  // The heap cap, flags and allocator settings of `make run` (the Makefile passes its HUB_NODE_OPTIONS,
  // HUB_NODE_FLAGS and HUB_GLIBC_TUNABLES).
  const launch = launchSettings(process.env);
  Object.assign(env, launch.env);
  const flags = launch.flags;
  // --demo stands in for HUB_CONFIG only when it is unset, as with `make run`.
  const args = [...flags, path.join(ROOT, 'bin', 'hub.js'), 'start', '--demo', ...(node.simulators ? ['--with-simulators'] : [])];
  // Each node in a process group of its own: a Ctrl-C in the terminal reaches the launcher alone,
  // which passes it on once. A node given the signal twice (by the terminal, then by the launcher)
  // would take the second as the end, without its orderly stop.
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const prefix = `${node.name.padEnd(width)} | `;
  const running: RunningNode = { node, proc, dataDir, url: null, started: null as never, ended: null as never, exited: false };
  running.ended = new Promise((resolve) => proc.once('exit', (code) => { running.exited = true; resolve(code); }));
  running.started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${node.name} did not say it started within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    // The lines cli/hub.ts prints once a node runs: the gateway's URL, or that it serves no HTTP.
    prefixLines(proc.stdout!, prefix, process.stdout, (line) => {
      const listening = /listening on (http:\/\/\S+)/.exec(line);
      if (listening) running.url = listening[1];
      if (listening || line.startsWith('Case exchange hub node started')) {
        clearTimeout(timer);
        resolve(running.url);
      }
    });
    running.ended.then((code) => { clearTimeout(timer); reject(new Error(`${node.name} ended with code ${code ?? `by ${proc.signalCode}`} before it started`)); });
  });
  // Settled before anyone waits on it (a node that dies at once); the caller reads it.
  running.started.catch(() => undefined);
  prefixLines(proc.stderr!, prefix, process.stderr, () => undefined);
  process.stdout.write(`run-cluster: started ${node.name} (pid ${proc.pid}): ${node.services.join(',')}${node.simulators ? ' and the demo simulators' : ''}; data in ${dataDir}\n`);
  return running;
}

/** Polls the gateway's readiness until it answers 200, the time is up, or the cluster stops; the last answer. */
async function waitReady(url: string, stopped: () => boolean): Promise<string> {
  const until = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (!stopped() && Date.now() < until) {
    try {
      const r = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return 'ready';
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return last;
}

export async function main(argv: string[]): Promise<number> {
  const settings = clusterSettings(process.env);
  try {
    await ensureDatabase(settings.store);
    ensureKeyFile(settings.keyFile);
  } catch (err) {
    process.stderr.write(`run-cluster: cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  if (argv.includes('--prepare')) return 0;

  const nodes: RunningNode[] = [];
  // The nodes behind the gateway first: the simulators start posting as soon as the gateway runs,
  // and their first requests should find the services that take them.
  const phases = [CLUSTER_NODES.filter((n) => !n.services.includes('gateway')), CLUSTER_NODES.filter((n) => n.services.includes('gateway'))];
  let stopping = false;
  const stop = (signal: NodeJS.Signals, reason: string = signal) => {
    if (stopping) {
      // A second signal: whoever sends it does not want to wait for the orderly stop.
      const alive = nodes.filter((n) => !n.exited);
      process.stdout.write(`run-cluster: ${signal} again: ending ${alive.map((n) => n.node.name).join(', ') || 'nothing'} at once\n`);
      for (const n of alive) n.proc.kill('SIGKILL');
      return;
    }
    stopping = true;
    process.stdout.write(`run-cluster: ${reason}: stopping ${[...phases].reverse().map((p) => p.map((n) => n.name).join(', ')).join(', then ')}\n`);
    // In the reverse order of the start: the gateway stops taking requests and lets those in
    // flight finish while the services they call still run. SIGHUP (the terminal went away) is not
    // a signal the hub stops on: SIGTERM stands in for it.
    void (async () => {
      for (const phase of [...phases].reverse()) {
        const alive = nodes.filter((n) => phase.includes(n.node) && !n.exited);
        for (const n of alive) n.proc.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal);
        await Promise.all(alive.map((n) => n.ended));
      }
    })();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
  // Nodes run in process groups of their own: should the launcher end any other way, they do not outlive it.
  process.on('exit', () => { for (const n of nodes) if (!n.exited) n.proc.kill('SIGTERM'); });

  const width = Math.max(...CLUSTER_NODES.map((n) => n.name.length));
  let failure: string | null = null;
  for (const phase of phases) {
    if (stopping || failure) break;
    const started = phase.map((node) => startNode(node, settings, CLUSTER_NODES.indexOf(node), width));
    nodes.push(...started);
    try {
      await Promise.all(started.map((n) => n.started));
    } catch (err) {
      // A node ended by the launcher's own stop did not fail to start.
      if (!stopping) failure = (err as Error).message;
    }
  }
  if (failure) {
    process.stderr.write(`run-cluster: cannot start: ${failure} (its lines above say why)\n`);
    stop('SIGTERM', 'a node did not start');
  }

  const gateway = nodes.find((n) => n.url);
  if (!stopping && gateway?.url) {
    const ready = await waitReady(gateway.url, () => stopping);
    if (!stopping) {
      const demo = !process.env.HUB_CONFIG;
      const token = demo ? '   (Authorization: Bearer demo-supervisor-token)' : '';
      process.stdout.write('\n' +
        `Case exchange hub, cluster of ${nodes.length} nodes${ready === 'ready' ? '' : ` — not ready after ${READY_TIMEOUT_MS / 1000} s: ${ready}`}\n` +
        `  store        ${shown(settings.store)}\n` +
        `  transporter  ${shown(settings.transporter)}   namespace ${settings.namespace}\n` +
        `  jobs         ${shown(settings.queue)} (BullMQ)\n` +
        `  data keys    ${settings.keyFile}\n` +
        nodes.map((n) => `  ${n.node.name.padEnd(12)} pid ${String(n.proc.pid).padEnd(8)} ${n.node.services.join(',')}${n.node.simulators ? ' + demo simulators' : ''}   data ${n.dataDir}\n`).join('') +
        `  http         ${gateway.url}${token}\n` +
        `  console      ${gateway.url}/console\n` +
        `  readiness    ${gateway.url}/health/ready\n` +
        'Ctrl-C stops every node (a second Ctrl-C ends them at once).\n\n');
    }
  }

  // A node that ends on its own leaves the others running, as in any cluster: the gateway's
  // readiness names what is missing until the launcher is stopped.
  await Promise.all(nodes.map(async (n) => {
    const code = await n.ended;
    const how = code === null ? `by ${n.proc.signalCode}` : `with code ${code}`;
    const why = stopping ? '' : '; the other nodes keep running (Ctrl-C stops them)';
    process.stdout.write(`run-cluster: ${n.node.name} (pid ${n.proc.pid}) exited ${how}${why}\n`);
  }));
  const codes = await Promise.all(nodes.map((n) => n.ended));
  return !failure && codes.every((c) => c === 0) ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { process.stderr.write(`run-cluster: ${(err as Error)?.stack ?? err}\n`); process.exitCode = 1; },
  );
}
