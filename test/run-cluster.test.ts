import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import YAML from 'yaml';
import { postBatch } from '../infra/simulators/market-regulation';
import { ROOT } from '../core/kernel/paths';
import { SERVICE_NAMES } from '../cli/start-hub';
import { CLUSTER_NODES } from '../cli/run-cluster';
import { createTestDatabase, requireNats, deleteStreams, deleteQueueKeys, freePort } from './support/servers';
import { testDataDir, getJson, waitFor, makeRunNode, SUPERVISOR } from './support/hub';

const SAMPLE = path.join(ROOT, 'adapters', 'market-regulation', 'samples', 'batch-01.json');
const COMPOSE = path.join(ROOT, 'infra', 'compose.yaml');


/** Whether a process of this id runs (or has not been reaped). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('make run-cluster: three hub processes on the local PostgreSQL and NATS', function () {
  this.timeout(180_000);
  let launcher: ChildProcess | null = null;
  let output = '';
  let namespace = '';
  let drop: (() => Promise<void>) | null = null;
  /** The node processes the launcher said it started. */
  const pids = () => [...output.matchAll(/^run-cluster: started (\S+) \(pid (\d+)\)/gm)].map((m) => ({ name: m[1], pid: Number(m[2]) }));

  after(async () => {
    // A launcher that failed the test is ended, and its nodes with it: they run in process groups of their own.
    if (launcher && launcher.exitCode === null && launcher.signalCode === null) launcher.kill('SIGKILL');
    for (const { pid } of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    if (namespace) await deleteStreams(namespace);
    if (namespace) await deleteQueueKeys(namespace);
    await drop?.();
  });

  it('starts the demo cluster, takes a batch at the gateway, lights it on the supervisor node, and stops every node cleanly on SIGTERM', async () => {
    await requireNats();
    const db = await createTestDatabase();
    drop = db.drop;
    namespace = `test-run-cluster-${process.pid}-${Date.now()}`;
    const port = await freePort();
    const node = makeRunNode();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HUB_HTTP_PORT: String(port), HUB_NAMESPACE: namespace, HUB_STORE: db.url, HUB_TRANSPORTER: 'nats://127.0.0.1:4222',
      HUB_CLUSTER_DIR: testDataDir('run-cluster'), HUB_LOG_LEVEL: 'info',
      // The heap cap, flags and allocator settings the Makefile gives the launcher.
      ...node.vars,
    };
    // Whatever the test's own environment sets for one node is not the cluster's.
    for (const name of ['HUB_CONFIG', 'HUB_DATA_KEY_FILE', 'HUB_DATA_DIR', 'HUB_SERVICES']) delete env[name];
    launcher = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli', 'run-cluster.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    launcher.stdout!.on('data', (c) => { output += c; });
    launcher.stderr!.on('data', (c) => { output += c; });
    const exited = new Promise<number | null>((resolve) => launcher!.once('exit', (code) => resolve(code)));
    const url = `http://127.0.0.1:${port}`;

    await waitFor('the gateway to be ready (every service on some node)', async () => {
      assert.equal(launcher!.exitCode, null, `the launcher ended early:\n${output.slice(-4000)}`);
      return (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200;
    }, 120_000, 250);
    assert.deepEqual(pids().map((p) => p.name).sort(), CLUSTER_NODES.map((n) => n.name).sort(), output.slice(-4000));
    // Each node runs with the heap cap and the allocator settings of `make run`.
    for (const p of pids()) {
      const environ = `\0${fs.readFileSync(`/proc/${p.pid}/environ`, 'utf8')}`;
      assert.ok(environ.includes(`\0NODE_OPTIONS=${node.options}\0`), p.name);
      // The C library's loader (glibc 2.36) ends each tunable it has read with a NUL in place, so
      // that the process's initial environment may show the variable as its tunables one by one.
      const as = [node.tunables, node.tunables.split(':').join('\0')].map((v) => `\0GLIBC_TUNABLES=${v}\0`);
      assert.ok(as.some((v) => environ.includes(v)), `${p.name}: GLIBC_TUNABLES=${node.tunables}`);
    }
    // The launcher sees the same readiness a moment later, and then says what runs where.
    await waitFor('the launcher to print the gateway URL', () => new RegExp(`^  http +${url.replace(/\./g, '\\.')}`, 'm').test(output), 10_000);

    // The demo simulators post their own cases meanwhile; the sample's case numbers are not theirs.
    const r = await postBatch(`${url}/api/v1/inbound/market-regulation`, fs.readFileSync(SAMPLE));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual((r.body as any).results.map((x: any) => x.result), ['accepted', 'accepted', 'accepted']);
    const code = (r.body as any).results[0].supervisionCode;
    // Read through the gateway from the cases node; the light only the supervisor node computes.
    const view = await waitFor('the supervisor node to light the case', async () => {
      const v = await getJson(`${url}/api/v1/cases/${code}`, SUPERVISOR);
      assert.equal(v.status, 200, JSON.stringify(v.body));
      return v.body.light !== null && v.body;
    }, 10_000, 200);
    assert.equal(view.status, 'ACCEPTED');
    assert.ok(['GREEN', 'YELLOW', 'RED'].includes(view.light), view.light);

    const nodes = pids();
    const stopped = Date.now();
    launcher.kill('SIGTERM');
    const timer = setTimeout(() => launcher?.kill('SIGKILL'), 20_000);
    const launcherExit = await exited;
    clearTimeout(timer);
    assert.ok(Date.now() - stopped < 20_000, `the cluster took ${Date.now() - stopped} ms to stop:\n${output.slice(-4000)}`);
    for (const n of nodes) {
      assert.match(output, new RegExp(`^run-cluster: ${n.name} \\(pid ${n.pid}\\) exited with code 0$`, 'm'), output.slice(-4000));
      assert.equal(alive(n.pid), false, `${n.name} (pid ${n.pid}) still runs`);
    }
    assert.equal(launcherExit, 0, output.slice(-4000));
  });
});

describe('infra/compose.yaml: the same cluster for a container engine', () => {
  interface ComposeService { environment?: Record<string, string>; build?: { context: string; dockerfile: string }; volumes?: string[] }
  // Compose takes YAML merge keys (`<<: *hub-env`): the file shares the nodes' settings that way.
  const compose = YAML.parse(fs.readFileSync(COMPOSE, 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const hubs = Object.entries(compose.services).filter(([, s]) => s.environment?.HUB_SERVICES);
  const servicesOf = (s: ComposeService) => s.environment!.HUB_SERVICES.split(',').map((n) => n.trim());

  it('runs every service on some node, and no name that is not one', () => {
    const covered = new Set(hubs.flatMap(([, s]) => servicesOf(s)));
    assert.deepEqual(SERVICE_NAMES.filter((n) => !covered.has(n)), [], 'services no node runs');
    assert.deepEqual([...covered].filter((n) => !SERVICE_NAMES.includes(n)), [], 'names that are no service');
  });

  it('gives its nodes the services make run-cluster gives them', () => {
    const sorted = (lists: string[][]) => lists.map((l) => [...l].sort().join(',')).sort();
    assert.deepEqual(sorted(hubs.map(([, s]) => servicesOf(s))), sorted(CLUSTER_NODES.map((n) => n.services)));
  });

  it('has every node share one namespace, store, transporter and data key file, mounted into each', () => {
    for (const name of ['HUB_NAMESPACE', 'HUB_DATA_KEY_FILE', 'HUB_STORE', 'HUB_TRANSPORTER']) {
      const values = new Set(hubs.map(([, s]) => s.environment![name]));
      assert.equal(values.size, 1, `${name}: ${[...values].join(' | ')}`);
      assert.ok([...values][0], `${name} is set`);
    }
    const keyDir = path.posix.dirname(hubs[0][1].environment!.HUB_DATA_KEY_FILE);
    for (const [id, s] of hubs) assert.ok((s.volumes ?? []).some((v) => v.split(':')[1] === keyDir), `${id} mounts ${keyDir}`);
  });

  it('starts every node with the heap cap and the allocator settings of make run', () => {
    const node = makeRunNode();
    for (const [id, s] of hubs) {
      assert.equal(s.environment!.NODE_OPTIONS, node.options, id);
      assert.equal(s.environment!.GLIBC_TUNABLES, node.tunables, id);
    }
  });

  it('builds the hub from a Dockerfile that exists', () => {
    for (const [id, s] of hubs) {
      assert.ok(s.build, `${id} has a build`);
      assert.ok(fs.existsSync(path.resolve(path.dirname(COMPOSE), s.build.context, s.build.dockerfile)), `${id}: ${s.build.context}/${s.build.dockerfile}`);
    }
  });
});
