import net from 'node:net';
import { loadConfig, HubConfig } from '../core/kernel/config';
import { createLogger, Logger } from '../core/kernel/logger';
import { HubError } from '../core/kernel/errors';
import fs from 'node:fs';
import path from 'node:path';
import { DEMO_CONFIG, ROOT } from '../core/kernel/paths';
import { startTracing, stopTracing, tracesEndpoint } from '../core/kernel/tracing';
import type { RunningHub } from './start-hub';
import { replayCommand } from './replay-command';
import { reprojectCommand } from './reproject-command';
import { useDepartmentServers } from './department-servers';

const io = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) };

const USAGE = `usage: hub <command>

  start [--demo] [--with-simulators]          start a hub node with HUB_CONFIG (--demo: the demo configuration when HUB_CONFIG is unset)
  map <adapter> <file> [--expected [--write]] dry run: the canonical events a file gives, or the reasons;
                                              --expected: a draft of the sample's expected file (--write: into <sample>.expected.json)
  adapter test <folder…>                      conformance: every sample against its expected output
  adapter new <id> --transport rest|soap|file --department <code|name> [--name <system name>] [--marker .done]
                                              scaffold a department folder that passes adapter test once it is named
  replay --dead-letters [--adapter X] [--dry-run]
                                              replay dead letters through the running hub's current profiles
  reproject --all [--after CODE] | CODE…      recompute stored case projections from their events (after a rule changed)
  audit verify [--url U] [--token T] [--head F] check the access log's hash chain; names the first entry that does not hold
  token new ROLE… [--name NAME]               a new API token and the sha256 hash the configuration keeps of it
  rekey [--key-file F] [--no-new-key] [--url U] [--token T]
                                              a new data key, and every sealed value of the running hub's store moved to it
  calendar check FILE…                        check working-day calendar files (contracts/calendar/<year>.yaml): days off, adjusted and working days

Environment: HUB_CONFIG (required by start, unless --demo), HUB_HTTP_HOST, HUB_HTTP_PORT, HUB_HEALTH_PORT, HUB_DATA_DIR, HUB_STORE,
HUB_TRANSPORTER, HUB_NAMESPACE, HUB_SERVICES, HUB_LOG_LEVEL, HUB_OUTBOX_DISPATCH, HUB_POLLING_OFF, HUB_DATA_KEY_FILE;
OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (traces over OTLP/HTTP; the other OTEL_* variables as OpenTelemetry defines them)`;

/** The hub's version (package.json), as its traces name it. */
const HUB_VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** How long `hub start` waits for a PostgreSQL store to answer: a start that cannot succeed ends within 5 s. */
const STORE_CONNECT_TIMEOUT_MS = 2000;
/** After a failed start, how long the process may take to let go of what it opened before it is ended. */
const EXIT_GRACE_MS = 1000;

async function start(args: string[]): Promise<number> {
  const demo = args.includes('--demo');
  let config: HubConfig;
  try {
    // --demo stands in for HUB_CONFIG only when it is unset: a node never falls back to the demo tokens.
    config = loadConfig(process.env, process.env.HUB_CONFIG || (demo ? DEMO_CONFIG : undefined));
    await checkPort(config);
    await checkStore(config);
  } catch (err) {
    return cannotStart(err, null);
  }
  // Traces go to the OTLP endpoint of the OTEL_* variables; none configured, tracing is off.
  const tracing = startTracing({ version: HUB_VERSION, services: config.services === 'all' ? 'all' : config.services.join(',') });
  const logger = createLogger(config.logLevel);
  if (tracing) logger.info({ endpoint: withoutPassword(tracesEndpoint() ?? '') }, 'traces sent over OTLP/HTTP (OTEL_EXPORTER_OTLP_*)');
  if (config.queue) logger.info({ queue: withoutPassword(config.queue) }, 'jobs (SMS, outbound deliveries) on BullMQ in Redis (HUB_QUEUE); polling and sweeps stay under leases in the store');
  const withSimulators = args.includes('--with-simulators');
  let servers: { stop(): Promise<void> } | null = null;
  let simulators: { stop(): Promise<void> } | null = null;
  let hub: RunningHub;
  /** The demo subscriber's admin API, when the simulators run one. */
  let subscriberAdmin: string | null = null;
  try {
    // Loaded only when asked for: a production node never carries the demo counterparts.
    const sims = withSimulators ? await import('../infra/simulators') : null;
    const simLogger = logger.child({ component: 'simulators' });
    // The servers the hub calls come first, so that its first poll finds them.
    const started = sims ? await sims.startDepartmentServers({ logger: simLogger, subscriberPort: 0 }) : null;
    servers = simulators = started;
    if (started) subscriberAdmin = useDepartmentServers(config, started);
    // Loaded after the checks above, so that a start that cannot succeed says so at once.
    const { startHub } = await import('./start-hub');
    hub = await startHub(config, logger);
    if (sims && started && hub.url) {
      simulators = await sims.startSimulators({ hubUrl: hub.url, dataDir: config.dataDir, logger: simLogger, servers: started });
    }
  } catch (err) {
    await servers?.stop().catch(() => undefined);
    return cannotStart(err, logger);
  }
  logger.info({ url: hub.url, store: config.store === 'embedded' ? `embedded (PGlite in ${config.dataDir}/store)` : 'postgres', services: config.services, adapters: [...hub.context.adapters.keys()], demo: config.configFile === DEMO_CONFIG }, 'hub started');
  if (hub.url) {
    const demoToken = config.configFile === DEMO_CONFIG ? '   (Authorization: Bearer demo-supervisor-token)' : '';
    process.stdout.write(`\nCase exchange hub listening on ${hub.url}\n` +
      `  supervisor API  ${hub.url}/api/v1/cases${demoToken}\n` +
      `  console         ${hub.url}/console${demoToken ? '   (sign in with demo-supervisor-token)' : ''}\n` +
      `  public view     ${hub.url}/api/v1/public/cases/{code}\n` +
      `  status page     ${hub.url}/status/{code}\n` +
      `  metrics         ${hub.url}/metrics\n` +
      (subscriberAdmin ? `  subscriber      ${subscriberAdmin}   (the demo subscription's receiver; POST /_admin/mode to make it fail)\n` : '') +
      [...hub.context.adapters.values()].flatMap(({ transport }) => transport.httpRoutes().map((r) => `  ${transport.adapterId.padEnd(15)} ${r.method} ${hub.url}${r.path}\n`)).join('') +
      `  data            ${config.dataDir}\n\n`);
  } else {
    process.stdout.write(`\nCase exchange hub node started: ${config.services === 'all' ? 'all services' : config.services.join(', ')}; no gateway on this node\n` +
      (hub.healthUrl ? `  health          ${hub.healthUrl}/health/ready\n  metrics         ${hub.healthUrl}/metrics\n` : '  no health port (HUB_HEALTH_PORT)\n') + '\n');
  }
  // A node with nothing to listen on (no gateway, no transporter) runs until it is stopped all the same.
  const running = setInterval(() => undefined, 2 ** 30);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      void (async () => {
        await simulators?.stop().catch(() => undefined);
        await hub.stop();
        // The spans of the last messages go before the process ends.
        await stopTracing().catch((err) => logger.warn({ err: (err as Error).message }, 'the last spans were not sent'));
        clearInterval(running);
        resolve();
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  logger.info('hub stopped');
  return 0;
}

/**
 * A start that cannot succeed: one line on stderr that names the setting to fix, and a non-zero exit.
 * The stack goes to the log at debug level only; whatever the failed start left open (a connection
 * attempt, a half-started broker) does not keep the process alive.
 */
function cannotStart(err: unknown, logger: Logger | null): number {
  logger?.debug({ err: (err as Error)?.message, stack: (err as Error)?.stack }, 'start failed');
  process.stderr.write(`hub: cannot start: ${startFailure(err).replace(/\s*\n\s*/g, ' ')}\n`);
  setTimeout(() => process.exit(1), EXIT_GRACE_MS).unref();
  return 1;
}

/** The reason a start failed, in words, naming the setting behind it. */
function startFailure(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (err instanceof HubError) return err.message;
  const at = `${e.address ?? ''}:${e.port ?? ''}`;
  if (e?.syscall === 'listen') {
    if (e.code === 'EADDRINUSE') return `port ${at} is in use (HUB_HTTP_PORT)`;
    if (e.code === 'EACCES') return `no permission to listen on ${at} (HUB_HTTP_PORT: ports below 1024 need privileges)`;
    if (e.code === 'EADDRNOTAVAIL') return `${e.address} is not an address of this machine (HUB_HTTP_HOST)`;
  }
  if (e?.code === 'ENOTFOUND' && e.syscall === 'getaddrinfo') return `${(e as { hostname?: string }).hostname ?? 'a host'} does not resolve: ${e.message}`;
  return e?.message || String(err);
}

/** The gateway's port is free (a node without the gateway listens on none). */
async function checkPort(config: HubConfig): Promise<void> {
  const gateway = config.services === 'all' || config.services.includes('gateway');
  if (!gateway || config.http.port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ port: config.http.port, host: config.http.host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** A PostgreSQL store answers, within STORE_CONNECT_TIMEOUT_MS (without a timeout, a host that drops packets holds the start for minutes). */
async function checkStore(config: HubConfig): Promise<void> {
  if (!/^postgres(ql)?:\/\//.test(config.store)) return;
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: config.store, connectionTimeoutMillis: STORE_CONNECT_TIMEOUT_MS });
  const url = withoutPassword(config.store);
  const started = Date.now();
  try {
    await client.connect();
  } catch (err) {
    const timedOut = Date.now() - started >= STORE_CONNECT_TIMEOUT_MS - 50;
    throw new HubError(timedOut
      ? `the store ${url} did not answer within ${STORE_CONNECT_TIMEOUT_MS / 1000} s (HUB_STORE)`
      : `cannot connect to the store ${url} (HUB_STORE): ${(err as Error).message}`, 'START_FAILED', 'STORE_UNREACHABLE', { field: 'HUB_STORE', value: url });
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A URL as it may be shown: without its password. */
function withoutPassword(url: string): string {
  return url.replace(/(\/\/[^:/@\s]*):[^@\s]*@/, '$1:***@');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return start(args);
    // The adapter commands load the adapter kit: only when they are the command.
    case 'map':
      return (await import('./adapter-commands')).mapCommand(args, io);
    case 'adapter':
      if (args[0] === 'test') return (await import('./adapter-commands')).adapterTestCommand(args.slice(1), io);
      if (args[0] === 'new') return (await import('./adapter-commands')).adapterNewCommand(args.slice(1), io);
      process.stderr.write(`unknown adapter command ${args[0] ?? ''}\n${USAGE}\n`);
      return 2;
    case 'replay':
      return replayCommand(args, io);
    case 'reproject':
      return reprojectCommand(args, io);
    case undefined:
    case 'audit':
      return (await import('./audit-command')).auditCommand(args, io);
    case 'rekey':
      return (await import('./rekey-command')).rekeyCommand(args, io);
    case 'token':
      return (await import('./token-command')).tokenCommand(args, io);
    case 'calendar':
      return (await import('./calendar-command')).calendarCommand(args, io);
    case 'help':
    case '--help':
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 2;
    default:
      process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
      return 2;
  }
}
