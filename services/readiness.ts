import http, { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Redis from 'ioredis';
import type { ServiceBroker } from 'moleculer';
import type { HubContext } from './context';
import { sendJson, sendProblem } from '../core/kernel/http';

/**
 * Readiness: whether the servers this node depends on answer now. The gateway's /health/ready adds
 * the services its routes call; a node without the gateway answers the same on its health port
 * (HUB_HEALTH_PORT), with its metrics, so that an orchestrator can probe and Prometheus scrape every node.
 */

/** Each server's answer: `ok` for those that answered, and those that did not, with why. */
export interface ServerAnswers {
  answers: Record<string, 'ok'>;
  down: { name: string; error: string }[];
}

/** Asks every server this node depends on, each within READY_CHECK_MS. */
export async function serversAnswer(hub: HubContext, broker: ServiceBroker, redisClients: Set<Redis>): Promise<ServerAnswers> {
  const answers = await Promise.all(serverChecks(hub, broker, redisClients).map(async ({ name, check }) => {
    try {
      await within(READY_CHECK_MS, check());
      return { name, error: null };
    } catch (err) {
      return { name, error: (err as Error).message };
    }
  }));
  return {
    answers: Object.fromEntries(answers.filter((a) => a.error === null).map((a) => [a.name, 'ok' as const])),
    down: answers.filter((a): a is { name: ServerCheck['name']; error: string } => a.error !== null),
  };
}

/** Answers GET /metrics from this node's own registry: each node of a cluster its own, which Prometheus sums. */
export function answerMetrics(hub: HubContext, res: ServerResponse): void {
  hub.metrics.registry.metrics().then((text) => {
    res.writeHead(200, { 'Content-Type': hub.metrics.registry.contentType });
    res.end(text);
  }, (err) => sendProblem(res, 500, 'internal', 'Metrics unavailable', (err as Error).message));
}

/**
 * One node's readiness, as its GET /health/ready answers it and as hub_ready shows it at each
 * scrape (infra/prometheus/rules: HubNotReady): every server the node depends on answers, and no
 * service in `missing()` (what the node's routes call and no node runs) is missing. close() drops
 * the connections the checks have open to Redis, so that none holds a stopping process open.
 */
export class NodeReadiness {
  private readonly redisClients = new Set<Redis>();

  constructor(private readonly hub: HubContext, private readonly broker: ServiceBroker, private readonly missing: () => string[] = () => []) {
    const check = () => this.check();
    (hub.metrics.ready as any).collect = async function collect(this: typeof hub.metrics.ready) {
      const { down, missing } = await check();
      this.set(down.length || missing.length ? 0 : 1);
    };
  }

  async check(): Promise<ServerAnswers & { missing: string[] }> {
    const missing = this.missing();
    return { ...(await serversAnswer(this.hub, this.broker, this.redisClients)), missing };
  }

  /** Answers GET /health/ready: 200 naming each server, or 503 problem+json naming every reason. */
  answer(res: ServerResponse): void {
    void this.check().then(({ answers, down, missing }) => {
      if (!down.length && !missing.length) {
        sendJson(res, 200, { status: 'ready', ...answers });
        return;
      }
      const reasons = [
        ...down.map((a) => `${a.name} unreachable: ${a.error}`),
        ...(missing.length ? [`no node of this hub runs ${missing.join(', ')}, which this node's routes call`] : []),
      ];
      sendProblem(res, 503, 'not-ready', 'Not ready', reasons.join('; '), { missing, down: down.map((a) => a.name) });
    });
  }

  close(): void {
    for (const client of this.redisClients) client.disconnect();
    this.redisClients.clear();
  }
}

/**
 * The health port of a node that runs no gateway: GET /health/live (200 while the process runs),
 * GET /health/ready (200 while its servers answer; else 503 naming them in `down`) and GET /metrics
 * (this node's own), nothing else. Settles once it listens; its close() also drops the connections
 * readiness has open to Redis.
 */
export async function startHealthServer(hub: HubContext, broker: ServiceBroker, host: string, port: number): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const readiness = new NodeReadiness(hub, broker);
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || (url !== '/health/live' && url !== '/health/ready' && url !== '/metrics')) {
      sendProblem(res, 404, 'not-found', 'Not found', 'this port serves GET /health/live, GET /health/ready and GET /metrics only');
      return;
    }
    if (url === '/health/live') {
      sendJson(res, 200, { status: 'ok' });
      return;
    }
    if (url === '/metrics') {
      answerMetrics(hub, res);
      return;
    }
    readiness.answer(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    close: () => new Promise<void>((resolve) => {
      readiness.close();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** How long readiness waits for each server this node depends on: a probe has its answer within about a second. */
const READY_CHECK_MS = 1000;

/** A server this node depends on, as readiness names it, and the check that it answers. */
interface ServerCheck {
  name: 'store' | 'nats' | 'redis';
  check(): Promise<void>;
}

/** The servers this node depends on: the store always; NATS in cluster mode; Redis when HUB_QUEUE names one. */
function serverChecks(hub: HubContext, broker: ServiceBroker, redisClients: Set<Redis>): ServerCheck[] {
  const checks: ServerCheck[] = [{ name: 'store', check: async () => { await hub.store.driver.query('SELECT 1'); } }];
  if (hub.config.transporter) checks.push({ name: 'nats', check: () => natsAnswers(broker) });
  const queue = hub.config.queue;
  if (queue) checks.push({ name: 'redis', check: () => redisAnswers(queue, READY_CHECK_MS, redisClients) });
  return checks;
}

/** Settles when what settles, or fails once ms have passed without an answer. */
function within(ms: number, what: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([what, late]).finally(() => clearTimeout(timer));
}

/** What readiness reads of Moleculer's transit (src/transit.js) and its NATS transporter (src/transporters/nats.js). */
interface NatsTransit {
  connected: boolean;
  tx?: { client?: { rtt?(): Promise<number> } | null };
}

/**
 * This node's transporter is connected to NATS now. Moleculer's `transit.connected` says the node
 * joined the transporter once and has not left it: with the NATS client of version 2 it stays true
 * while the client reconnects after NATS went away (Moleculer clears it only when the connection
 * closes for good, which a client that reconnects for ever never does). So the NATS connection is
 * asked itself: rtt() fails at once while the client is disconnected, and otherwise sends a PING
 * and waits for the server's PONG, so that a server that stopped answering is found too.
 */
async function natsAnswers(broker: ServiceBroker): Promise<void> {
  const transit = (broker as unknown as { transit?: NatsTransit }).transit;
  if (!transit?.connected) throw new Error('this node has not joined the transporter');
  const client = transit.tx?.client;
  if (typeof client?.rtt !== 'function') throw new Error('the transporter has no NATS connection');
  try {
    await client.rtt();
  } catch (err) {
    // The client's error says only DISCONNECT or CONNECTION_CLOSED.
    throw new Error(`this node's transporter has lost its connection to NATS (${(err as { code?: string }).code ?? (err as Error).message})`);
  }
}

/**
 * Redis answers PING, on a connection made for the check (ioredis, the client BullMQ and Moleculer
 * use) and closed after it, apart from the job queue's own connections (a worker's blocks on its
 * queue), so that a busy queue never makes the probe wait and the probe sees what a new connection
 * would; one connection per probe is nothing to Redis. No retries: readiness wants the answer now,
 * and a refused connection is the answer.
 */
async function redisAnswers(queue: string, ms: number, clients: Set<Redis>): Promise<void> {
  let url: URL;
  try {
    url = new URL(queue);
  } catch {
    throw new Error('HUB_QUEUE is not a redis:// URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error('HUB_QUEUE is not a redis:// URL');
  const client = new Redis(queue, { lazyConnect: true, connectTimeout: ms, commandTimeout: ms, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  // The connection's own error (ECONNREFUSED…) says more than connect()'s "Connection is closed";
  // and without a listener ioredis would log it.
  let failure: Error | null = null;
  client.on('error', (err: Error) => {
    failure ??= err;
  });
  clients.add(client);
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`unexpected answer to PING: ${answer}`);
  } catch (err) {
    // Its message never holds the URL, so never the password.
    throw new Error((failure ?? (err as Error)).message);
  } finally {
    clients.delete(client);
    client.disconnect();
  }
}
