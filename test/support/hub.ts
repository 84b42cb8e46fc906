import fs from 'node:fs';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { loadConfig } from '../../core/kernel/config';
import { createLogger } from '../../core/kernel/logger';
import { startHub, RunningHub } from '../../cli/start-hub';
import { ROOT, DEMO_CONFIG } from '../../core/kernel/paths';
import { createTestDatabase, busDrained } from './servers';
import { storeExists } from '../../services/store/pglite-driver';
import { Target, startClusterBehind, clusterReady } from './cluster';
import { launchSettings } from '../../cli/run-cluster';

export type StoreKind = 'embedded' | 'postgres';
/** Every store the behaviour suites run on. */
export const STORES: StoreKind[] = ['embedded', 'postgres'];

export const SUPERVISOR = { Authorization: 'Bearer demo-supervisor-token' };
export const OPERATOR = { Authorization: 'Bearer demo-operator-token' };

/**
 * An empty embedded store migrated to this build, made once per `make test` run by scripts/test.sh
 * (test/support/store-template.ts): a PGlite folder costs about 4 s of CPU to create (initdb and
 * the migrations in WebAssembly) and 0.1 s to copy, and the suite makes dozens.
 */
export const STORE_TEMPLATE = path.join(ROOT, '.test-data', '.store-template');

/**
 * A data folder of its own for a test. It holds a copy of the template's embedded store, when there
 * is one (a test file run alone without it makes its store from scratch), unless `store: 'none'`:
 * - a folder whose hub keeps its data in PostgreSQL, or that holds only a configuration or keys,
 *   needs none (the copy is 40 MB, and the suite makes hundreds of folders);
 * - a test of how a store is created or migrated gets none, so that its hub makes one.
 */
export function testDataDir(label: string, opts: { store?: 'template' | 'none' } = {}): string {
  const dir = path.join(ROOT, '.test-data', `${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  fs.mkdirSync(dir, { recursive: true });
  const template = path.join(STORE_TEMPLATE, 'store');
  if (opts.store !== 'none' && storeExists(template)) copyStore(template, dir);
  return dir;
}

/** Copies the embedded store in `from` into a hub's data folder (its `store`), where the hub opens it rather than make one. */
export function copyStore(from: string, dataDir: string): void {
  if (!storeExists(from)) throw new Error(`${from} holds no embedded store`);
  fs.cpSync(from, path.join(dataDir, 'store'), { recursive: true });
}

/** What testDataDir copies for a hub on this kind of store: the embedded store's template, or nothing. */
export function storeFor(kind: 'embedded' | 'postgres' | 'cluster'): { store: 'template' | 'none' } {
  return { store: kind === 'embedded' ? 'template' : 'none' };
}

/** The bus namespace of each cluster startTestHub started, by its gateway's URL (settled() reads it). */
const clusterNamespaces = new Map<string, string>();

export interface TestHub {
  url: string;
  hub: RunningHub;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * A hub with the demo configuration (unless env names another), on a free port: in this process on a
 * store of the given kind, or, for 'cluster', as the three nodes of `make run-cluster` with the
 * gateway's in this process (support/cluster.ts), so that `hub` is the node that takes departments'
 * messages and `hub.context.store` the cluster's store.
 */
export async function startTestHub(kind: Target, env: Record<string, string> = {}): Promise<TestHub> {
  const dataDir = testDataDir(kind, storeFor(kind));
  const behind = kind === 'cluster' ? await startClusterBehind('gateway', { HUB_DATA_DIR: dataDir, HUB_CONFIG: env.HUB_CONFIG ?? DEMO_CONFIG }) : null;
  const db = kind === 'postgres' ? await createTestDatabase() : null;
  let hub: RunningHub;
  try {
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db ? db.url : 'embedded', HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent', ...behind?.env, ...env });
    hub = await startHub(config, createLogger(config.logLevel));
    if (behind) await clusterReady(hub.url!, behind).catch(async (err) => { await hub.stop(); throw err; });
    if (behind) clusterNamespaces.set(hub.url!, behind.namespace);
  } catch (err) {
    await behind?.stop();
    await db?.drop();
    throw err;
  }
  return {
    url: hub.url!,
    hub,
    dataDir,
    async stop() {
      clusterNamespaces.delete(hub.url!);
      await hub.stop();
      await db?.drop();
      await behind?.stop();
    },
  };
}

export interface HubProcess {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** Sends a signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How `make run` starts the hub: Node's options and flags, and the C library's memory settings. */
export interface NodeSettings {
  /** NODE_OPTIONS (the heap cap). */
  options: string;
  /** Flags before the script, which NODE_OPTIONS does not take. */
  flags: string[];
  /** GLIBC_TUNABLES (the allocator's arenas and mmap threshold). */
  tunables: string;
  /** The environment of those: NODE_OPTIONS and GLIBC_TUNABLES, for a spawned hub's env. */
  env: { NODE_OPTIONS: string; GLIBC_TUNABLES: string };
  /** The same as the Makefile's variables, for a launcher that starts hubs itself (cli/run-cluster.ts). */
  vars: { HUB_NODE_OPTIONS: string; HUB_NODE_FLAGS: string; HUB_GLIBC_TUNABLES: string };
}

type SettingName = keyof NodeSettings['vars'];

/** The settings, each Makefile variable's value given by `value`. */
function settingsOf(value: (name: SettingName) => string): NodeSettings {
  const vars = { HUB_NODE_OPTIONS: value('HUB_NODE_OPTIONS'), HUB_NODE_FLAGS: value('HUB_NODE_FLAGS'), HUB_GLIBC_TUNABLES: value('HUB_GLIBC_TUNABLES') };
  // As `make run-cluster`'s launcher turns them into a node's environment and flags.
  const { flags } = launchSettings(vars);
  return {
    options: vars.HUB_NODE_OPTIONS,
    flags,
    tunables: vars.HUB_GLIBC_TUNABLES,
    env: { NODE_OPTIONS: vars.HUB_NODE_OPTIONS, GLIBC_TUNABLES: vars.HUB_GLIBC_TUNABLES },
    vars,
  };
}

/** A Makefile variable's default (`NAME ?= value`). */
function makefileDefault(name: SettingName): string {
  const m = new RegExp(`^${name} \\?= ?(.*)$`, 'm').exec(fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8'));
  if (!m) throw new Error(`the Makefile sets no default for ${name}`);
  return m[1].trim();
}

/**
 * The Node options and flags, and the allocator's settings, `make run` starts the hub with
 * (HUB_NODE_OPTIONS, HUB_NODE_FLAGS and HUB_GLIBC_TUNABLES in the Makefile), so that a test
 * measures the hub as users run it.
 */
export function makeRunNode(): NodeSettings {
  return settingsOf(makefileDefault);
}

/**
 * The Node options and flags of a hub a bench starts: `make run`'s, unless HUB_NODE_OPTIONS,
 * HUB_NODE_FLAGS or HUB_GLIBC_TUNABLES say otherwise (a profile: HUB_NODE_FLAGS="--single-threaded-gc
 * --cpu-prof …"; the C library's defaults: HUB_GLIBC_TUNABLES=).
 */
export function nodeSettings(): NodeSettings {
  return settingsOf((name) => process.env[name] ?? makefileDefault(name));
}

/**
 * Starts `hub start --demo` as `make run` does (the built CLI, the demo configuration unless env
 * names HUB_CONFIG), in its own process; nodeFlags go to node before the script (V8 flags that
 * NODE_OPTIONS does not take).
 */
export async function spawnHub(env: Record<string, string>, args: string[] = [], nodeFlags: string[] = []): Promise<HubProcess> {
  const node = await spawnNode(env, args, nodeFlags);
  if (node.url === null) {
    await node.stop('SIGKILL');
    throw new Error(`hub started without a gateway (HUB_SERVICES), so with no URL:\n${node.output()}`);
  }
  return { ...node, url: node.url };
}

/**
 * A `hub start` process of its own, as spawnHub starts it, on a node that may run no gateway: it
 * settles once the node says it started, with its gateway's URL, or null without one.
 */
export async function spawnNode(env: Record<string, string>, args: string[] = [], nodeFlags: string[] = []): Promise<Omit<HubProcess, 'url'> & { url: string | null }> {
  const startArgs = args.includes('--demo') ? args : ['--demo', ...args];
  const proc = spawn(process.execPath, [...nodeFlags, path.join(ROOT, 'bin', 'hub.js'), 'start', ...startArgs], {
    cwd: ROOT,
    env: { ...process.env, HUB_HTTP_PORT: '0', HUB_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => { out += c; });
  proc.stderr!.on('data', (c) => { out += c; });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code, sig) => resolve(code ?? (sig ? -1 : null))));
  const url = await new Promise<string | null>((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`hub did not start within 60 s:\n${out}`)); }, 60_000);
    const check = () => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m || out.includes('Case exchange hub node started')) { clearTimeout(timer); proc.stdout!.off('data', check); resolve(m ? m[1] : null); }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`hub exited with ${code} before listening:\n${out}`)); });
  });
  return {
    url, proc,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Resident memory of a process (a hub started by spawnHub), in bytes. */
export function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
}

/** CPU time a process has used so far, user and system, over all its threads (Linux), in seconds. */
export function cpuSeconds(pid: number): { user: number; system: number } {
  return statCpu(`/proc/${pid}/stat`);
}

/**
 * CPU time (user + system, seconds) of each thread of a process now alive, by thread id (Linux).
 * A thread that ended is in cpuSeconds only.
 */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const { user, system } = statCpu(`/proc/${pid}/task/${tid}/stat`);
      out.set(Number(tid), user + system);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return out;
}

function statCpu(file: string): { user: number; system: number } {
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const stat = fs.readFileSync(file, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = 100; // USER_HZ on Linux
  return { user: Number(fields[11]) / ticks, system: Number(fields[12]) / ticks };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any; contentType: string }> {
  const r = await fetch(url, { headers });
  const text = await r.text();
  let body: any = text;
  try { body = JSON.parse(text); } catch { /* not JSON: kept as text */ }
  return { status: r.status, body, contentType: r.headers.get('content-type') ?? '' };
}

/** Polls `check` until it answers something truthy (and answers that), failing after `timeoutMs` with what was awaited. */
export async function waitFor<T>(what: string, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until every event applied so far has been handled by the bus's consumers (the supervisor
 * among them) and their alerts published: the outbox and the alerts queue are empty. Embedded, an
 * outbox entry is deleted only once every consumer has handled its event.
 */
export async function settled(url: string, timeoutMs = 30_000): Promise<void> {
  // In a cluster the outbox empties once its events are on JetStream: the consumers on the other
  // nodes have then still to take them.
  const namespace = clusterNamespaces.get(url);
  await waitFor('the bus consumers to handle every applied event', async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const depth = (queue: string) => Number(new RegExp(`^hub_queue_depth\\{queue="${queue}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return depth('outbox') === 0 && depth('alerts') === 0 && (!namespace || await busDrained(namespace));
  }, timeoutMs, 50);
}

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `hub start` as an operator runs it, in its own process, until it ends (killed after 20 s: a hang is a failure). */
export function hubStart(env: Record<string, string>, args: string[] = []): Promise<Ended> {
  const started = Date.now();
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('HUB_')) delete base[k];
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin', 'hub.js'), 'start', ...args], {
    cwd: ROOT, env: { ...base, HUB_HTTP_PORT: '0', HUB_DATA_DIR: testDataDir('start-failure'), HUB_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c) => { stdout += c; });
  proc.stderr!.on('data', (c) => { stderr += c; });
  const hang = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => proc.once('close', (code, signal) => {
    clearTimeout(hang);
    resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
  }));
}

/** The readiness answer once it has the wanted status, within timeoutMs. */
export async function readyWith(url: string, status: number, timeoutMs: number): Promise<{ status: number; body: any; contentType: string; ms: number }> {
  const started = Date.now();
  let last: { status: number; body: any; contentType: string } | null = null;
  try {
    await waitFor(`/health/ready ${status}`, async () => {
      last = await getJson(`${url}/health/ready`);
      return last.status === status;
    }, timeoutMs, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last answer ${JSON.stringify(last)}`);
  }
  return { ...last!, ms: Date.now() - started };
}
