import { ServiceBroker } from 'moleculer';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { loadConfig, HubConfig } from '../core/kernel/config';
import { createLogger, Logger } from '../core/kernel/logger';
import { HubMetrics } from '../core/kernel/metrics';
import type { HubContext } from '../services/context';
import { openStore } from '../services/store/open-store';
import { ProfileSet } from '../adapters/kit/mapping/profile-set';
import { Intake } from '../services/intake/intake';
import { loadSharedTables } from '../adapters/kit/mapping/shared-tables';
import { loadAdapterDefinition } from '../adapters/kit/definition';
import { resolve as resolveTransport } from '../adapters/kit/transports';
import { gatewayService } from '../services/gateway.service';
import { casesService } from '../services/cases.service';
import { deadLettersService } from '../services/dead-letters.service';
import { filesService } from '../services/files.service';
import { mappingService, profilesService } from '../services/mapping.service';

export interface RunningHub {
  context: HubContext;
  broker: ServiceBroker;
  /** Base URL of the HTTP gateway, when this node runs it. */
  url: string | null;
  stop(): Promise<void>;
}

const SERVICES = {
  gateway: gatewayService,
  cases: casesService,
  'dead-letters': deadLettersService,
  files: filesService,
  mapping: mappingService,
} as const;

/**
 * Starts a hub node: opens the store the configuration names, loads every adapter and its mapping
 * profile, starts the Moleculer services this node runs, then the transports (which first process
 * whatever raw messages a previous stop left pending).
 */
export async function startHub(config: HubConfig = loadConfig(), logger: Logger = createLogger(config.logLevel)): Promise<RunningHub> {
  const metrics = new HubMetrics();
  const store = await openStore({ store: config.store, dataDir: config.dataDir, region: config.region });
  try {
    const shared = loadSharedTables(config.registryFile, config.catalogueFile);
    const profiles = new ProfileSet(shared, logger);
    const intake = new Intake({ store, profiles, metrics, logger });
    const context: HubContext = { config, logger, metrics, store, profiles, intake, adapters: new Map() };
    for (const ref of config.adapters.filter((a) => a.enabled)) {
      const definition = loadAdapterDefinition(ref.dir, ref.overrides);
      profiles.add(definition.id, definition.mapping);
      const transport = resolveTransport(definition.transport, { adapter: definition, intake, leases: store.leases, cursors: store.cursors, files: store.files, logger: logger.child({ adapter: definition.id }), metrics, config });
      context.adapters.set(definition.id, { transport });
    }
    registerStoreGauges(context);

    const broker = new ServiceBroker({
      nodeID: `hub-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      namespace: config.namespace,
      transporter: config.transporter ?? undefined,
      logger: { type: 'Console', options: { level: config.logLevel === 'debug' ? 'info' : 'warn', formatter: 'json' } },
      metrics: false,
    });
    const wanted = config.services === 'all' ? Object.keys(SERVICES) : config.services;
    for (const name of wanted) {
      const make = SERVICES[name as keyof typeof SERVICES];
      if (make) broker.createService(make(context));
    }
    broker.createService(profilesService(context));
    await broker.start();
    for (const { transport } of context.adapters.values()) await transport.start();

    const gateway = broker.getLocalService('gateway') as unknown as { server?: Server } | undefined;
    const address = gateway?.server?.address() as AddressInfo | null | undefined;
    const url = address ? `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${address.port}` : null;
    let stopping: Promise<void> | null = null;
    return {
      context, broker, url,
      stop() {
        // The gateway stops taking requests and lets those in flight finish; then the transports
        // finish their work; the store closes last.
        stopping ??= (async () => {
          const grace = setTimeout(() => logger.warn('requests still in flight after the grace period'), config.shutdownGraceSeconds * 1000);
          try {
            await broker.stop();
            for (const { transport } of context.adapters.values()) await transport.stop();
          } finally {
            clearTimeout(grace);
            await store.close();
          }
        })();
        return stopping;
      },
    };
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
}

/** Gauges read from the store when Prometheus scrapes. */
function registerStoreGauges(hub: HubContext): void {
  const { metrics, store } = hub;
  (metrics.cases as any).collect = async function collect(this: typeof metrics.cases) {
    this.reset();
    for (const r of await store.cases.countsByDepartmentAndLight()) this.set({ department: r.department, light: r.light ?? 'NONE' }, r.n);
  };
  (metrics.deadLetters as any).collect = async function collect(this: typeof metrics.deadLetters) {
    this.reset();
    for (const a of hub.profiles.adapters()) this.set({ adapter: a }, 0);
    for (const r of await store.deadLetters.openCounts()) this.set({ adapter: r.adapter }, r.n);
  };
}
