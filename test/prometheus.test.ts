import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFile, execFileSync, ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import YAML from 'yaml';
import pino from 'pino';
import { loadConfig, overrideAdapter } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { ROOT, DEMO_CONFIG, ADAPTERS_DIR } from '../core/kernel/paths';
import { startHub, RunningHub } from '../cli/start-hub';
import { useDepartmentServers } from '../cli/department-servers';
import { startDepartmentServers, startSimulators, DepartmentServers, Simulators } from '../infra/simulators';
import { postBatch } from '../infra/simulators/market-regulation';
import { testDataDir, waitFor, getJson, OPERATOR } from './support/hub';
import { freePort } from './support/servers';

// Acceptance (issue 22, lines 1 and 2): a real Prometheus (Debian's package) scrapes the embedded
// hub while the demo departments' simulators send to it; every query of the dashboard returns data,
// promtool accepts the configuration, the rules and their unit tests, and the rules as shipped fire
// on a dead letter and on a department gone quiet.

const PROMETHEUS_DIR = path.join(ROOT, 'infra', 'prometheus');
const DASHBOARD = path.join(ROOT, 'infra', 'grafana', 'dashboards', 'hub.json');
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
/** The department whose simulator the test stops, and to which it sends a message that dead-letters. */
const QUIET = 'market-regulation';
/** Its quiet period in the test (the demo's is an hour). */
const QUIET_MINUTES = 0.25;
const run = promisify(execFile);

interface Alert { labels: Record<string, string>; state: string; value: string }

describe('Prometheus scrapes the embedded hub: dashboard queries and alert rules (infra/prometheus, infra/grafana)', function () {
  // The waits below are for a Prometheus evaluating every second and simulators sending every few
  // seconds, with room for a machine busy with other tests.
  this.timeout(240_000);
  let dataDir: string;
  let servers: DepartmentServers;
  let hub: RunningHub;
  let sims: Simulators | null = null;
  let prometheus: ChildProcess | null = null;
  let prometheusLog = '';
  let api: string;
  let target: string;
  /** The dashboard queries that returned nothing at the last look (named when the wait times out). */
  let lastEmpty: string[] = [];

  /** An instant query through Prometheus' HTTP API: the result's series. */
  const query = async (promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
    const r = await getJson(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    assert.equal(r.status, 200, `Prometheus refused ${promql}: ${JSON.stringify(r.body)}`);
    return r.body.data.result;
  };
  const alerts = async (name: string, state?: string): Promise<Alert[]> => {
    const r = await getJson(`${api}/api/v1/alerts`);
    assert.equal(r.status, 200);
    return (r.body.data.alerts as Alert[]).filter((a) => a.labels.alertname === name && (!state || a.state === state));
  };
  const firingFor = async (name: string, adapter: string) => (await alerts(name, 'firing')).find((a) => a.labels.adapter === adapter);

  before(async function () {
    // The test setup installs Debian's package when it is missing (scripts/test.sh does the same),
    // and the test fails here, loudly, when it cannot be had.
    execFileSync('bash', [path.join(ROOT, 'scripts', 'ensure-prometheus.sh')], { stdio: 'inherit' });
    dataDir = testDataDir('prometheus');
    const simLogger = pino({ level: 'silent' });
    servers = await startDepartmentServers({ logger: simLogger, subscriberPort: 0 });
    const config = loadConfig({ HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: 'embedded', HUB_LOG_LEVEL: process.env.HUB_TEST_LOG_LEVEL ?? 'silent' });
    // As `hub start --with-simulators`: the hub polls the query service, sends SMS to the gateway
    // simulator and delivers to the subscriber simulator.
    useDepartmentServers(config, servers);
    // Office hours all day, every day (the quiet-department alert waits for them), and a quiet period
    // of seconds for the department the test silences.
    config.monitoring = { officeHours: { from: '00:00', to: '24:00', days: 'all' } };
    overrideAdapter(config, QUIET, { monitoring: { quietMinutes: QUIET_MINUTES } });
    hub = await startHub(config, createLogger(config.logLevel));
    target = new URL(hub.url!).host;

    // The shipped configuration, with this hub as the embedded target, intervals of a second, and
    // paths made absolute (the cluster's node list points into the test's folder, where there is none).
    const shipped = YAML.parse(fs.readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8'));
    shipped.global = { ...shipped.global, scrape_interval: '1s', evaluation_interval: '1s' };
    shipped.rule_files = (shipped.rule_files as string[]).map((f) => path.resolve(PROMETHEUS_DIR, f));
    const embedded = shipped.scrape_configs.find((j: any) => j.job_name === 'hub');
    assert.ok(embedded, 'prometheus.yml has a job "hub" for the embedded hub');
    embedded.static_configs[0].targets = [target];
    for (const job of shipped.scrape_configs) {
      for (const sd of job.file_sd_configs ?? []) sd.files = sd.files.map((f: string) => path.join(dataDir, f));
    }
    const configFile = path.join(dataDir, 'prometheus.yml');
    fs.writeFileSync(configFile, YAML.stringify(shipped));

    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dataDir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (c) => { prometheusLog += c; });
    prometheus.stderr!.on('data', (c) => { prometheusLog += c; });
    const exited = new Promise<never>((_resolve, reject) => prometheus!.once('exit', (code) => reject(new Error(`prometheus exited with ${code}:\n${prometheusLog}`))));
    exited.catch(() => undefined);
    await Promise.race([exited, waitFor('Prometheus to be ready', async () => (await fetch(`${api}/-/ready`).catch(() => null))?.ok, 30_000, 200)]);
    await waitFor('Prometheus to scrape the hub', async () => (await query(`up{job="hub"} == 1`)).length === 1, 30_000, 200);
  });

  after(async function () {
    if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
      const gone = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const killer = setTimeout(() => prometheus!.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(killer);
    }
    // The simulators stop the department servers they were given.
    if (sims) await sims.stop();
    else await servers?.stop();
    await hub?.stop();
  });

  it('promtool accepts the configuration and the rules, and the rules\' unit tests pass and cover every alert', async function () {
    const config = await run(PROMTOOL, ['check', 'config', path.join(PROMETHEUS_DIR, 'prometheus.yml')]);
    assert.match(config.stdout, /SUCCESS/);
    const ruleFiles = fs.readdirSync(path.join(PROMETHEUS_DIR, 'rules')).filter((f) => f.endsWith('.yml')).map((f) => path.join(PROMETHEUS_DIR, 'rules', f));
    assert.ok(ruleFiles.length > 0);
    const rules = await run(PROMTOOL, ['check', 'rules', ...ruleFiles]);
    assert.match(rules.stdout, /SUCCESS/);
    const testFiles = fs.readdirSync(path.join(PROMETHEUS_DIR, 'tests')).filter((f) => f.endsWith('.yml')).map((f) => path.join(PROMETHEUS_DIR, 'tests', f));
    const tests = await run(PROMTOOL, ['test', 'rules', ...testFiles]);
    assert.match(tests.stdout, /SUCCESS/);

    // Every alert of the rules has a unit test in which it fires.
    const alertNames = ruleFiles.flatMap((f) => (YAML.parse(fs.readFileSync(f, 'utf8')).groups as any[]).flatMap((g) => g.rules.filter((r: any) => r.alert).map((r: any) => r.alert as string)));
    const tested = new Set(testFiles.flatMap((f) => (YAML.parse(fs.readFileSync(f, 'utf8')).tests as any[]).flatMap((t) => (t.alert_rule_test ?? []).filter((a: any) => a.exp_alerts?.length).map((a: any) => a.alertname as string))));
    assert.ok(alertNames.length >= 6, `the rules hold ${alertNames.join(', ')}`);
    assert.deepEqual(alertNames.filter((a) => !tested.has(a)), [], 'alerts without a unit test in which they fire');
  });

  it('a message that dead-letters makes the dead-letter alert fire for its department', async function () {
    // Before the simulators send (their odd broken identifier would dead-letter too): the alert
    // needs two samples of the gauge to compare, and is not firing.
    await waitFor('two scrapes of hub_dead_letters', async () => (await query(`count_over_time(hub_dead_letters{adapter="${QUIET}"}[1m]) >= 2`)).length === 1, 30_000, 200);
    assert.equal(await firingFor('HubDeadLettersGrowing', QUIET), undefined);

    // The department's sample with a record the mapping refuses (an identifier whose check character is wrong).
    const sample = fs.readFileSync(path.join(ADAPTERS_DIR, QUIET, 'samples', 'batch-02-odd-and-refused.json'));
    const answer = await postBatch(`${hub.url}/api/v1/inbound/${QUIET}`, sample);
    assert.ok(answer.status < 300, `the batch was taken: ${answer.status}`);
    const letters = await getJson(`${hub.url}/api/v1/dead-letters?adapter=${QUIET}`, OPERATOR);
    assert.ok(letters.body.items.some((d: { adapter: string }) => d.adapter === QUIET), 'the hub dead-lettered a record of the batch');

    const alert = await waitFor('HubDeadLettersGrowing to fire', () => firingFor('HubDeadLettersGrowing', QUIET), 60_000, 500);
    assert.ok(Number(alert.value) >= 1);
  });

  it('every query of the dashboard, its variables filled in from the data, returns a series while the simulators send', async function () {
    sims = await startSimulators({ hubUrl: hub.url!, dataDir, logger: pino({ level: 'silent' }), servers, pace: 0.5 });
    // Prometheus has seen every department's simulator send (the webhook, the SOAP pushes and the poll, the file drop).
    await waitFor('Prometheus to see every department send', async () => (await query('sum by (adapter) (increase(hub_inbound_messages_total{job="hub"}[1m])) > 0')).length === 3, 90_000, 1000);
    const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
    const panels: any[] = dashboard.panels.flatMap((p: any) => [p, ...(p.panels ?? [])]).filter((p: any) => p.type !== 'row');
    const queries: { panel: string; expr: string }[] = panels.flatMap((p) => (p.targets ?? []).map((t: any) => ({ panel: p.title, expr: t.expr as string })));
    assert.ok(queries.length >= 15, `the dashboard has ${queries.length} queries`);
    const titles = panels.map((p) => p.title as string).join('\n');
    for (const wanted of [/messages per department and result/i, /end-to-end latency/i, /time per stage/i, /dead letters/i, /cases per department and light/i, /SMS and outbound deliveries/i, /queue depths/i, /errors/i, /CPU/i, /memory/i]) {
      assert.match(titles, wanted);
    }

    // Grafana's variables, in their order (a later one may use an earlier one), each "All" of what
    // its label_values query finds; none names a department in the JSON.
    const variables = (dashboard.templating.list as any[]).filter((v) => v.type === 'query');
    assert.deepEqual(variables.map((v) => v.name).sort(), ['adapter', 'department', 'instance']);
    const fill = (expr: string, values: Map<string, string>) => expr
      .replace(/\$__rate_interval|\$\{__rate_interval\}/g, '30s')
      .replace(/\$__interval|\$\{__interval\}/g, '15s')
      .replace(/\$\{?(\w+)\}?/g, (whole, name: string) => values.get(name) ?? whole);

    const result = await waitFor('every dashboard query to return a series', async () => {
      const values = new Map<string, string>();
      for (const v of variables) {
        assert.equal(v.options?.length ?? 0, 0, `variable ${v.name} lists no fixed values`);
        const definition = v.query?.query ?? v.query;
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(definition);
        assert.ok(m, `variable ${v.name} is a label_values query: ${definition}`);
        const r = await getJson(`${api}/api/v1/label/${m[2]}/values?match[]=${encodeURIComponent(fill(m[1], values))}`);
        assert.equal(r.status, 200, `variable ${v.name}: ${JSON.stringify(r.body)}`);
        const found: string[] = r.body.data;
        if (!found.length) {
          lastEmpty = [`variable ${v.name}: ${definition}`];
          return null;
        }
        // As Grafana puts "All" of a multi-value variable into a Prometheus query: a regex
        // alternation, its special characters escaped with a backslash that the PromQL string escapes again.
        values.set(v.name, `(${found.map((s) => s.replace(/[\\$^*{}[\]'+?.()|]/g, '\\\\$&')).join('|')})`);
      }
      const empty: string[] = [];
      for (const q of queries) if (!(await query(fill(q.expr, values))).length) empty.push(`${q.panel}: ${fill(q.expr, values)}`);
      lastEmpty = empty;
      return empty.length ? null : values;
    }, 120_000, 2000).catch((err) => { throw new Error(`${(err as Error).message}; still without a series: ${lastEmpty.join('\n  ')}`); });
    assert.ok(result.get('instance')!.includes(target.replace(/\./g, '\\\\.')), `the instance variable finds the hub ${target}: ${result.get('instance')}`);
    assert.match(result.get('adapter')!, /market-regulation/);
  });

  it('stopping a department\'s simulator makes the quiet-department alert fire for it, during office hours', async function () {
    assert.ok(sims, 'the simulators run (the previous test started them)');
    assert.deepEqual((await query('hub_working_hours')).map((s) => s.value[1]), ['1']);
    // While it sends every few seconds, it is not quiet (a quiet spell before the simulators started may take an evaluation to clear).
    await waitFor(`${QUIET} not to be quiet while its simulator sends`, async () => !(await firingFor('HubDepartmentQuiet', QUIET)), 30_000, 500);

    await sims!.senders[QUIET].stop();
    const alert = await waitFor('HubDepartmentQuiet to fire', () => firingFor('HubDepartmentQuiet', QUIET), 90_000, 500);
    assert.ok(Number(alert.value) > QUIET_MINUTES * 60, `silent for ${alert.value} s`);
    // The others still send: only the silenced department is quiet.
    assert.deepEqual((await alerts('HubDepartmentQuiet', 'firing')).map((a) => a.labels.adapter), [QUIET]);
  });
});
