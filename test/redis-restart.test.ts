import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { CanonicalStatus, CaseEvent } from '../contracts/types';
import { loadConfig } from '../core/kernel/config';
import { createLogger } from '../core/kernel/logger';
import { DEMO_CONFIG } from '../core/kernel/paths';
import { SMS_QUEUE } from '../core/kernel/constants';
import { startHub, RunningHub, SERVICE_NAMES } from '../cli/start-hub';
import { startSmsGateway, SmsGatewaySimulator, SMS_DEMO_TOKEN } from '../infra/simulators/sms-gateway';
import { testDataDir, waitFor, settled, getJson } from './support/hub';
import { createTestDatabase } from './support/servers';
import { vehicleEvent } from './support/events';
import { freePort, running } from './support/nats';
import { startRedis, stopRedis } from './support/redis';

// Cluster acceptance: Redis, which holds the SMS queue when HUB_QUEUE names it, is killed while
// notifications are being delivered, and started again on the same port and files two seconds
// later. The queue's promise (services/queue/README.md) is that a notification queued is delivered,
// and its key (case and status) is added once ever; the notifier's is that each applicant gets each
// notification due exactly once. So once Redis is back and the gateway has taken everything, the
// gateway simulator must hold each due (case, status) notification once and nothing else, the events
// applied while Redis was down included, and the hub must have noticed the outage without falling over.

/** How Redis is ended. With appendfsync always, Redis fsyncs the AOF before it answers a write, so a crash loses no write a client saw acknowledged; SIGKILL is that crash. */
const REDIS_KILL: NodeJS.Signals = 'SIGKILL';
/** How long Redis stays down: long enough for every connection of the hub to notice and retry, short enough for the bus's redeliveries (1, 2, 4… s) to outlast it. */
const OUTAGE_MS = 2000;
/** How long the gateway holds each answer after it took the message: so that some deliveries are in flight when Redis goes. */
const ANSWER_AFTER_MS = 300;
/** The notifier's pace: slow enough that the queue is still half full when Redis is killed. */
const RATE_PER_SECOND = 8;
/** How many SMS the gateway must have taken before Redis is killed. */
const SENT_BEFORE_KILL = 12;

const DAY = '2026-11-24';
const at = (hhmm: string) => `${DAY}T${hhmm}:00+08:00`;
const TIMES: Partial<Record<CanonicalStatus, string>> = { SUBMITTED: '09:00', ACCEPTED: '09:10', REJECTED: '09:10', SUPPLEMENT_REQUESTED: '09:20', SUPPLEMENTED: '09:30', COMPLETED: '09:40' };
/** The statuses the demo configuration tells applicants of (SUBMITTED and SUPPLEMENTED are not). */
const NOTIFIED: ReadonlySet<CanonicalStatus> = new Set(['ACCEPTED', 'SUPPLEMENT_REQUESTED', 'COMPLETED', 'REJECTED']);

type Step = 'before' | 'down' | 'after';

/** A case of the test: its mobile, and its events by when they are applied (before the kill, while Redis is down, after the restart). */
interface Plan {
  local: string;
  mobile: string;
  events: Record<Step, CaseEvent[]>;
}

/**
 * 30 cases, each with a mobile. Before the kill every case is accepted or refused (30 SMS); while
 * Redis is down a third of them are asked for a supplement, supplemented and completed (20 SMS);
 * after the restart another third are completed (10 SMS). 60 notifications in all.
 */
function plans(): Plan[] {
  const out: Plan[] = [];
  for (let i = 0; i < 30; i++) {
    const local = `VEH-REDIS-${String(i).padStart(3, '0')}`;
    const mobile = `1383120${String(i).padStart(4, '0')}`;
    const event = (s: CanonicalStatus) => {
      const e = vehicleEvent(`${local}-${s}`, local, s, at(TIMES[s]!));
      e.data.applicant = { ...e.data.applicant, mobile };
      return e;
    };
    const events: Record<Step, CaseEvent[]> = { before: [event('SUBMITTED')], down: [], after: [] };
    if (i % 3 === 2) {
      events.before.push(event('REJECTED'));
    } else {
      events.before.push(event('ACCEPTED'));
      if (i % 3 === 0) events.down.push(event('SUPPLEMENT_REQUESTED'), event('SUPPLEMENTED'), event('COMPLETED'));
      else events.after.push(event('COMPLETED'));
    }
    out.push({ local, mobile, events });
  }
  return out;
}

/**
 * A gateway that answers slowly: each request goes on to the simulator at once (which takes the
 * message and counts it), and its answer comes back only ANSWER_AFTER_MS later. So a delivery is
 * in flight, its message already taken, for a while: the moment a crash of the queue hurts most,
 * since the job's end must still be recorded in Redis.
 */
async function slowAnswers(target: string, holdMs: number): Promise<{ url: string; holding(): number; close(): Promise<void> }> {
  let holding = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      holding++;
      try {
        const r = await fetch(`${target}${req.url}`, {
          method: req.method, body: Buffer.concat(chunks),
          headers: { 'content-type': req.headers['content-type'] ?? 'application/json', authorization: req.headers.authorization ?? '' },
        });
        const body = Buffer.from(await r.arrayBuffer());
        await new Promise((resolve) => setTimeout(resolve, holdMs));
        const retryAfter = r.headers.get('retry-after');
        res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) });
        res.end(body);
      } catch (err) {
        // The simulator did not answer: the hub sees the connection fail, as it would with the real gateway.
        res.destroy(err as Error);
      } finally {
        holding--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    holding: () => holding,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

/** A stand-in for the evaluations service's `link` action (the service itself is left out, as in test/sms-notifier.test.ts): one address per case. */
const evaluationsStandIn = {
  name: 'evaluations',
  actions: {
    link: {
      params: { supervisionCode: 'string' },
      handler(ctx: { params: { supervisionCode: string } }) {
        return { url: `https://pj.example.gov.cn/e/t${ctx.params.supervisionCode}`, expiresAt: '2027-01-01T00:00:00.000+08:00' };
      },
    },
  },
};

/** The log lines of the hub, parsed: what it told an operator about the outage. */
class LogLines {
  readonly lines: { level: string; msg: string; err?: string; time: number }[] = [];
  write(line: string): void {
    try {
      const o = JSON.parse(line) as { level: string; msg: string; err?: string };
      this.lines.push({ level: o.level, msg: o.msg, err: o.err, time: Date.now() });
    } catch {
      this.lines.push({ level: 'raw', msg: line, time: Date.now() });
    }
  }
  between(from: number, to: number) {
    return this.lines.filter((l) => l.time >= from && l.time <= to && (l.level === 'warn' || l.level === 'error' || l.level === 'fatal'));
  }
}

async function metric(url: string, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * The servers /health/ready finds down. Its status is not used: with the evaluations service left
 * out (a stand-in answers its one action the notifier calls), the node is never ready, for that
 * reason, which has nothing to do with Redis.
 */
async function serversDown(url: string): Promise<string[]> {
  const r = await getJson(`${url}/health/ready`);
  return r.status === 200 ? [] : (r.body.down as string[] | undefined) ?? [];
}

const smsDepth = (url: string) => metric(url, /^hub_queue_depth\{queue="sms"\} (\d+)/m);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis restarted in the middle of SMS deliveries (PostgreSQL, BullMQ on a private redis-server)', function () {
  this.timeout(120_000);
  const cleanup: (() => Promise<unknown>)[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
  before(() => { process.on('unhandledRejection', onUnhandled); });
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch((err) => console.error('cleanup:', err));
    cleanup.length = 0;
    process.off('unhandledRejection', onUnhandled);
  });

  it('delivers each notification due exactly once, those of events applied while Redis was down included, and the hub reports the outage without crashing', async () => {
    // A Redis of this test alone, its append-only file in a folder of its own.
    const port = await freePort();
    const redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-redis-restart-'));
    cleanup.push(async () => fs.rmSync(redisDir, { recursive: true, force: true }));
    let redis: ChildProcess | null = await startRedis(port, redisDir);
    cleanup.push(() => stopRedis(redis));
    const db = await createTestDatabase();
    cleanup.push(() => db.drop());
    const gw: SmsGatewaySimulator = await startSmsGateway();
    cleanup.push(() => gw.close());
    const slow = await slowAnswers(gw.url, ANSWER_AFTER_MS);
    cleanup.push(() => slow.close());

    const dataDir = testDataDir('redis-restart', { store: 'none' });
    cleanup.push(async () => fs.rmSync(dataDir, { recursive: true, force: true }));
    const namespace = `redis-restart-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const config = loadConfig({
      HUB_CONFIG: DEMO_CONFIG, HUB_HTTP_PORT: '0', HUB_DATA_DIR: dataDir, HUB_STORE: db.url, HUB_POLLING_OFF: 'all',
      HUB_QUEUE: `redis://127.0.0.1:${port}`, HUB_NAMESPACE: namespace, HUB_LOG_LEVEL: 'warn',
      HUB_SERVICES: SERVICE_NAMES.filter((n) => n !== 'evaluations').join(','),
    });
    config.notifier = {
      ...config.notifier!, enabled: true,
      gateway: { url: slow.url, token: SMS_DEMO_TOKEN, timeoutMs: 2000 },
      ratePerSecond: RATE_PER_SECOND, concurrency: 4,
      retry: { firstDelayMs: 150, maxDelayMs: 800, giveUpHours: 1 },
      pollIntervalMs: 200,
    };
    const logs = new LogLines();
    const hub: RunningHub = await startHub(config, createLogger('info', { write: (line: string) => logs.write(line) }));
    // Should the test fail while Redis is down, the hub stops against a running server: its
    // connections retry for ever, and closing them would wait for an answer that never comes.
    cleanup.push(async () => {
      if (!running(redis)) redis = await startRedis(port, redisDir);
      await hub.stop();
    });
    hub.broker.createService(evaluationsStandIn);
    const url = hub.url!;

    const cases = plans();
    const codes = new Map<string, string>();
    const apply = async (step: Step) => {
      const events = cases.flatMap((c) => c.events[step]);
      const results = await hub.context.store.cases.apply(events, { receivedAt: new Date() });
      results.forEach((r, i) => {
        assert.equal(r.result, 'accepted', JSON.stringify(r));
        if (r.result === 'accepted') codes.set(events[i].data.localCaseId, r.supervisionCode);
      });
    };

    // The gateway is down for a moment first: the first notifications are retried, so that the
    // queue holds jobs waiting to be tried again (delayed, in BullMQ) as well as new ones.
    gw.fail([{ answer: 503, ms: 1500 }]);
    await apply('before');
    await waitFor('the hub to meet 503s', () => gw.requests().filter((r) => r.answer === 503).length >= 3, 20_000);
    // Then it takes messages, slowly, at the notifier's pace: Redis goes while some are taken, some
    // are being taken (their answers held) and the rest still wait in the queue.
    await waitFor(`${SENT_BEFORE_KILL} SMS taken and one more in flight`, () => gw.messages().length >= SENT_BEFORE_KILL && slow.holding() > 0, 30_000, 10);
    assert.deepEqual(await serversDown(url), [], 'readiness finds every server answering before the kill');
    const takenAtKill = gw.messages().length;
    const inFlightAtKill = slow.holding();
    assert.ok(takenAtKill < 30, `some of the 30 first notifications still wait when Redis goes (${takenAtKill} taken)`);

    // What the queue holds as Redis goes: only Redis has these now (the bus let their events go once they were queued).
    const queuedAtKill = await smsDepth(url);
    await stopRedis(redis, REDIS_KILL);
    const downAt = Date.now();
    // Events applied while Redis is down: the store (PostgreSQL) takes them; their notifications
    // cannot be queued until Redis is back, and must not be lost meanwhile.
    await apply('down');
    // An operator sees it: the node is not ready, naming redis.
    const notReady = await waitFor('/health/ready to name redis down', async () => {
      const down = await serversDown(url);
      return down.includes('redis') ? down : null;
    }, 5000, 100);
    await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
    const takenWhileDown = gw.messages().length - takenAtKill;

    // Same port, same files: the queue comes back as Redis acknowledged it.
    redis = await startRedis(port, redisDir);
    const upAt = Date.now();
    const queuedAfterRestart = await smsDepth(url);
    await apply('after');

    const due = cases.flatMap((c) => Object.values(c.events).flat()
      .filter((e) => NOTIFIED.has(e.data.status))
      .map((e) => ({ requestId: `${codes.get(c.local)}-${e.data.status}`, mobile: c.mobile })));
    assert.equal(due.length, 60);
    const dueIds = new Set(due.map((d) => d.requestId));
    await waitFor('every notification due taken by the gateway', () => due.every((d) => gw.messages().some((m) => m.requestId === d.requestId)), 45_000, 100);
    const drainedMs = Date.now() - upAt;
    // Then a little longer: a notification sent twice, or one never due, would come late if at all.
    await sleep(2000);
    await settled(url);

    // Each applicant got each notification due exactly once, and nothing else (the simulator's own count of what it took).
    const taken = gw.messages();
    const byId = new Map<string, number>();
    for (const m of taken) byId.set(m.requestId, (byId.get(m.requestId) ?? 0) + 1);
    assert.deepEqual([...byId].filter(([, n]) => n !== 1), [], 'no notification taken twice');
    assert.deepEqual(taken.map((m) => m.requestId).filter((id) => !dueIds.has(id)), [], 'no notification that was not due');
    assert.deepEqual([...dueIds].filter((id) => !byId.has(id)), [], 'no notification lost');
    assert.equal(taken.length, 60);
    for (const d of due) assert.equal(taken.find((m) => m.requestId === d.requestId)!.mobile, d.mobile, `${d.requestId} went to its applicant's mobile`);

    // The queue is empty, nothing given up, and the node is ready again: it kept running through the outage.
    assert.equal(await smsDepth(url), 0, 'the SMS queue is empty');
    assert.deepEqual(await hub.context.jobs.dead(SMS_QUEUE), [], 'no notification given up');
    assert.deepEqual(await serversDown(url), [], 'readiness finds every server answering again');
    assert.deepEqual(unhandled.map(String), [], 'no unhandled rejection in the process');
    // The outage reached the log: what the notifier logs when its queue cannot be read.
    const outageLog = logs.between(downAt, upAt + 5000);
    assert.ok(outageLog.some((l) => l.msg === 'the SMS queue could not be read; trying again'),
      `the notifier logged the queue's outage: ${JSON.stringify(outageLog.slice(0, 5))}`);
    const sent = await metric(url, /^hub_outbound_total\{target="sms",result="sent"\} (\d+)/m);

    // The gateway dropped any message sent again under a requestId it had taken (the hub's
    // protection against a lost answer): how often the hub sent one again is shown, not refused.
    const requests = gw.requests();
    const acceptedTwice = [...new Set(requests.filter((r) => r.answer === 202 && r.requestId).map((r) => r.requestId!))]
      .filter((id) => requests.filter((r) => r.answer === 202 && r.requestId === id).length > 1);
    const pending = await hub.context.jobs.stats(SMS_QUEUE);
    // When the notifications of the events applied during the outage went out: after the restart, or the hub sent them without Redis.
    const downIds = new Set(cases.flatMap((c) => c.events.down.filter((e) => NOTIFIED.has(e.data.status)).map((e) => `${codes.get(c.local)}-${e.data.status}`)));
    const downTaken = taken.filter((m) => downIds.has(m.requestId)).map((m) => m.at - upAt);
    console.log(`      Redis ended with ${REDIS_KILL} after ${takenAtKill} SMS taken (${inFlightAtKill} answer(s) held in flight); ${takenWhileDown} taken while Redis was down; `
      + `readiness named ${JSON.stringify(notReady)} down; every SMS taken ${drainedMs} ms after the restart`);
    console.log(`      SMS queue depth ${queuedAtKill} just before the kill, ${queuedAfterRestart} just after the restart; `
      + `the ${downIds.size} SMS of events applied while Redis was down taken from ${Math.min(...downTaken)} to ${Math.max(...downTaken)} ms after the restart`);
    console.log(`      ${taken.length} SMS taken, ${requests.length} requests (${requests.filter((r) => r.answer === 503).length} answered 503), `
      + `${gw.duplicates} sent again and dropped by requestId${acceptedTwice.length ? ` (${acceptedTwice.join(', ')})` : ''}; hub_outbound_total sent=${sent}; `
      + `queue after: ${JSON.stringify(pending)}`);
    console.log(`      warnings and errors logged during the outage: ${outageLog.length} (${[...new Set(outageLog.map((l) => `${l.msg}${l.err ? `: ${l.err}` : ''}`))].slice(0, 6).join(' | ')})`);
  });
});
