import { ServiceBroker } from 'moleculer';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadConfig, HubConfig } from '../core/kernel/config';
import { ConfigError } from '../core/kernel/errors';
import { createLogger, Logger } from '../core/kernel/logger';
import { HubMetrics } from '../core/kernel/metrics';
import type { HubContext } from '../services/context';
import { openStore } from '../services/store/open-store';
import type { StatementObserver } from '../services/store/sql-driver';
import { ProfileSet } from '../adapters/kit/mapping/profile-set';
import { Intake } from '../services/intake/intake';
import { loadSharedTables } from '../adapters/kit/mapping/shared-tables';
import { loadAdapterDefinition } from '../adapters/kit/definition';
import { resolve as resolveTransport } from '../adapters/kit/transports';
import { gatewayService } from '../services/gateway.service';
import { moleculerLoggerConfig } from './moleculer-logger';
import { casesService } from '../services/cases.service';
import { deadLettersService } from '../services/dead-letters.service';
import { filesService } from '../services/files.service';
import { mappingService, profilesService } from '../services/mapping.service';
import { busMiddleware, cutBusRetries } from '../services/outbox/bus';
import { traceMiddleware } from '../services/trace-middleware';
import { BrokerChannels } from '../services/outbox/broker-channels';
import { startDispatch, dispatchWakeService, DispatchWake } from '../services/outbox/outbox-dispatch';
import { OUTBOX_QUEUE, ALERTS_QUEUE, SMS_QUEUE } from '../core/kernel/constants';
import { supervisorService } from '../services/supervisor.service';
import { auditService } from '../services/audit.service';
import { keysService } from '../services/keys.service';
import { evaluationsService } from '../services/evaluations.service';
import { notifierService } from '../services/notifier.service';
import { subscriptionsService } from '../services/subscriptions.service';
import { startHealthServer } from '../services/readiness';
import { StoreJobQueue } from '../services/store/job-queue';
import { EmbeddedVacuum } from '../services/store/vacuum';
import { BullJobQueue } from '../services/queue/bullmq-job-queue';
import { loadCalendarDir, DEFAULT_CALENDAR_DIR } from '../core/calendar/calendar-file';
import { WorkingCalendar } from '../core/calendar/working-calendar';
import { isOfficeHours } from '../core/calendar/office-hours';
import type { AdapterDefinition } from '../adapters/kit/definition';

export interface RunningHub {
  context: HubContext;
  broker: ServiceBroker;
  /** Base URL of the HTTP gateway, when this node runs it. */
  url: string | null;
  /**
   * Where this node answers /health/live, /health/ready and /metrics: the gateway's URL, or on a
   * node without the gateway its health port's (HUB_HEALTH_PORT); null when it has neither.
   */
  healthUrl: string | null;
  stop(): Promise<void>;
}

const SERVICES = {
  gateway: gatewayService,
  cases: casesService,
  'dead-letters': deadLettersService,
  files: filesService,
  mapping: mappingService,
  supervisor: supervisorService,
  audit: auditService,
  keys: keysService,
  evaluations: evaluationsService,
  notifier: notifierService,
  subscriptions: subscriptionsService,
} as const;

/** The Moleculer services a node may run (HUB_SERVICES). */
export const SERVICE_NAMES = Object.keys(SERVICES);

/**
 * Roles HUB_SERVICES may name besides the services, as DESIGN.md names the parts:
 * - `adapters`: the department transports without the HTTP gateway (polling departments, taking
 *   drop folders, recovering raw messages left pending), so that they scale apart from it; a node
 *   that runs `gateway` runs them too, as it always has (push endpoints answer within the request);
 * - `dispatch`: the outbound deliveries, i.e. the `subscriptions` service.
 */
export const ROLES: Readonly<Record<string, readonly string[]>> = {
  adapters: [],
  dispatch: ['subscriptions'],
};

/** Every name HUB_SERVICES accepts: the services and the roles. */
export const ROLE_NAMES = [...SERVICE_NAMES, ...Object.keys(ROLES)];

/** What a node runs: its Moleculer services, and whether it runs the department transports. */
export interface NodeRoles {
  services: string[];
  transports: boolean;
}

/** What this node runs; a name that is none of the services or roles is refused before anything is opened. */
export function rolesOf(config: Pick<HubConfig, 'services'>): NodeRoles {
  const names = config.services === 'all' ? ROLE_NAMES : config.services;
  const unknown = names.filter((n) => !ROLE_NAMES.includes(n));
  if (unknown.length) {
    throw new ConfigError(`HUB_SERVICES names no service ${unknown.map((n) => JSON.stringify(n)).join(', ')}: the services are all, or some of ${ROLE_NAMES.join(', ')}`, { field: 'HUB_SERVICES', value: unknown.join(',') });
  }
  const services = new Set(names.flatMap((n) => ROLES[n] ?? [n]));
  return {
    services: SERVICE_NAMES.filter((n) => services.has(n)),
    transports: names.includes('gateway') || names.includes('adapters'),
  };
}

/** What a caller embedding the hub may add to its configuration. */
export interface HubOptions {
  /** Shown every statement the store sends, before it runs (the plans of the hub's own statements). */
  observeStatements?: StatementObserver;
  /** The hub's clock (lights are computed for its now); the system clock by default. */
  clock?: () => Date;
}

/**
 * Starts a hub node: opens the store the configuration names, loads every adapter and its mapping
 * profile, starts the Moleculer services this node runs, then, on a node that runs the gateway, the
 * department transports (which first process whatever raw messages a previous stop left pending).
 * Transports run on the nodes that run the gateway (their push endpoints are the gateway's routes)
 * or the `adapters` role (polling and drop folders without HTTP); any other node (a query node)
 * neither polls departments nor takes drop folders.
 */
export async function startHub(config: HubConfig = loadConfig(), logger: Logger = createLogger(config.logLevel), options: HubOptions = {}): Promise<RunningHub> {
  const roles = rolesOf(config);
  const wanted = roles.services;
  const runsTransports = roles.transports;
  const metrics = new HubMetrics();
  let closeJobs: () => Promise<void> = () => Promise.resolve();
  const store = await openStore({ store: config.store, dataDir: config.dataDir, region: config.region, keyFile: config.dataKeyFile ?? undefined, observe: options.observeStatements, poolSize: config.storePoolSize, cacheMb: config.storeCacheMb });
  // The embedded store (PGlite) runs no autovacuum of its own: the hub's does (a server has its own).
  const vacuum = store.driver.kind === 'pglite' ? new EmbeddedVacuum(store.driver, logger.child({ component: 'store' })) : null;
  try {
    const shared = loadSharedTables(config.registryFile, config.catalogueFile);
    const profiles = new ProfileSet(shared, logger);
    const intake = new Intake({ store, profiles, metrics, logger });
    const channels = new BrokerChannels();
    const calendar = loadCalendarDir(config.supervision.calendarDir ?? DEFAULT_CALENDAR_DIR);
    // HUB_QUEUE names a Redis: the jobs (SMS, outbound deliveries) are BullMQ's there, shared by the
    // nodes of the namespace; otherwise they are rows of the store.
    const bull = config.queue ? new BullJobQueue(config.queue, store.keys, { prefix: `hub-${config.namespace}` }) : null;
    closeJobs = () => bull?.close() ?? Promise.resolve();
    const context: HubContext = {
      config, logger, metrics, store, profiles, intake, channels, adapters: new Map(),
      jobs: bull ?? new StoreJobQueue(store.driver, store.keys),
      clock: options.clock ?? (() => new Date()),
      supervision: { years: calendar.years, items: shared.items },
    };
    for (const ref of config.adapters.filter((a) => a.enabled)) {
      const definition = loadAdapterDefinition(ref.dir, ref.overrides);
      profiles.add(definition.id, definition.mapping);
      if (!runsTransports) continue;
      const transport = resolveTransport(definition.transport, { adapter: definition, intake, leases: store.leases, cursors: store.cursors, files: store.files, logger: logger.child({ adapter: definition.id }), metrics, config });
      context.adapters.set(definition.id, { transport });
      await watchForQuiet(context, definition);
    }
    registerStoreGauges(context);
    registerWorkingHours(context, new WorkingCalendar(calendar.years));

    const broker = new ServiceBroker({
      nodeID: `hub-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      namespace: config.namespace,
      transporter: config.transporter ?? undefined,
      // Moleculer's own lines, through the hub's logger (masked, structured): warnings and errors,
      // info when the hub's is at debug, none when the hub's is silent (a test's hubs, which would
      // otherwise print every failed publish).
      logger: moleculerLoggerConfig(logger, config.logLevel === 'silent' ? false : config.logLevel === 'debug' ? 'info' : config.logLevel === 'error' || config.logLevel === 'fatal' ? config.logLevel : 'warn'),
      metrics: false,
      // The `hub` command stops the node on SIGTERM and SIGINT, in order (gateway, transports, store):
      // moleculer's own handlers would stop the broker alone and end the process before the rest.
      skipProcessEventRegistration: true,
      // The bus: in-process without a transporter, NATS JetStream with one (services/outbox/); and
      // OpenTelemetry across calls and channel messages (nothing while tracing is off).
      middlewares: [busMiddleware(config), traceMiddleware()],
    });
    channels.attach(broker);
    for (const name of wanted) {
      const make = SERVICES[name as keyof typeof SERVICES];
      if (make) broker.createService(make(context));
    }
    broker.createService(profilesService(context));
    // Nodes nudge the dispatching node when they commit events (cluster mode; nothing to do embedded).
    const wake: DispatchWake = { tell: () => undefined, listener: null };
    if (config.transporter) broker.createService(dispatchWakeService(wake));
    try {
      await broker.start();
      for (const { transport } of context.adapters.values()) await transport.start();
    } catch (err) {
      // A half-started node lets go of what it took (the transporter, pollers), so that the process can end.
      await broker.stop().catch(() => undefined);
      for (const { transport } of context.adapters.values()) await transport.stop().catch(() => undefined);
      throw err;
    }
    // A node without the gateway answers the orchestrator's probes on a port of its own, when given one.
    const health = !wanted.includes('gateway') && config.http.healthPort !== null
      ? await startHealthServer(context, broker, config.http.host, config.http.healthPort).catch(async (err) => {
        await broker.stop().catch(() => undefined);
        for (const { transport } of context.adapters.values()) await transport.stop().catch(() => undefined);
        const e = err as NodeJS.ErrnoException;
        throw new ConfigError(e.code === 'EADDRINUSE' ? `port ${config.http.host}:${config.http.healthPort} is in use (HUB_HEALTH_PORT)` : `cannot listen on ${config.http.host}:${config.http.healthPort} (HUB_HEALTH_PORT): ${e.message}`, { field: 'HUB_HEALTH_PORT', value: config.http.healthPort });
      })
      : null;
    // Once the bus is connected (the broker's start connects it last); stopped before the bus stops.
    const dispatch = startDispatch(context, config.transporter ? wake : undefined);
    vacuum?.start();

    const gateway = broker.getLocalService('gateway') as unknown as { server?: Server } | undefined;
    const address = gateway?.server?.address() as AddressInfo | null | undefined;
    const url = address ? `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${address.port}` : null;
    let stopping: Promise<void> | null = null;
    return {
      context, broker, url, healthUrl: url ?? health?.url ?? null,
      stop() {
        // The gateway stops taking requests and lets those in flight finish; then the transports
        // finish their work; the store closes last.
        stopping ??= (async () => {
          const grace = setTimeout(() => logger.warn('requests still in flight after the grace period'), config.shutdownGraceSeconds * 1000);
          try {
            await health?.close();
            // The dispatcher's round in progress ends without waiting out a failing consumer's retries
            // (up to a minute each): what it did not publish stays in the outbox for the next start.
            cutBusRetries(broker);
            await dispatch.stop();
            await broker.stop();
            for (const { transport } of context.adapters.values()) await transport.stop();
            // What this node received and did not finish is left to the next node that starts (a
            // store already gone keeps the claims until they run out).
            await store.inbox.releaseClaims().catch((err) => logger.warn({ err: (err as Error).message }, 'inbox claims not given up; they run out by themselves'));
          } finally {
            clearTimeout(grace);
            // The services (their job workers) stopped with the broker: the queue's connection goes now.
            await closeJobs().catch((err) => logger.warn({ err: (err as Error).message }, 'the job queue\'s connection did not close cleanly'));
            await vacuum?.stop();
            await store.close();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    await closeJobs().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** Gauges read from the store when Prometheus scrapes. */
function registerStoreGauges(hub: HubContext): void {
  const { metrics, store } = hub;
  // From the supervisor's counters: a few rows per department and day, never the cases themselves.
  (metrics.cases as any).collect = async function collect(this: typeof metrics.cases) {
    this.reset();
    for (const r of await store.supervision.lightCounts()) this.set({ department: r.department, light: r.light }, r.n);
  };
  (metrics.deadLetters as any).collect = async function collect(this: typeof metrics.deadLetters) {
    this.reset();
    for (const a of hub.profiles.adapters()) this.set({ adapter: a }, 0);
    for (const r of await store.deadLetters.openCounts()) this.set({ adapter: r.adapter }, r.n);
  };
  // Only the store's queues (events and the supervisor's alerts on their way to the bus, SMS on
  // their way to the gateway): other queues set their own.
  (metrics.queueDepth as any).collect = async function collect(this: typeof metrics.queueDepth) {
    this.set({ queue: OUTBOX_QUEUE }, await store.outbox.depth());
    this.set({ queue: ALERTS_QUEUE }, await store.supervision.unpublishedCount());
    this.set({ queue: SMS_QUEUE }, await hub.jobs.depth(SMS_QUEUE));
  };
}

/**
 * What the alerts compare with, for a department whose transport runs on this node: its quiet
 * period and end-to-end objective, and when it last sent something (until it sends again: its
 * newest raw message or dropped file in the store, or else now, so that a department that never
 * sent is quiet one period after the start).
 */
async function watchForQuiet(hub: HubContext, definition: AdapterDefinition): Promise<void> {
  const { metrics, store } = hub;
  metrics.adapterQuiet.set({ adapter: definition.id }, definition.monitoring.quietMinutes * 60);
  metrics.adapterEndToEndObjective.set({ adapter: definition.id }, definition.monitoring.endToEndObjectiveSeconds);
  // Pushed messages and polled pages are raw messages of the inbox; files are rows of the drop ledger.
  const newest = Math.max(0, ...[await store.inbox.newest(definition.id), await store.files.newest(definition.id)].map((d) => d?.getTime() ?? 0));
  metrics.adapterLastMessage.set({ adapter: definition.id }, (newest || Date.now()) / 1000);
}

/** hub_working_hours: whether the office is open now, by the wall clock Prometheus compares with (the configuration's office hours, the calendar's working days). */
function registerWorkingHours(hub: HubContext, calendar: WorkingCalendar): void {
  const { metrics, config } = hub;
  (metrics.workingHours as any).collect = function collect(this: typeof metrics.workingHours) {
    this.set(isOfficeHours(new Date(), config.monitoring.officeHours, calendar) ? 1 : 0);
  };
}
