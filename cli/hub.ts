import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { startHub, RunningHub } from './start-hub';
import { mapCommand, adapterTestCommand, adapterNewCommand } from './adapter-commands';
import { replayCommand } from './replay-command';

const io = { out: (s: string) => void process.stdout.write(s), err: (s: string) => void process.stderr.write(s) };

const USAGE = `usage: hub <command>

  start [--with-simulators]                   start a hub node (embedded unless HUB_STORE/HUB_TRANSPORTER say otherwise)
  map <adapter> <file> [--expected]           dry run: the canonical events a file gives, or the reasons
  adapter test <folder…>                      conformance: every sample against its expected output
  adapter new <id> --transport rest|soap|file scaffold a department folder that passes adapter test
  replay --dead-letters [--adapter X] [--dry-run]
                                              replay dead letters through the running hub's current profiles

Environment: HUB_CONFIG, HUB_HTTP_HOST, HUB_HTTP_PORT, HUB_DATA_DIR, HUB_STORE, HUB_TRANSPORTER, HUB_QUEUE, HUB_SERVICES`;

async function start(args: string[]): Promise<number> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const withSimulators = args.includes('--with-simulators');
  // Loaded only when asked for: a production node never carries the demo counterparts.
  const sims = withSimulators ? await import('../infra/simulators') : null;
  const simLogger = logger.child({ component: 'simulators' });
  // The servers the hub calls come first, so that its first poll finds them.
  const servers = sims ? await sims.startDepartmentServers({ logger: simLogger }) : null;
  let simulators: { stop(): Promise<void> } | null = servers;
  let hub: RunningHub;
  try {
    hub = await startHub(config, logger);
  } catch (err) {
    await servers?.stop().catch(() => undefined);
    throw err;
  }
  if (sims && servers && hub.url) {
    simulators = await sims.startSimulators({ hubUrl: hub.url, dataDir: config.dataDir, logger: simLogger, servers });
  }
  logger.info({ url: hub.url, store: config.store === 'embedded' ? `embedded (PGlite in ${config.dataDir}/store)` : 'postgres', adapters: [...hub.context.adapters.keys()] }, 'hub started');
  if (hub.url) {
    process.stdout.write(`\nCase exchange hub listening on ${hub.url}\n` +
      `  supervisor API  ${hub.url}/api/v1/cases   (Authorization: Bearer demo-supervisor-token)\n` +
      `  public view     ${hub.url}/api/v1/public/cases/{code}\n` +
      `  metrics         ${hub.url}/metrics\n` +
      [...hub.context.adapters.values()].flatMap(({ transport }) => transport.httpRoutes().map((r) => `  ${transport.adapterId.padEnd(15)} ${r.method} ${hub.url}${r.path}\n`)).join('') +
      `  data            ${config.dataDir}\n\n`);
  }
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      logger.info({ signal }, 'stopping');
      void (async () => {
        await simulators?.stop().catch(() => undefined);
        await hub.stop();
        resolve();
      })();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
  logger.info('hub stopped');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'start':
      return start(args);
    case 'map':
      return mapCommand(args, io);
    case 'adapter':
      if (args[0] === 'test') return adapterTestCommand(args.slice(1), io);
      if (args[0] === 'new') return adapterNewCommand(args.slice(1), io);
      process.stderr.write(`unknown adapter command ${args[0] ?? ''}\n${USAGE}\n`);
      return 2;
    case 'replay':
      return replayCommand(args, io);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE + '\n');
      return command ? 0 : 2;
    default:
      process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
      return 2;
  }
}
