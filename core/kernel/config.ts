import fs from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import YAML from 'yaml';
import Ajv, { ErrorObject } from 'ajv';
import { ConfigError } from './errors';
import { CONTRACTS_DIR } from './paths';
import type { Role } from './constants';
import type { CanonicalStatus, SubscriptionFilter } from '../../contracts/types';
import schema from './config.schema.json';

export interface TokenConfig {
  name: string;
  /** sha256 of the token: what a presented token is compared with, in constant time. */
  hash: Buffer;
  /** The token itself, when the configuration gives it (token, tokenFile, tokenEnv); never for tokenHash. */
  secret?: string;
  roles: Role[];
  /** Canonical department codes: the token sees only these departments' cases, statistics and alerts. */
  departments?: string[];
  /** May see unmasked ID numbers and phones. */
  personalData?: boolean;
}

/** The supervisor's settings (services/supervisor/). */
export interface SupervisionConfig {
  /** Folder of the working-day calendars (<year>.yaml); null: the shipped contracts/calendar. */
  calendarDir: string | null;
  yellowAt: number;
  items: Record<string, { yellowAt?: number; promisedDays?: number; intakeDays?: number }>;
  sweepSeconds: number;
  sweepBatch: number;
}

/** Evaluations (好差评, services/evaluations/). */
export interface EvaluationsConfig {
  /** What evaluation links start with (`<publicBaseUrl>/e/<token>`); null: the hub's own HTTP address. */
  publicBaseUrl: string | null;
  /** Days a link stays open after it was issued. */
  linkDays: number;
  /** Working days within which a rating of 2 or less is followed up. */
  followUpWorkingDays: number;
  /** How often one node looks for follow-ups past their due time. */
  sweepSeconds: number;
}

/** The SMS notifier (services/notifier/). */
export interface NotifierConfig {
  /** false: no SMS is sent, as without the section. */
  enabled: boolean;
  /** The gateway's base URL (messages go to <url>/sms/v1/messages), its bearer token, and how long a request may take. */
  gateway: { url: string; token: string; timeoutMs: number };
  /** Messages started per second, across every node (the gateway's limit). */
  ratePerSecond: number;
  /** Requests one node has in flight at once. */
  concurrency: number;
  /** The statuses an applicant is told of. */
  statuses: CanonicalStatus[];
  /** Per catalogue item code: its statuses instead. */
  items: Record<string, { statuses: CanonicalStatus[] }>;
  retry: { firstDelayMs: number; maxDelayMs: number; giveUpHours: number };
  /** How often a node looks for messages other nodes queued, or that came due. */
  pollIntervalMs: number;
}

/** An outbound subscription of the configuration (services/subscriptions/), its secret resolved. */
export interface SubscriptionConfig {
  id: string;
  url: string;
  secret: string;
  keyId: string;
  filter: SubscriptionFilter;
  personalData: boolean;
  ratePerSecond: number;
}

/** How subscriptions are delivered (services/subscriptions/). */
export interface OutboundConfig {
  /** Deliveries one node has in flight at once per subscription. */
  concurrency: number;
  timeoutMs: number;
  retry: { firstDelayMs: number; maxDelayMs: number; giveUpHours: number };
  pollIntervalMs: number;
  reloadSeconds: number;
  /** How long a delivery taken is remembered (its key guarded against a second delivery). */
  keepDoneDays: number;
}

export interface AdapterRef {
  id: string;
  /** Folder holding adapter.yaml and mapping.yaml. */
  dir: string;
  enabled: boolean;
  /** Deep-merged over the adapter definition (credentials per installation, endpoints). */
  overrides?: Record<string, unknown>;
}

/** The outbox and the bus (services/outbox/). */
export interface OutboxConfig {
  /** Whether this node publishes committed events; off (HUB_OUTBOX_DISPATCH=off), they wait in the outbox. */
  dispatch: boolean;
  /** How often the dispatcher looks for events other nodes committed; this node's own commits nudge it at once. */
  pollIntervalMs: number;
  /** Events read and published per round. */
  batchSize: number;
  /** Limits of the bus's NATS JetStream streams (cluster mode), which otherwise keep every message forever. */
  stream: { maxAgeHours: number; maxBytes: number };
}

/** What Prometheus is told besides the counts (infra/prometheus/). */
export interface MonitoringConfig {
  /** Beijing time, HH:MM; `to` may be 24:00. days: the calendar's working days, or every day. */
  officeHours: { from: string; to: string; days: 'working' | 'all' };
}

export interface HubConfig {
  region: string;
  /** healthPort (HUB_HEALTH_PORT): where a node without the gateway answers /health/live and /health/ready; null: nowhere. */
  http: { host: string; port: number; maxBodyBytes: number; healthPort: number | null };
  dataDir: string;
  /** HUB_DATA_KEY_FILE: the data keys' file; null: the one under dataDir, made on first start. */
  dataKeyFile: string | null;
  /** `embedded` (PGlite under dataDir) or a postgres:// URL. */
  store: string;
  /** Connections this node keeps to a PostgreSQL store (HUB_STORE_POOL_SIZE). */
  storePoolSize: number;
  /** The embedded store's page cache in MB (HUB_STORE_CACHE_MB): its PostgreSQL's shared_buffers. */
  storeCacheMb: number;
  transporter: string | null;
  /** Moleculer namespace: nodes of one hub share it; hubs sharing a NATS server keep apart. */
  namespace: string;
  /** Reserved (HUB_QUEUE): nothing uses it yet. */
  queue: string | null;
  services: string[] | 'all';
  tokens: TokenConfig[];
  adapters: AdapterRef[];
  /** Adapters whose polling is switched off on this node (HUB_POLLING_OFF), or `all`. */
  pollingOff: string[];
  registryFile: string;
  catalogueFile: string;
  /** Seconds the gateway lets requests in flight finish on SIGTERM. */
  shutdownGraceSeconds: number;
  outbox: OutboxConfig;
  supervision: SupervisionConfig;
  /** null: no notifier section, and no SMS is sent. */
  notifier: NotifierConfig | null;
  evaluations: EvaluationsConfig;
  /** The subscriptions of the configuration (those created through the API are in the store). */
  subscriptions: SubscriptionConfig[];
  outbound: OutboundConfig;
  monitoring: MonitoringConfig;
  logLevel: string;
  configFile: string;
}

/**
 * Why `hub start` will not start without HUB_CONFIG: the demo configuration carries well-known
 * tokens, so a production node must never fall back to it.
 */
export const NO_CONFIG_MESSAGE = 'HUB_CONFIG is not set: set it to this node\'s configuration file (core/kernel/config.schema.json), or start the demo departments and tokens with `hub start --demo`';

/** A whole number as a number; anything else as it was written, for the schema to refuse by name. */
function integer(_name: string, value: string): unknown {
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** The HUB_* variables of the public interface, each over the setting it names (HUB_DATA_DIR apart: it is relative to the working directory). */
const ENV_SETTINGS: { name: string; field: string; read?: (name: string, value: string) => unknown }[] = [
  { name: 'HUB_HTTP_HOST', field: 'http.host' },
  { name: 'HUB_HTTP_PORT', field: 'http.port', read: integer },
  { name: 'HUB_HEALTH_PORT', field: 'http.healthPort', read: integer },
  { name: 'HUB_STORE', field: 'store' },
  { name: 'HUB_STORE_POOL_SIZE', field: 'storePoolSize', read: integer },
  { name: 'HUB_STORE_CACHE_MB', field: 'storeCacheMb', read: integer },
  { name: 'HUB_TRANSPORTER', field: 'transporter' },
  { name: 'HUB_NAMESPACE', field: 'namespace' },
  { name: 'HUB_QUEUE', field: 'queue' },
  { name: 'HUB_SERVICES', field: 'services', read: (_n, v) => serviceList(v) },
  { name: 'HUB_LOG_LEVEL', field: 'logLevel' },
  { name: 'HUB_OUTBOX_DISPATCH', field: 'outbox.dispatch', read: onOff },
  { name: 'HUB_POLLING_OFF', field: 'pollingOff', read: (_n, v) => v.split(',').map((s) => s.trim()).filter(Boolean) },
];

// Defaults are filled in from the schema, so that the schema is the one place that states them.
const validate = new Ajv({ allErrors: true, strict: false, useDefaults: true }).compile(schema);

/**
 * Reads the YAML configuration HUB_CONFIG names (there is no default: see NO_CONFIG_MESSAGE), then
 * applies the HUB_* environment variables of the public interface over it, and checks the result
 * against config.schema.json, naming the setting (and the variable) that is wrong. Relative paths
 * in the file are relative to the file's folder; HUB_DATA_DIR is relative to the working directory.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, file: string | undefined = env.HUB_CONFIG || undefined): HubConfig {
  if (!file) throw new ConfigError(NO_CONFIG_MESSAGE, { field: 'HUB_CONFIG' });
  const where = path.resolve(file);
  const named = file === env.HUB_CONFIG ? ' (HUB_CONFIG)' : '';
  let text: string;
  try {
    text = fs.readFileSync(where, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `configuration file ${where}${named} not found` : `cannot read configuration file ${where}${named}: ${(err as Error).message}`, { file: where });
  }
  let raw: any;
  try {
    raw = YAML.parse(text) ?? {};
  } catch (err) {
    // The parser's message goes on to draw the offending lines; its first line says what and where.
    throw new ConfigError(`configuration file ${where}${named} is not YAML: ${(err as Error).message.split('\n')[0]}`, { file: where });
  }
  if (raw && typeof raw === 'object' && !Array.isArray(raw) && typeof raw.services === 'string') raw.services = serviceList(raw.services);
  const fromEnv = new Map<string, string>();
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const s of ENV_SETTINGS) {
      const value = env[s.name];
      if (value === undefined || value === '') continue;
      setField(raw, s.field, s.read ? s.read(s.name, value) : value);
      fromEnv.set(s.field, s.name);
    }
  }
  const valid: boolean = validate(raw);
  if (!valid) {
    const problems = (validate.errors ?? []).map((e) => describeProblem(e, raw, fromEnv));
    const first = fieldOf(validate.errors![0]);
    const inFile = (validate.errors ?? []).some((e) => !envOf(fieldOf(e), fromEnv));
    throw new ConfigError(`invalid configuration${inFile ? ` ${where}` : ''}: ${problems.join('; ')}`, { file: where, field: envOf(first, fromEnv) ?? first });
  }
  const rel = (p: string) => path.resolve(path.dirname(where), p);
  return {
    region: raw.region,
    http: { host: raw.http.host, port: raw.http.port, maxBodyBytes: raw.http.maxBodyBytes, healthPort: raw.http.healthPort },
    dataDir: path.resolve(env.HUB_DATA_DIR || (raw.dataDir ? rel(raw.dataDir) : './data')),
    dataKeyFile: env.HUB_DATA_KEY_FILE ? path.resolve(env.HUB_DATA_KEY_FILE) : raw.dataKeyFile ? rel(raw.dataKeyFile) : null,
    store: raw.store,
    storePoolSize: raw.storePoolSize,
    storeCacheMb: raw.storeCacheMb,
    transporter: raw.transporter,
    namespace: raw.namespace,
    queue: raw.queue,
    services: raw.services,
    tokens: resolveTokens(raw.tokens, rel, env, where),
    adapters: adapterRefs(raw, rel, where),
    pollingOff: raw.pollingOff,
    registryFile: raw.registry ? rel(raw.registry) : path.join(CONTRACTS_DIR, 'registry.yaml'),
    catalogueFile: raw.catalogue ? rel(raw.catalogue) : path.join(CONTRACTS_DIR, 'catalogue.yaml'),
    shutdownGraceSeconds: raw.shutdownGraceSeconds,
    outbox: raw.outbox,
    supervision: { ...raw.supervision, calendarDir: raw.supervision.calendarDir ? rel(raw.supervision.calendarDir) : null },
    notifier: raw.notifier ? { ...raw.notifier, gateway: { url: String(raw.notifier.gateway.url).replace(/\/+$/, ''), token: resolveSecret(raw.notifier.gateway, 'notifier.gateway', rel, env, where), timeoutMs: raw.notifier.gateway.timeoutMs } } : null,
    evaluations: { ...raw.evaluations, publicBaseUrl: raw.evaluations.publicBaseUrl ? String(raw.evaluations.publicBaseUrl).replace(/\/+$/, '') : null },
    subscriptions: subscriptionsOf(raw.subscriptions, rel, env, where),
    outbound: raw.outbound,
    monitoring: raw.monitoring,
    logLevel: raw.logLevel,
    configFile: where,
  };
}

/** sha256 of a token, as tokens are kept and compared. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * A secret the hub presents to another system (the SMS gateway's token), from whichever of token,
 * tokenFile and tokenEnv the setting gives; a file or variable that is missing or empty stops the
 * start, naming the setting, never the secret.
 */
function resolveSecret(entry: { token?: string; tokenFile?: string; tokenEnv?: string }, setting: string, rel: (p: string) => string, env: NodeJS.ProcessEnv, where: string,
  names: { what: string; file: string; env: string; minLength: number } = { what: 'token', file: 'tokenFile', env: 'tokenEnv', minLength: 8 }): string {
  const fail = (why: string, field: string) => new ConfigError(`invalid configuration ${where}: ${setting}.${field}: ${why}`, { file: where, field: `${setting}.${field}` });
  const short = `holds no ${names.what} of ${names.minLength} characters or more`;
  if (entry.token !== undefined) return entry.token;
  if (entry.tokenFile !== undefined) {
    const file = rel(entry.tokenFile);
    let secret: string;
    try {
      secret = fs.readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw fail(`${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, names.file);
    }
    if (secret.length < names.minLength) throw fail(`${file} ${short}`, names.file);
    return secret;
  }
  const secret = env[entry.tokenEnv ?? '']?.trim();
  if (!secret || secret.length < names.minLength) throw fail(`the variable ${entry.tokenEnv} ${short}`, names.env);
  return secret;
}

/** The configuration's subscriptions that are enabled, each with its secret read; two with one id stop the start. */
function subscriptionsOf(raw: any[], rel: (p: string) => string, env: NodeJS.ProcessEnv, where: string): SubscriptionConfig[] {
  const seen = new Set<string>();
  const out: SubscriptionConfig[] = [];
  for (const [i, s] of raw.entries()) {
    if (seen.has(s.id)) throw new ConfigError(`invalid configuration ${where}: subscriptions[${i}].id: ${s.id} is the id of an earlier subscription`, { file: where, field: `subscriptions[${i}].id` });
    seen.add(s.id);
    if (s.enabled === false) continue;
    const secret = resolveSecret({ token: s.secret, tokenFile: s.secretFile, tokenEnv: s.secretEnv }, `subscriptions[${i}]`, rel, env, where, { what: 'secret', file: 'secretFile', env: 'secretEnv', minLength: 16 });
    out.push({ id: s.id, url: s.url, secret, keyId: s.keyId ?? s.id, filter: s.filter ?? {}, personalData: s.personalData === true, ratePerSecond: s.ratePerSecond ?? 0 });
  }
  return out;
}

/**
 * The tokens of the file, each as its hash, from whichever of token, tokenHash, tokenFile and
 * tokenEnv the entry gives; a file or variable that is missing or empty stops the start, naming the
 * entry, never the secret.
 */
function resolveTokens(entries: any[], rel: (p: string) => string, env: NodeJS.ProcessEnv, where: string): TokenConfig[] {
  return entries.map((t) => {
    const fail = (why: string, field: string) => new ConfigError(`invalid configuration ${where}: token ${JSON.stringify(t.name)}: ${why}`, { file: where, field });
    let secret: string | undefined;
    if (t.token !== undefined) secret = t.token;
    else if (t.tokenFile !== undefined) {
      const file = rel(t.tokenFile);
      try {
        secret = fs.readFileSync(file, 'utf8').trim();
      } catch (err) {
        throw fail(`tokenFile ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, 'tokenFile');
      }
      if (secret.length < 8) throw fail(`tokenFile ${file} holds no token of 8 characters or more`, 'tokenFile');
    } else if (t.tokenEnv !== undefined) {
      secret = env[t.tokenEnv]?.trim();
      if (!secret || secret.length < 8) throw fail(`the variable ${t.tokenEnv} holds no token of 8 characters or more`, 'tokenEnv');
    }
    const hash = secret !== undefined ? tokenHash(secret) : Buffer.from(String(t.tokenHash).slice('sha256:'.length), 'hex');
    return {
      name: t.name, hash, ...(secret !== undefined ? { secret } : {}), roles: t.roles,
      ...(t.departments ? { departments: t.departments } : {}), ...(t.personalData !== undefined ? { personalData: t.personalData } : {}),
    };
  });
}

/**
 * The adapters of the file: those listed, then every department folder `adapterDirs` names that is
 * not listed (a new department is deployed by dropping its folder beside the others). Polling is
 * switched off, by an override of the definition, for the adapters `pollingOff` names.
 */
function adapterRefs(raw: any, rel: (p: string) => string, where: string): AdapterRef[] {
  const refs: AdapterRef[] = raw.adapters.map((a: any) => ({ id: a.id, dir: rel(a.dir ?? a.id), enabled: a.enabled, overrides: a.overrides }));
  const listed = new Set(refs.map((r) => r.id));
  for (const entry of raw.adapterDirs as string[]) {
    const all = entry.endsWith('/*');
    const at = rel(all ? entry.slice(0, -2) : entry);
    if (!fs.existsSync(at)) throw new ConfigError(`invalid configuration ${where}: adapterDirs: ${entry} is not a folder (${at})`, { file: where, field: 'adapterDirs', value: entry });
    const dirs = all
      ? fs.readdirSync(at, { withFileTypes: true }).filter((d) => d.isDirectory() && fs.existsSync(path.join(at, d.name, 'adapter.yaml'))).map((d) => path.join(at, d.name)).sort()
      : [at];
    for (const dir of dirs) {
      const id = path.basename(dir);
      if (listed.has(id)) continue;
      listed.add(id);
      refs.push({ id, dir, enabled: true });
    }
  }
  const off: string[] = raw.pollingOff;
  for (const ref of refs) {
    if (!off.includes('all') && !off.includes(ref.id)) continue;
    if (!pollsDepartment(ref.dir)) continue;
    ref.overrides = mergeOver(ref.overrides ?? {}, { transport: { options: { poll: { enabled: false } } } });
  }
  return refs;
}

/**
 * Whether a department folder's transport polls (has a `poll` section): only those take the
 * switch, since the other transports' option schemas have no `poll` to switch. A folder that cannot
 * be read is left to the adapter loader, which says why.
 */
function pollsDepartment(dir: string): boolean {
  try {
    const def = YAML.parse(fs.readFileSync(path.join(dir, 'adapter.yaml'), 'utf8'));
    return Boolean(def?.transport?.options?.poll);
  } catch {
    return false;
  }
}

/**
 * Deep-merges settings over one adapter's overrides (the demo's simulators pass in the ports they
 * listen on), unless its polling is switched off: `poll` settings then stay off. Answers whether
 * the configuration runs that adapter.
 */
export function overrideAdapter(config: HubConfig, id: string, overrides: Record<string, unknown>): boolean {
  const ref = config.adapters.find((a) => a.id === id && a.enabled);
  if (!ref) return false;
  const off = config.pollingOff.includes('all') || config.pollingOff.includes(id);
  const merged = mergeOver(ref.overrides ?? {}, overrides);
  if (off && merged?.transport?.options?.poll) merged.transport.options.poll.enabled = false;
  ref.overrides = merged;
  return true;
}

function mergeOver(base: any, over: any): any {
  if (!over || typeof over !== 'object' || Array.isArray(over)) return over;
  const out = { ...(base && typeof base === 'object' ? base : {}) };
  for (const [k, v] of Object.entries(over)) out[k] = mergeOver(out[k], v);
  return out;
}

/** `all`, or the names of a comma-separated list. */
function serviceList(value: string): string[] | 'all' {
  return value.trim() === 'all' ? 'all' : value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** An on/off environment variable. */
function onOff(name: string, value: string): boolean {
  if (/^(on|true|1|yes)$/i.test(value)) return true;
  if (/^(off|false|0|no)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be on or off, not ${JSON.stringify(value)}`, { field: name, value });
}

function setField(obj: any, field: string, value: unknown): void {
  const keys = field.split('.');
  let at = obj;
  for (const k of keys.slice(0, -1)) {
    if (at[k] === null || typeof at[k] !== 'object') at[k] = {};
    at = at[k];
  }
  at[keys[keys.length - 1]] = value;
}

/** The dotted path of the setting a schema error is about (the unknown or missing one itself, when it is that). */
function fieldOf(e: ErrorObject): string {
  const keys = e.instancePath.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') keys.push(String((e.params as { additionalProperty: string }).additionalProperty));
  if (e.keyword === 'required') keys.push(String((e.params as { missingProperty: string }).missingProperty));
  return keys.join('.');
}

/** The variable that set a setting, or the list or object it is part of. */
function envOf(field: string, fromEnv: Map<string, string>): string | undefined {
  for (const [f, name] of fromEnv) if (field === f || field.startsWith(`${f}.`)) return name;
  return undefined;
}

/** One problem in words: the setting, the variable that set it, what it must be and what it is. */
function describeProblem(e: ErrorObject, data: unknown, fromEnv: Map<string, string>): string {
  const field = fieldOf(e);
  if (e.keyword === 'additionalProperties') return `unknown setting ${field}`;
  if (e.keyword === 'required') return `${field} is missing`;
  const variable = envOf(field, fromEnv);
  const name = variable ? `${variable} (${field})` : field || 'the file';
  let value: unknown = data;
  for (const k of e.instancePath.split('/').slice(1)) value = (value as any)?.[k];
  const must = e.keyword === 'enum' ? `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : e.message;
  // A secret that breaks the schema is still a secret, and so is one inside an object shown whole.
  if (/(token|tokenHash|secret|password|key)$/i.test(field)) return `${name} ${must}`;
  return `${name} ${must}, not ${withoutPassword(JSON.stringify(value, (k, v) => (/^(token|tokenHash|secret|password|key)$/i.test(k) ? '***' : v)))}`;
}

/** A URL's password never reaches a message. */
function withoutPassword(text: string): string {
  return text.replace(/(\/\/[^:/@\s"]*):[^@\s"]*@/g, '$1:***@');
}
