import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { ROOT, DEMO_CONFIG } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub } from '../cli/start-hub';
import { testDataDir, getJson, spawnHub, HubProcess, SUPERVISOR, hubStart, Ended } from './support/hub';

// Acceptance (issue 15, item 6): `hub start` with no HUB_CONFIG exits non-zero with a message that
// names HUB_CONFIG and --demo; so do a port in use, an unreachable store and a misspelt
// HUB_SERVICES, each within 5 s, in one line and without a stack trace. `make run` still starts the demo.


/** A port nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A server that takes connections and never says a word: a store host that does not answer. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((sock) => { sockets.add(sock); sock.on('error', () => undefined); });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    port: (s.address() as net.AddressInfo).port,
    close: () => new Promise<void>((r) => { for (const x of sockets) x.destroy(); s.close(() => r()); }),
  };
}

/** A failed start and how long it took beyond a start that fails at its first check, run at the same moment. */
type TimedEnd = Ended & { beyondMs: number };

/**
 * `hub start` with `env`, and beside it, at the same moment, one that fails at its first check (no
 * HUB_CONFIG): Node's start and the loading of the hub, as this machine is loaded now. Idle, that
 * start takes about half a second; while the suite's other files keep both cores busy it has taken
 * three, and a start giving up after its 2 s connect timeout was then seen to end after 5.4 s. So
 * the 5 s are asserted as a budget beyond the reference start's half second, not as wall time.
 */
async function hubStartTimed(env: Record<string, string>): Promise<TimedEnd> {
  const [r, ref] = await Promise.all([hubStart(env), hubStart({})]);
  return { ...r, beyondMs: r.ms - ref.ms };
}

/** The reference start's time on an idle machine (hubStartTimed), within the 5 s a failed start has. */
const IDLE_START_MS = 500;

/** What every failed start shows: a non-zero exit of its own, one line on stderr, no stack anywhere, within 5 s. */
function assertOneLineFailure(r: TimedEnd, line: RegExp): void {
  const output = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assert.equal(r.signal, null, `the hub ended by itself, not killed after hanging (${r.ms} ms)\n${output}`);
  assert.notEqual(r.code, 0, output);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `one line on stderr\n${output}`);
  assert.match(lines[0], /^hub: cannot start: /);
  assert.match(lines[0], line);
  assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, `no stack trace\n${output}`);
  assert.doesNotMatch(r.stderr + r.stdout, /\\n\s+at /, `no stack trace inside a log line\n${output}`);
  assert.ok(r.beyondMs < 5000 - IDLE_START_MS, `ended within 5 s: ${r.ms} ms, ${r.beyondMs} ms more than a start that fails at once\n${output}`);
}

describe('hub start: a start that cannot succeed says why in one line and exits within 5 s', function () {
  this.timeout(60_000);
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => { for (const c of cleanup.splice(0)) await c(); });

  it('without HUB_CONFIG (and without --demo): names HUB_CONFIG and --demo', async () => {
    const r = await hubStartTimed({});
    assertOneLineFailure(r, /HUB_CONFIG is not set.*`hub start --demo`/);
  });

  it('with HUB_CONFIG naming a file that is not there', async () => {
    const missing = path.join(testDataDir('no-config', { store: 'none' }), 'hub.yaml');
    const r = await hubStartTimed({ HUB_CONFIG: missing });
    assertOneLineFailure(r, new RegExp(`configuration file ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(HUB_CONFIG\\) not found`));
  });

  it('with a configuration its schema refuses: names the setting, the value, and an unknown key', async () => {
    const dir = testDataDir('bad-config', { store: 'none' });
    const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
    config.http.port = 'eighty';
    config.shutdownGrace = 5;
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));
    // HUB_HTTP_PORT empty: the file's port is the one checked.
    const r = await hubStartTimed({ HUB_CONFIG: path.join(dir, 'hub.yaml'), HUB_HTTP_PORT: '' });
    assertOneLineFailure(r, /invalid configuration .*hub\.yaml: .*http\.port must be integer, not "eighty"/);
    assert.match(r.stderr, /unknown setting shutdownGrace/);
  });

  it('with HUB_HTTP_PORT already in use: names the address and HUB_HTTP_PORT', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => taken.close(() => r())));
    const port = (taken.address() as net.AddressInfo).port;
    const r = await hubStartTimed({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: String(port) });
    assertOneLineFailure(r, new RegExp(`port 127\\.0\\.0\\.1:${port} is in use \\(HUB_HTTP_PORT\\)`));
  });

  it('with a PostgreSQL store that refuses connections: names the store (without its password) and HUB_STORE', async () => {
    const port = await closedPort();
    const r = await hubStartTimed({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE: `postgres://hub:s3cret-pw@127.0.0.1:${port}/hub` });
    assertOneLineFailure(r, new RegExp(`cannot connect to the store postgres://hub:\\*\\*\\*@127\\.0\\.0\\.1:${port}/hub \\(HUB_STORE\\): connect ECONNREFUSED`));
    assert.doesNotMatch(r.stderr + r.stdout, /s3cret-pw/);
  });

  it('with a PostgreSQL store host that does not answer: gives up after its connect timeout', async () => {
    const silent = await silentServer();
    cleanup.push(() => silent.close());
    const r = await hubStartTimed({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE: `postgres://hub@127.0.0.1:${silent.port}/hub` });
    assertOneLineFailure(r, new RegExp(`the store postgres://hub@127\\.0\\.0\\.1:${silent.port}/hub did not answer within 2 s \\(HUB_STORE\\)`));
  });

  it('with a misspelt name in HUB_SERVICES: names it and the services there are', async () => {
    const r = await hubStartTimed({ HUB_CONFIG: DEMO_CONFIG, HUB_SERVICES: 'gateway,casse' });
    // The services as the schema lists them.
    const services = (JSON.parse(fs.readFileSync(path.join(ROOT, 'core', 'kernel', 'config.schema.json'), 'utf8')).properties.services.items.enum as string[]).join(', ');
    assertOneLineFailure(r, new RegExp(`HUB_SERVICES \\(services\\.1\\) must be one of ${services}, not "casse"`));
  });

  it('with a misspelt HUB_STORE scheme or HUB_LOG_LEVEL: names each variable', async () => {
    const r = await hubStartTimed({ HUB_CONFIG: DEMO_CONFIG, HUB_STORE: 'postgress://db/hub', HUB_LOG_LEVEL: 'verbose' });
    assertOneLineFailure(r, /HUB_STORE \(store\) must match .*, not "postgress:\/\/db\/hub"; HUB_LOG_LEVEL \(logLevel\) must be one of fatal, error, warn, info, debug, trace, silent, not "verbose"/);
  });
});

describe('a hub in this process: a port taken after the checks fails the start instead of hanging', function () {
  this.timeout(60_000);

  it('rejects startHub with the listen error instead of waiting for ever', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: String(port), HUB_DATA_DIR: testDataDir('port-race'), HUB_LOG_LEVEL: 'silent' });
      const started = Date.now();
      await assert.rejects(startHub(config, createLogger('silent')), (err: NodeJS.ErrnoException) => err.code === 'EADDRINUSE');
      assert.ok(Date.now() - started < 30_000);
    } finally {
      await new Promise<void>((r) => taken.close(() => r()));
    }
  });
});

describe('`make run` still starts the demo', function () {
  this.timeout(120_000);
  let hub: HubProcess | null = null;
  afterEach(async () => { await hub?.stop('SIGTERM'); hub = null; });

  /** The arguments `make run` gives `hub start`. */
  function makeRunArgs(): string[] {
    const makefile = fs.readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
    const recipe = /^run:.*\n\t(.*)$/m.exec(makefile);
    assert.ok(recipe, 'the Makefile has a run target');
    const m = /bin\/hub\.js start(.*)$/.exec(recipe[1]);
    assert.ok(m, `make run starts bin/hub.js start: ${recipe[1]}`);
    return m[1].trim().split(/\s+/).filter(Boolean);
  }

  it('passes --demo, and `hub start --demo` serves the demo departments with the demo tokens', async () => {
    const args = makeRunArgs();
    assert.ok(args.includes('--demo'), `make run passes --demo: ${args.join(' ')}`);
    // The simulators bind the departments' fixed ports; hub-process.test.ts starts them.
    hub = await spawnHub({ HUB_DATA_DIR: testDataDir('make-run-demo') }, args.filter((a) => a !== '--with-simulators'));
    assert.equal((await getJson(`${hub.url}/health/live`)).status, 200);
    assert.equal((await getJson(`${hub.url}/api/v1/cases`, SUPERVISOR)).status, 200);
    assert.match(hub.output(), /Bearer demo-supervisor-token/);
    assert.match(hub.output(), /POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/inbound\/market-regulation/);
    // SIGTERM stops the node in order, to the end (not the broker alone, then an exit).
    assert.equal(await hub.stop('SIGTERM'), 0);
    assert.match(hub.output(), /"msg":"hub stopped"/);
  });

  it('with HUB_CONFIG set, --demo does not bring the demo configuration back', async () => {
    const dir = testDataDir('own-config');
    const config = YAML.parse(fs.readFileSync(DEMO_CONFIG, 'utf8'));
    config.tokens = [{ name: 'city supervisor', token: 'a-long-city-supervisor-token', roles: ['supervisor'] }];
    config.adapters = config.adapters.filter((a: { id: string }) => a.id === 'market-regulation').map((a: { id: string; dir: string }) => ({ ...a, dir: path.resolve(path.dirname(DEMO_CONFIG), a.dir) }));
    fs.writeFileSync(path.join(dir, 'hub.yaml'), YAML.stringify(config));
    hub = await spawnHub({ HUB_DATA_DIR: dir, HUB_CONFIG: path.join(dir, 'hub.yaml') }, ['--demo']);
    assert.equal((await getJson(`${hub.url}/api/v1/cases`, SUPERVISOR)).status, 401, 'the demo token is unknown to this hub');
    assert.equal((await getJson(`${hub.url}/api/v1/cases`, { Authorization: 'Bearer a-long-city-supervisor-token' })).status, 200);
    assert.doesNotMatch(hub.output(), /demo-supervisor-token/, 'the banner does not advertise the demo token');
  });
});
