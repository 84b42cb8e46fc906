import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { compileCheck } from './schema-check';
import { ConfigError } from './errors';
import { DEMO_CONFIG, CONTRACTS_DIR } from './paths';
import type { Role } from './constants';

export interface TokenConfig {
  name: string;
  token: string;
  roles: Role[];
  /** May see unmasked ID numbers and phones. */
  personalData?: boolean;
}

export interface AdapterRef {
  id: string;
  /** Folder holding adapter.yaml and mapping.yaml. */
  dir: string;
  enabled: boolean;
  /** Deep-merged over the adapter definition (credentials per installation, endpoints). */
  overrides?: Record<string, unknown>;
}

export interface HubConfig {
  region: string;
  http: { host: string; port: number; maxBodyBytes: number };
  dataDir: string;
  /** `embedded` (PGlite under dataDir) or a postgres:// URL. */
  store: string;
  transporter: string | null;
  /** Moleculer namespace: nodes of one hub share it; hubs sharing a NATS server keep apart. */
  namespace: string;
  queue: string | null;
  services: string[] | 'all';
  tokens: TokenConfig[];
  adapters: AdapterRef[];
  registryFile: string;
  catalogueFile: string;
  /** Seconds the gateway lets requests in flight finish on SIGTERM. */
  shutdownGraceSeconds: number;
  logLevel: string;
  configFile: string;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    region: { type: 'string', pattern: '^\\d{6}$' },
    http: {
      type: 'object', additionalProperties: false,
      properties: { host: { type: 'string' }, port: { type: 'integer', minimum: 0, maximum: 65535 }, maxBodyBytes: { type: 'integer', minimum: 1 } },
    },
    dataDir: { type: 'string' },
    store: { type: 'string' },
    transporter: { type: ['string', 'null'] },
    namespace: { type: 'string' },
    queue: { type: ['string', 'null'] },
    services: { anyOf: [{ const: 'all' }, { type: 'array', items: { type: 'string' } }] },
    tokens: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['name', 'token', 'roles'],
        properties: {
          name: { type: 'string' }, token: { type: 'string', minLength: 8 },
          roles: { type: 'array', items: { enum: ['supervisor', 'operator'] } }, personalData: { type: 'boolean' },
        },
      },
    },
    adapters: {
      type: 'array',
      items: {
        type: 'object', additionalProperties: false, required: ['id'],
        properties: { id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' }, dir: { type: 'string' }, enabled: { type: 'boolean' }, overrides: { type: 'object' } },
      },
    },
    registry: { type: 'string' },
    catalogue: { type: 'string' },
    shutdownGraceSeconds: { type: 'number', minimum: 0 },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  },
};

const check = compileCheck(schema);

/**
 * Reads the YAML configuration (HUB_CONFIG, or the demo configuration), then applies the HUB_*
 * environment variables of the public interface over it. Relative paths in the file are relative
 * to the file's folder; HUB_DATA_DIR is relative to the working directory.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, file = env.HUB_CONFIG || DEMO_CONFIG): HubConfig {
  let raw: any;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new ConfigError(`cannot read configuration ${file}: ${(err as Error).message}`, { file });
  }
  const why = check(raw);
  if (why) {
    throw new ConfigError(`invalid configuration ${file}: ${why}`, { file });
  }
  const base = path.dirname(path.resolve(file));
  const rel = (p: string) => path.resolve(base, p);
  const port = env.HUB_HTTP_PORT !== undefined ? Number(env.HUB_HTTP_PORT) : raw.http?.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`HUB_HTTP_PORT is not a port: ${env.HUB_HTTP_PORT}`);
  const services = env.HUB_SERVICES ? (env.HUB_SERVICES === 'all' ? 'all' : env.HUB_SERVICES.split(',').map((s) => s.trim()).filter(Boolean)) : raw.services ?? 'all';
  return {
    region: raw.region ?? '130100',
    http: { host: env.HUB_HTTP_HOST || raw.http?.host || '127.0.0.1', port, maxBodyBytes: raw.http?.maxBodyBytes ?? 1024 * 1024 },
    dataDir: path.resolve(env.HUB_DATA_DIR || (raw.dataDir ? rel(raw.dataDir) : './data')),
    store: env.HUB_STORE || raw.store || 'embedded',
    transporter: env.HUB_TRANSPORTER || raw.transporter || null,
    namespace: env.HUB_NAMESPACE || raw.namespace || 'hub',
    queue: env.HUB_QUEUE || raw.queue || null,
    services,
    tokens: raw.tokens ?? [],
    adapters: (raw.adapters ?? []).map((a: any) => ({ id: a.id, dir: rel(a.dir ?? a.id), enabled: a.enabled !== false, overrides: a.overrides })),
    registryFile: raw.registry ? rel(raw.registry) : path.join(CONTRACTS_DIR, 'registry.yaml'),
    catalogueFile: raw.catalogue ? rel(raw.catalogue) : path.join(CONTRACTS_DIR, 'catalogue.yaml'),
    shutdownGraceSeconds: raw.shutdownGraceSeconds ?? 10,
    logLevel: env.HUB_LOG_LEVEL || raw.logLevel || 'info',
    configFile: path.resolve(file),
  };
}
