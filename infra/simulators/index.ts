// The department simulators the demo starts beside the hub, and tests use as the real peers.

import * as path from 'node:path';
import pino, { Logger } from 'pino';
import { MarketRegulationSimulator } from './market-regulation';
import { parseBeijing } from './beijing-time';
import { Random } from './random';
import { SimulatorLoop } from './simulator-loop';
import { TaxBureauDropSimulator } from './tax-bureau';
import { VehicleOfficePushSimulator } from './vehicle-office';
import { VehicleQueryService, startVehicleQueryService } from './vehicle-query-service';
import { VehicleReportStream, generateChanges } from './vehicle-reports';
import { SmsGatewaySimulator, startSmsGateway, SMS_DEMO_TOKEN } from './sms-gateway';
import { SubscriberSimulator, startSubscriber, SUBSCRIBER_DEMO_KEY_ID, SUBSCRIBER_DEMO_SECRET, SUBSCRIBER_PATH } from './subscriber';

export type SimulatorsOptions = {
  /** The hub's base URL, e.g. http://127.0.0.1:8080. */
  hubUrl: string;
  /** The hub's data folder; the tax bureau drops into `<dataDir>/drop/tax-bureau/inbox`. */
  dataDir: string;
  /**
   * Port of the vehicle office's query service (the hub polls it); 0, the default, any free port, so
   * that two hubs on one machine each poll their own (the ports reach the hub by `adapterOverrides`).
   */
  queryPort?: number;
  /** Port of the SMS gateway (the hub's notifier calls it); 0, the default, any free port. */
  smsPort?: number;
  /**
   * A subscriber the hub delivers case events to (subscriber.ts), on this port (0: any free one).
   * Off unless given: the hub delivers to it only once a subscription names it (`demoSubscription`,
   * in the configuration or through the subscriptions API), which starting it does not make.
   */
  subscriberPort?: number;
  logger?: Logger;
  seed?: number | string;
  /** Multiplies every interval; below 1 for more traffic. */
  pace?: number;
};

export type Simulators = {
  stop(): Promise<void>;
  queryService?: VehicleQueryService;
  smsGateway?: SmsGatewaySimulator;
  subscriber?: SubscriberSimulator;
  /**
   * The departments that send to the hub, by adapter id: stopping one silences what that department
   * sends while the others go on, as when its system or its link is down (the vehicle office's
   * change feed is a server the hub polls: it stays, with the department servers).
   */
  senders: Record<string, { stop(): Promise<void> }>;
};

/** The departments' own servers, which the hub calls (the vehicle office's query service). */
export type DepartmentServers = {
  stop(): Promise<void>;
  queryService?: VehicleQueryService;
  /**
   * What the hub's configuration must say to call these servers, by adapter id (deep-merged over
   * the adapter's definition): the addresses they listen on this time.
   */
  adapterOverrides: Record<string, Record<string, unknown>>;
  /** The city SMS gateway the hub's notifier sends to, and what its configuration must say to reach it. */
  smsGateway?: SmsGatewaySimulator;
  notifierGateway?: { url: string; token: string };
  /**
   * The subscriber simulator (when asked for), and the subscription that makes the hub deliver to
   * it: an entry for the configuration's `subscriptions`, or the body of POST /api/v1/subscriptions.
   */
  subscriber?: SubscriberSimulator;
  demoSubscription?: { id: string; url: string; keyId: string; secret: string };
};

/** The vehicle office's adapter id in the demo configuration. */
export const VEHICLE_OFFICE_ADAPTER = 'vehicle-office';

/**
 * Starts the servers the hub calls. Started before the hub, so that its first poll finds them; a
 * server that cannot start is logged and left out (the hub's poller reports the gap).
 */
export async function startDepartmentServers(options: Pick<SimulatorsOptions, 'queryPort' | 'smsPort' | 'subscriberPort' | 'logger' | 'seed' | 'pace'>): Promise<DepartmentServers> {
  const logger = options.logger ?? pino();
  const pace = options.pace ?? 1;
  const seed = options.seed ?? Date.now();
  const servers: DepartmentServers = { adapterOverrides: {}, stop: async () => undefined };
  const stoppers: (() => Promise<void>)[] = [];
  try {
    const queryService = await startVehicleQueryService({ port: options.queryPort ?? 0 });
    const feed = startChangeFeed(queryService, 5000 * pace, logger, `${seed}-veh-query`);
    logger.info({ simulator: 'vehicle-office-query', url: queryService.url, records: queryService.records().length }, 'vehicle office query service listening');
    servers.queryService = queryService;
    servers.adapterOverrides[VEHICLE_OFFICE_ADAPTER] = { transport: { options: { poll: { enabled: true, url: queryService.url } } } };
    stoppers.push(async () => { await feed.stop(); await queryService.close(); });
  } catch (err) {
    logger.error({ err, simulator: 'vehicle-office-query', port: options.queryPort ?? 0 }, 'vehicle office query service could not start');
  }
  try {
    const sms = await startSmsGateway({ port: options.smsPort ?? 0, logger });
    logger.info({ simulator: 'sms-gateway', url: sms.url }, 'SMS gateway listening');
    servers.smsGateway = sms;
    servers.notifierGateway = { url: sms.url, token: SMS_DEMO_TOKEN };
    stoppers.push(() => sms.close());
  } catch (err) {
    logger.error({ err, simulator: 'sms-gateway', port: options.smsPort ?? 0 }, 'SMS gateway could not start');
  }
  if (options.subscriberPort !== undefined) {
    try {
      const subscriber = await startSubscriber({ port: options.subscriberPort, keys: { [SUBSCRIBER_DEMO_KEY_ID]: SUBSCRIBER_DEMO_SECRET }, logger });
      logger.info({ simulator: 'subscriber', url: subscriber.url, keyId: SUBSCRIBER_DEMO_KEY_ID }, 'subscriber listening');
      servers.subscriber = subscriber;
      servers.demoSubscription = { id: SUBSCRIBER_DEMO_KEY_ID, url: subscriber.url, keyId: SUBSCRIBER_DEMO_KEY_ID, secret: SUBSCRIBER_DEMO_SECRET };
      stoppers.push(() => subscriber.close());
    } catch (err) {
      logger.error({ err, simulator: 'subscriber', port: options.subscriberPort }, 'subscriber could not start');
    }
  }
  servers.stop = async () => { await Promise.all(stoppers.map((stop) => stop())); };
  return servers;
}

/**
 * Starts every simulator: the departments' servers (unless already started and passed in) and the
 * departments that send to the hub (webhooks, SOAP pushes, file drops).
 */
export async function startSimulators(options: SimulatorsOptions & { servers?: DepartmentServers }): Promise<Simulators> {
  const logger = options.logger ?? pino();
  const hub = options.hubUrl.replace(/\/+$/, '');
  const pace = options.pace ?? 1;
  const seed = options.seed ?? Date.now();
  const inboxDir = path.join(options.dataDir, 'drop', 'tax-bureau', 'inbox');

  const market = new MarketRegulationSimulator({
    url: `${hub}/api/v1/inbound/market-regulation`,
    intervalMs: 3000 * pace,
    logger,
    seed: `${seed}-scjg`,
  });
  const vehiclePush = new VehicleOfficePushSimulator({ url: `${hub}/soap/vehicle-office`, intervalMs: 2000 * pace, logger, seed: `${seed}-veh` });
  const tax = new TaxBureauDropSimulator({ inboxDir, intervalMs: 15_000 * pace, logger, seed: `${seed}-swsx` });
  const servers = options.servers ?? (await startDepartmentServers({ ...options, logger, seed, pace }));
  const stoppers: (() => Promise<void>)[] = [() => servers.stop()];

  const senders = { 'market-regulation': market, [VEHICLE_OFFICE_ADAPTER]: vehiclePush, 'tax-bureau': tax };
  for (const s of Object.values(senders)) {
    s.start();
    stoppers.push(() => s.stop());
  }
  logger.info({ hub, inboxDir }, 'department simulators started');

  return {
    queryService: servers.queryService,
    smsGateway: servers.smsGateway,
    subscriber: servers.subscriber,
    senders,
    stop: async () => {
      await Promise.all(stoppers.map((stop) => stop()));
      logger.info('department simulators stopped');
    },
  };
}

/**
 * Keeps the query service's data live: a few hours of history (with runs of equal ZTSJ that
 * cross a page boundary), then a few new changes every interval, as county halls report.
 */
function startChangeFeed(service: VehicleQueryService, intervalMs: number, logger: Logger, seed: string): SimulatorLoop {
  const stream = new VehicleReportStream({
    rng: new Random(seed),
    // Polled county halls report under 二所's code (SPEC section 2); serials apart from the push halls'.
    halls: ['130100000402'],
    serialRange: [60_000, 99_999],
  });
  const now = Date.now();
  const history = generateChanges(250, { start: now - 3 * 3600_000, stream }).filter((r) => parseBeijing(r.ZTSJ) <= now);
  service.addRecords(history);
  const feedLogger = logger.child({ simulator: 'vehicle-office-query' });
  const loop = new SimulatorLoop(
    intervalMs,
    async () => {
      const at = Math.floor(Date.now() / 1000) * 1000;
      const n = stream.rng.int(0, 3);
      service.addRecords(Array.from({ length: n }, () => stream.next({ at })));
    },
    feedLogger,
  );
  loop.start();
  return loop;
}

function parseArgs(argv: string[]): Record<string, string> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    args[m[1]] = m[2] ?? (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--') ? argv[++i] : 'true');
  }
  return args;
}

export async function main(argv: string[]): Promise<void> {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write('usage: node dist/infra/simulators/index.js [--hub http://127.0.0.1:8080] [--data ./data] [--query-port 9101] [--sms-port 9102] [--subscriber-port 9103] [--seed N] [--pace 1]\n' +
      '  the hub polls the query service only when its configuration names it: vehicle-office\'s transport.options.poll {enabled: true, url}\n' +
      '  and sends SMS to the gateway only when its configuration names it: notifier {enabled: true, gateway: {url, token: sms-demo-token}}\n' +
      '  --subscriber-port starts a subscriber; the hub delivers to it once a subscription names it (configuration subscriptions, or POST /api/v1/subscriptions):\n' +
      `  {id: ${SUBSCRIBER_DEMO_KEY_ID}, url: http://127.0.0.1:<port>${SUBSCRIBER_PATH}, keyId: ${SUBSCRIBER_DEMO_KEY_ID}, secret: ${SUBSCRIBER_DEMO_SECRET}}\n`);
    return;
  }
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const sims = await startSimulators({
    hubUrl: args.hub ?? process.env.HUB_URL ?? 'http://127.0.0.1:8080',
    dataDir: args.data ?? process.env.HUB_DATA_DIR ?? './data',
    // Run on its own, beside a hub started separately, it listens where the WSDL says, unless told otherwise.
    queryPort: args['query-port'] ? Number(args['query-port']) : 9101,
    smsPort: args['sms-port'] ? Number(args['sms-port']) : 9102,
    subscriberPort: args['subscriber-port'] ? Number(args['subscriber-port']) : undefined,
    seed: args.seed,
    pace: args.pace ? Number(args.pace) : undefined,
    logger,
  });
  const shutdown = (): void => {
    sims.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stopping the simulators failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
