import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, spawn, ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { ROOT } from '../core/kernel/paths';
import { loadConfig } from '../core/kernel/config';
import { ROLE_NAMES, SERVICE_NAMES } from '../cli/start-hub';
import { loadAdapterDefinition } from '../adapters/kit/definition';
import { CLUSTER_NODES } from '../cli/run-cluster';
import { withNewKey } from '../core/kernel/data-keys';
import { postBatch } from '../infra/simulators/market-regulation';
import { testDataDir, getJson, waitFor, makeRunNode } from './support/hub';
import { createTestDatabase, requireNats, requireRedis, deleteStreams, deleteQueueKeys, freePort } from './support/servers';

// Operators issue, item 6 and acceptance 5: the Helm chart (helm/case-exchange-hub) passes
// `helm lint --strict` and renders with its default values and with a cluster values file; the
// rendered manifests give every role probes on /health/*, resources and a non-root, read-only
// container; no secret reaches a ConfigMap or a pod spec; and the configuration the ConfigMap holds
// is one the hub's own loader accepts, with every variable it names given to the pods.

const run = promisify(execFile);
const CHART = path.join(ROOT, 'helm', 'case-exchange-hub');
const CLUSTER_VALUES = path.join(CHART, 'ci', 'cluster-values.yaml');
const HELM = path.join(ROOT, '.tools', 'bin', 'helm');

/** What a values file gives in clear to a chart that makes its own Secret: none of it may be anywhere else. */
const SECRETS: Record<string, string> = {
  'store-url': 'postgres://hub:Pg-S3cret-Passw0rd@db.example:5432/hub',
  'nats-url': 'nats://hub:Nats-S3cret-Passw0rd@nats.example:4222',
  'redis-url': 'redis://:Redis-S3cret-Passw0rd@redis.example:6379',
  'supervisor-token': 'Supervisor-T0ken-9f2c1a7e55',
  'operator-token': 'Operator-T0ken-3b8d0c6f11',
  'sms-gateway-token': 'Sms-Gateway-T0ken-77ad01',
  'data-keys.json': JSON.stringify({ current: 'k1', keys: [{ id: 'k1', key: 'S2V5LU1hdGVyaWFsLTMyLWJ5dGVzLWxvbmctISEhIQ', createdAt: '2026-01-01T00:00:00.000Z' }] }),
};
/** The parts of those secrets that would give them away on their own (a password inside a URL). */
const SECRET_PARTS = ['Pg-S3cret-Passw0rd', 'Nats-S3cret-Passw0rd', 'Redis-S3cret-Passw0rd', 'Supervisor-T0ken-9f2c1a7e55', 'Operator-T0ken-3b8d0c6f11', 'Sms-Gateway-T0ken-77ad01', 'S2V5LU1hdGVyaWFsLTMyLWJ5dGVzLWxvbmctISEhIQ'];

/** The role each node of `make run-cluster` is in the chart. */
const ROLE_OF_NODE: Record<string, string> = { gateway: 'gateway', cases: 'workers', supervisor: 'supervisor' };

type Manifest = { kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

async function helm(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(HELM, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`helm ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** `helm template` of the chart with these values files, each document parsed. */
async function render(...valuesFiles: string[]): Promise<{ text: string; manifests: Manifest[] }> {
  const text = await helm('template', 'hub', CHART, ...valuesFiles.flatMap((f) => ['-f', f]));
  const manifests = YAML.parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [], 'every rendered document is YAML');
    return d.toJS() as Manifest;
  }).filter((m) => m !== null);
  return { text, manifests };
}

const ofKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);
const roleOf = (m: Manifest) => m.metadata.labels?.['app.kubernetes.io/component'];
const envOf = (container: any): Record<string, any> => Object.fromEntries((container.env ?? []).map((e: any) => [e.name, e]));
const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

/**
 * The configuration a pod of this Deployment would read: the ConfigMap's file (its /app paths are
 * the image's copy of the repository, this checkout here) under the pod's environment, the
 * Secret's keys given as the kubelet gives them. Loaded by the hub's own loader.
 */
function loadAsPod(manifests: Manifest[], deployment: Manifest, secret: Record<string, string>, label: string) {
  const dir = testDataDir(`helm-${label}`);
  const configMap = ofKind(manifests, 'ConfigMap')[0];
  const file = path.join(dir, 'hub.yaml');
  fs.writeFileSync(file, String(configMap.data['hub.yaml']).replace(/(^|[\s"'[])\/app\//gm, `$1${ROOT}/`));
  const env: Record<string, string> = {};
  for (const e of deployment.spec.template.spec.containers[0].env) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else {
      const key = e.valueFrom.secretKeyRef.key;
      assert.ok(key in secret, `${deployment.metadata.name}: ${e.name} reads the key ${key}, which the Secret must hold`);
      env[e.name] = secret[key];
    }
  }
  return loadConfig({ ...env, HUB_CONFIG: file });
}

describe('the Helm chart (helm/case-exchange-hub)', function () {
  this.timeout(120_000);
  let secretValues: string;

  before(async () => {
    // Fails the suite, loudly, when helm cannot be had (make test runs this before mocha too).
    try {
      await run('bash', [path.join(ROOT, 'scripts', 'ensure-helm.sh')]);
    } catch (err) {
      throw new Error(`helm could not be had (scripts/ensure-helm.sh): ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
    }
    // A values file that gives secrets in clear, for the chart to make its own Secret from.
    secretValues = path.join(testDataDir('helm-values'), 'secret-values.yaml');
    fs.writeFileSync(secretValues, YAML.stringify({
      secrets: { create: true, stringData: SECRETS },
      secretEnv: { HUB_SUPERVISOR_TOKEN: 'supervisor-token', HUB_OPERATOR_TOKEN: 'operator-token', HUB_SMS_GATEWAY_TOKEN: 'sms-gateway-token' },
      config: {
        tokens: [
          { name: 'supervisor', tokenEnv: 'HUB_SUPERVISOR_TOKEN', roles: ['supervisor'] },
          { name: 'operator', tokenEnv: 'HUB_OPERATOR_TOKEN', roles: ['operator'] },
        ],
        notifier: { gateway: { url: 'https://sms.example', tokenEnv: 'HUB_SMS_GATEWAY_TOKEN' } },
      },
    }));
  });

  it('passes helm lint --strict with its default values and with the cluster values', async () => {
    // helm takes a key given twice (the last wins) without a word: the values files have none.
    for (const file of [path.join(CHART, 'values.yaml'), CLUSTER_VALUES]) assert.deepEqual(YAML.parseDocument(fs.readFileSync(file, 'utf8')).errors.map((e) => e.message), [], file);
    for (const values of [[], ['-f', CLUSTER_VALUES]]) {
      const out = await helm('lint', '--strict', CHART, ...values);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/, out);
    }
  });

  it('refuses, at lint and at render, values whose role names a service the hub does not have', async () => {
    const schema = JSON.parse(fs.readFileSync(path.join(CHART, 'values.schema.json'), 'utf8'));
    assert.deepEqual([...schema.properties.roles.additionalProperties.properties.services.items.enum].sort(), [...ROLE_NAMES].sort(), 'the schema names the services and roles of the hub');
    for (const args of [['lint', '--strict', CHART], ['template', 'hub', CHART]]) {
      await assert.rejects(helm(...args, '--set', 'roles.workers.services={cases,mapping,case}'), /\/roles\/workers\/services\/2': value must be one of/);
    }
  });

  it('renders with default and cluster values: every Deployment has probes on /health/*, resources and a non-root, read-only container', async () => {
    for (const values of [[], [CLUSTER_VALUES]]) {
      const { manifests } = await render(...values);
      const deployments = ofKind(manifests, 'Deployment');
      assert.deepEqual(deployments.map(roleOf).sort(), ['gateway', 'supervisor', 'workers']);
      for (const d of deployments) {
        const name = d.metadata.name;
        const pod = d.spec.template.spec;
        assert.ok(selects(d.spec.selector.matchLabels, d.spec.template.metadata.labels), `${name}: its selector selects its pods`);
        assert.equal(pod.containers.length, 1, name);
        const c = pod.containers[0];
        const ports = new Map<string, number>(c.ports.map((p: any) => [p.name, p.containerPort]));
        for (const [probe, route] of [['livenessProbe', '/health/live'], ['readinessProbe', '/health/ready'], ['startupProbe', '/health/live']]) {
          assert.equal(c[probe]?.httpGet?.path, route, `${name}: ${probe} on ${route}`);
          assert.ok(ports.has(c[probe].httpGet.port), `${name}: ${probe} on a port the container declares (${c[probe].httpGet.port})`);
        }
        // The port probed is the one the node listens on: the gateway's, or the health port of a node without it.
        const env = envOf(c);
        const gateway = String(env.HUB_SERVICES.value).split(',').includes('gateway');
        const probed = ports.get(c.readinessProbe.httpGet.port);
        assert.equal(String(probed), gateway ? env.HUB_HTTP_PORT.value : env.HUB_HEALTH_PORT?.value, `${name}: the probes reach the port the hub listens on`);
        for (const kind of ['requests', 'limits']) {
          for (const what of ['cpu', 'memory']) assert.ok(c.resources?.[kind]?.[what], `${name}: resources.${kind}.${what}`);
        }
        assert.equal(pod.securityContext.runAsNonRoot, true, `${name}: runAsNonRoot`);
        assert.equal(pod.securityContext.runAsUser, 1000, `${name}: the image's user node (uid 1000)`);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false, `${name}: no privilege escalation`);
        assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${name}: read-only root file system`);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], `${name}: every capability dropped`);
        // What the hub writes is on volumes: its data folder and /tmp.
        const mounts = new Set(c.volumeMounts.map((m: any) => m.mountPath));
        assert.ok(mounts.has(env.HUB_DATA_DIR.value) && mounts.has('/tmp'), `${name}: HUB_DATA_DIR and /tmp are mounted`);
      }
    }
  });

  it('gives each role the services make run-cluster gives its node, every service on exactly one role', async () => {
    const { manifests } = await render();
    const services = Object.fromEntries(ofKind(manifests, 'Deployment').map((d) => [roleOf(d), String(envOf(d.spec.template.spec.containers[0]).HUB_SERVICES.value).split(',')]));
    for (const node of CLUSTER_NODES) assert.deepEqual(services[ROLE_OF_NODE[node.name]], node.services, `the ${ROLE_OF_NODE[node.name]} role runs what the ${node.name} node runs`);
    assert.deepEqual(Object.values(services).flat().sort(), [...SERVICE_NAMES].sort());
  });

  it('starts the node as make run does: --single-threaded-gc, the heap cap and the allocator settings of the Makefile', async () => {
    const { options, flags, tunables } = makeRunNode();
    const { manifests } = await render();
    for (const d of ofKind(manifests, 'Deployment')) {
      const c = d.spec.template.spec.containers[0];
      assert.deepEqual([...c.command, ...c.args], ['node', ...flags, 'bin/hub.js', 'start'], d.metadata.name);
      assert.equal(envOf(c).NODE_OPTIONS.value, options, d.metadata.name);
      assert.equal(envOf(c).GLIBC_TUNABLES.value, tunables, d.metadata.name);
    }
    // The image the chart refers to is the root Dockerfile's: multi-stage, the user node, the same start.
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.ok((dockerfile.match(/^FROM /gm) ?? []).length >= 2, 'the Dockerfile is multi-stage');
    assert.match(dockerfile, /^USER node$/m);
    assert.ok(dockerfile.includes(`ENV NODE_OPTIONS=${options}`), 'the image sets the heap cap of make run');
    assert.ok(dockerfile.includes(`ENV GLIBC_TUNABLES=${tunables}`), 'the image sets the allocator settings of make run');
    assert.ok(dockerfile.includes(`CMD ["node", ${flags.map((f) => JSON.stringify(f)).join(', ')}, "bin/hub.js", "start"]`), 'the image starts the hub as make run does');
  });

  it('keeps every secret out of the ConfigMap and the pod specs: they are only in the Secret, which the pods reference', async () => {
    const { manifests } = await render(secretValues);
    const secrets = ofKind(manifests, 'Secret');
    assert.equal(secrets.length, 1);
    const secret = secrets[0];
    assert.deepEqual(secret.stringData, SECRETS, 'the Secret holds what the values gave');
    for (const m of manifests.filter((x) => x.kind !== 'Secret')) {
      const text = YAML.stringify(m);
      for (const part of SECRET_PARTS) assert.ok(!text.includes(part), `${m.kind} ${m.metadata.name} holds a secret (${part.slice(0, 6)}…)`);
    }
    assert.equal(ofKind(manifests, 'ConfigMap').length, 1);
    for (const d of ofKind(manifests, 'Deployment')) {
      const pod = d.spec.template.spec;
      const env = envOf(pod.containers[0]);
      for (const name of ['HUB_STORE', 'HUB_TRANSPORTER', 'HUB_QUEUE', 'HUB_SUPERVISOR_TOKEN', 'HUB_OPERATOR_TOKEN', 'HUB_SMS_GATEWAY_TOKEN']) {
        assert.equal(env[name]?.value, undefined, `${d.metadata.name}: ${name} is not in the pod spec`);
        assert.equal(env[name]?.valueFrom?.secretKeyRef?.name, secret.metadata.name, `${d.metadata.name}: ${name} comes from the Secret`);
      }
      const keys = pod.volumes.find((v: any) => v.name === 'data-keys');
      assert.equal(keys.secret.secretName, secret.metadata.name, 'the data key file comes from the Secret');
      assert.equal(envOf(pod.containers[0]).HUB_DATA_KEY_FILE.value, `/etc/hub/keys/${keys.secret.items[0].path}`);
      // Each role's pod, given the Secret, has a configuration the hub accepts: every token is read.
      const config = loadAsPod(manifests, d, SECRETS, String(roleOf(d)));
      assert.equal(config.store, SECRETS['store-url']);
      assert.equal(config.transporter, SECRETS['nats-url']);
      assert.equal(config.queue, SECRETS['redis-url']);
      assert.deepEqual(config.tokens.map((t) => t.secret), [SECRETS['supervisor-token'], SECRETS['operator-token']]);
      assert.equal(config.notifier?.gateway.token, SECRETS['sms-gateway-token']);
    }
  });

  it('holds a configuration the hub accepts, with default and cluster values, on every role', async () => {
    // The Secret an operator makes: the keys the chart's values name, whatever their values.
    const secret = { ...SECRETS, 'auditor-token': 'Auditor-T0ken-0c44e1a2' };
    for (const [label, values] of [['default', []], ['cluster', [CLUSTER_VALUES]]] as const) {
      const { manifests } = await render(...values);
      assert.equal(ofKind(manifests, 'Secret').length, 0, `${label}: the chart makes no Secret unless asked`);
      for (const d of ofKind(manifests, 'Deployment')) {
        const env = envOf(d.spec.template.spec.containers[0]);
        const config = loadAsPod(manifests, d, secret, `${label}-${roleOf(d)}`);
        assert.deepEqual(config.services, env.HUB_SERVICES.value.split(','));
        assert.equal(config.namespace, env.HUB_NAMESPACE.value);
        // No department by default (the image's folders carry demo credentials); the cluster's, from the image.
        assert.deepEqual(config.adapters.map((a) => a.id).sort(), label === 'default' ? [] : ['market-regulation', 'tax-bureau', 'vehicle-office'], label);
        // Each department's folder is there and its definition, with the overrides, is valid.
        for (const ref of config.adapters) assert.equal(loadAdapterDefinition(ref.dir, ref.overrides).id, ref.id);
        assert.ok(config.tokens.length >= 2 && config.tokens.every((t) => t.secret && t.secret.length >= 8), `${label}: every token is read from the Secret`);
      }
    }
  });

  it('renders a PodDisruptionBudget per role and, when enabled, the ServiceMonitor, the Ingress and the shared drop folders', async () => {
    const plain = await render();
    const deployments = ofKind(plain.manifests, 'Deployment');
    const pdbs = ofKind(plain.manifests, 'PodDisruptionBudget');
    assert.equal(pdbs.length, deployments.length);
    for (const d of deployments) {
      const pdb = pdbs.filter((p) => selects(p.spec.selector.matchLabels, d.spec.template.metadata.labels));
      assert.equal(pdb.length, 1, `${d.metadata.name}: one PodDisruptionBudget selects its pods`);
      assert.equal(pdb[0].apiVersion, 'policy/v1');
    }
    assert.equal(ofKind(plain.manifests, 'ServiceMonitor').length, 0, 'no ServiceMonitor by default');
    assert.equal(ofKind(plain.manifests, 'Ingress').length, 0, 'no Ingress by default');

    const cluster = await render(CLUSTER_VALUES);
    const [monitor] = ofKind(cluster.manifests, 'ServiceMonitor');
    assert.equal(monitor?.apiVersion, 'monitoring.coreos.com/v1');
    const scraped = ofKind(cluster.manifests, 'Service').filter((s) => selects(monitor.spec.selector.matchLabels, s.metadata.labels ?? {}));
    assert.deepEqual(scraped.map(roleOf).sort(), ['gateway', 'supervisor', 'workers'], 'the ServiceMonitor selects every role\'s Service');
    for (const service of scraped) {
      const endpoint = monitor.spec.endpoints.find((e: any) => service.spec.ports.some((p: any) => p.name === e.port));
      assert.ok(endpoint, `${service.metadata.name}: scraped on a port it names`);
      assert.equal(endpoint.path, '/metrics');
    }

    const [ingress] = ofKind(cluster.manifests, 'Ingress');
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    const gatewayService = ofKind(cluster.manifests, 'Service').find((s) => s.metadata.name === backend.name);
    assert.equal(roleOf(gatewayService!), 'gateway', 'the Ingress leads to the gateway');
    assert.ok(gatewayService!.spec.ports.some((p: any) => p.name === backend.port.name));

    // The drop folders are watched where the department transports run: the gateway role.
    for (const d of ofKind(cluster.manifests, 'Deployment')) {
      const pod = d.spec.template.spec;
      const drop = pod.containers[0].volumeMounts.find((m: any) => m.mountPath === '/data/drop');
      if (roleOf(d) === 'gateway') {
        assert.ok(drop, 'the gateway mounts the drop folders');
        assert.equal(pod.volumes.find((v: any) => v.name === drop.name).persistentVolumeClaim.claimName, 'hub-drop-folders');
      } else {
        assert.equal(drop, undefined, `${roleOf(d)}: no drop folders`);
      }
    }
  });
});

describe('the chart\'s roles, started as their pods would be, on the local PostgreSQL, NATS and Redis', function () {
  this.timeout(300_000);
  const pods: { role: string; proc: ChildProcess; output: () => string; exited: Promise<number | null> }[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const p of pods) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  });

  it('every role passes its startup and readiness probes, a batch posted at the gateway is lit by the supervisor role, and every pod stops cleanly on SIGTERM', async () => {
    await requireNats();
    await requireRedis();
    const db = await createTestDatabase();
    cleanups.push(db.drop);
    const namespace = `test-helm-${process.pid}-${Date.now()}`;
    cleanups.push(() => deleteStreams(namespace), () => deleteQueueKeys(namespace));
    const secret: Record<string, string> = {
      'store-url': db.url, 'nats-url': 'nats://127.0.0.1:4222', 'redis-url': 'redis://127.0.0.1:6379',
      'supervisor-token': 'Supervisor-T0ken-for-the-pods', 'operator-token': 'Operator-T0ken-for-the-pods',
      'data-keys.json': JSON.stringify(withNewKey(null)),
    };
    const dir = testDataDir('helm-pods');
    const values = path.join(dir, 'values.yaml');
    fs.writeFileSync(values, YAML.stringify({ hubNamespace: namespace, secrets: { create: true, stringData: secret }, config: { adapters: [{ id: 'market-regulation', dir: '/app/adapters/market-regulation' }] } }));
    const { manifests } = await render(values);

    // What the kubelet would mount: the ConfigMap's file (its /app paths: this checkout, as the
    // image holds the repository at /app) and the Secret's data key file.
    const configFile = path.join(dir, 'config', 'hub.yaml');
    fs.mkdirSync(path.dirname(configFile), { recursive: true });
    fs.writeFileSync(configFile, String(ofKind(manifests, 'ConfigMap')[0].data['hub.yaml']).replace(/(^|[\s"'[])\/app\//gm, `$1${ROOT}/`));
    const keyFile = path.join(dir, 'keys', 'data-keys.json');
    fs.mkdirSync(path.dirname(keyFile), { recursive: true, mode: 0o700 });
    fs.writeFileSync(keyFile, secret['data-keys.json'], { mode: 0o600 });

    const ports = new Map<string, Map<string, number>>();
    const deployments = ofKind(manifests, 'Deployment');
    for (const d of deployments) {
      const role = String(roleOf(d));
      const c = d.spec.template.spec.containers[0];
      // The pods of one machine cannot share ports: each named port of the container gets a free one.
      const mine = new Map<string, number>();
      for (const p of c.ports) mine.set(p.name, await freePort());
      ports.set(role, mine);
      const byNumber = new Map<string, number>(c.ports.map((p: any) => [String(p.containerPort), mine.get(p.name)!]));
      const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
      for (const e of c.env) env[e.name] = e.value !== undefined ? String(e.value) : secret[e.valueFrom.secretKeyRef.key];
      assert.equal(env.HUB_CONFIG, '/etc/hub/config/hub.yaml');
      env.HUB_CONFIG = configFile;
      env.HUB_DATA_KEY_FILE = keyFile;
      env.HUB_DATA_DIR = path.join(dir, `pod-${role}`);
      env.HUB_HTTP_HOST = '127.0.0.1';
      for (const name of ['HUB_HTTP_PORT', 'HUB_HEALTH_PORT']) if (env[name] && byNumber.has(env[name])) env[name] = String(byNumber.get(env[name]));
      assert.equal(c.command[0], 'node');
      assert.equal(c.workingDir, '/app');
      const proc = spawn(process.execPath, c.args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (chunk) => { out += chunk; });
      proc.stderr!.on('data', (chunk) => { out += chunk; });
      pods.push({ role, proc, output: () => out, exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))) });
    }

    // The probes as the kubelet runs them: startup (live) within its allowance, then readiness.
    const probe = (role: string, p: any) => `http://127.0.0.1:${ports.get(role)!.get(p.httpGet.port)}${p.httpGet.path}`;
    for (const d of deployments) {
      const role = String(roleOf(d));
      const c = d.spec.template.spec.containers[0];
      const pod = pods.find((p) => p.role === role)!;
      const until = async (what: string, url: string, ms: number) => waitFor(`${role}: ${what}`, async () => {
        assert.equal(pod.proc.exitCode, null, `the ${role} pod ended:\n${pod.output().slice(-3000)}`);
        const r = await getJson(url).catch(() => null);
        return r?.status === 200 && r;
      }, ms, 250);
      await until('startup probe', probe(role, c.startupProbe), c.startupProbe.periodSeconds * c.startupProbe.failureThreshold * 1000);
      const ready = await until('readiness probe', probe(role, c.readinessProbe), 60_000);
      assert.deepEqual(ready.body, { status: 'ready', store: 'ok', nats: 'ok', redis: 'ok' }, `${role}: ready with its servers`);
      assert.equal((await getJson(probe(role, c.livenessProbe))).status, 200, `${role}: alive`);
    }

    const gateway = `http://127.0.0.1:${ports.get('gateway')!.get('http')}`;
    const sample = fs.readFileSync(path.join(ROOT, 'adapters', 'market-regulation', 'samples', 'batch-01.json'));
    const r = await postBatch(`${gateway}/api/v1/inbound/market-regulation`, sample);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const code = (r.body as any).results[0].supervisionCode;
    const auth = { Authorization: `Bearer ${secret['supervisor-token']}` };
    const view = await waitFor('the supervisor role to light the case', async () => {
      const v = await getJson(`${gateway}/api/v1/cases/${code}`, auth);
      assert.equal(v.status, 200, JSON.stringify(v.body));
      return v.body.light !== null && v.body;
    }, 20_000, 200);
    assert.ok(['GREEN', 'YELLOW', 'RED'].includes(view.light), view.light);

    const grace = Number(deployments[0].spec.template.spec.terminationGracePeriodSeconds) * 1000;
    for (const pod of pods) pod.proc.kill('SIGTERM');
    for (const pod of pods) {
      const timer = setTimeout(() => pod.proc.kill('SIGKILL'), grace);
      const code = await pod.exited;
      clearTimeout(timer);
      assert.equal(code, 0, `the ${pod.role} pod stops within the grace period, cleanly:\n${pod.output().slice(-3000)}`);
    }
  });
});
