import IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import { Job as BullJob, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import type { JobsOptions } from 'bullmq';
import { resealed, type DataKeys } from '../../core/kernel/data-keys';
import { maskText } from '../../core/kernel/personal-data';
import { beijingIso } from '../../core/identifiers/local-time';
import type { DeadJob, Job, JobHandler, JobOutcome, JobQueue, JobQueueStats, JobState, JobWorker, JobWorkerOptions, NewJob } from '../../core/ports/jobs';
import { JOB_PAYLOAD_CONTEXT, backoffMs } from '../store/job-queue';

/** Longest reason kept for a job (the target's answer may be long), as the store keeps it. */
const REASON_CHARS = 500;

/**
 * How old an add or replay not yet confirmed must be before a sweep finishes it: far longer than the
 * two steps take (a Redis round trip each), so that a sweep never races the node doing them.
 */
const PENDING_GRACE_MS = 10_000;

/** How often a worker sweeps its queue for adds and replays a node began and did not finish (it died between the two steps). */
const SWEEP_EVERY_MS = 10_000;

/**
 * BullMQ never gives a job up by its count of attempts here: the port gives up by age
 * (giveUpAfterMs) or by a `failed` outcome, both of which the worker turns into an UnrecoverableError.
 */
const UNLIMITED_ATTEMPTS = 2 ** 31 - 1;

/**
 * The limiter's `max` when the queue has no pace of its own: BullMQ only heeds a manual rate limit
 * (Queue.rateLimit, the pause a 429 asks for) on a worker that has a limiter, and no queue starts this
 * many jobs in a second.
 */
const NO_PACE_MAX = Number.MAX_SAFE_INTEGER - 1;

/** What BullMQ holds of one of our jobs: the payload sealed, never in clear. */
interface JobData {
  /** The job's key (its BullMQ id may be an encoding of it: jobIdOf). */
  k: string;
  /** The payload, sealed under the data keys. */
  s: string;
  /** When the job was added or last replayed (epoch ms): its give-up age counts from then. */
  a: number;
  /** Its group, or null. */
  g: string | null;
}

/** A job of a group waiting behind the group's head, in the group's Redis list (sealed as well). */
interface ParkedEntry {
  k: string;
  s: string;
  a: number;
  /** When it may start at the earliest (epoch ms): the add's delayMs. */
  due: number;
}

/** A reason as it is stored and handed on: personal data masked, cut to a readable length (as the store does). */
function storedReason(reason: string): string {
  const masked = maskText(reason);
  return masked.length > REASON_CHARS ? `${masked.slice(0, REASON_CHARS)}…` : masked;
}

/**
 * The BullMQ id of a key. BullMQ refuses ids that read as integers or hold a colon; such keys (and any
 * starting with `~`, so that the mapping stays one-to-one) are written `~` + base64url of the key.
 */
/**
 * A queue's name as BullMQ takes it: BullMQ refuses a ':' in a queue's name (its keys are
 * `<prefix>:<name>:…`), and the hub's queues have one (`outbound:<subscription>`). '~' is in no name
 * the hub gives a queue, so two names never become one.
 */
export function bullName(queue: string): string {
  return queue.replace(/:/g, '~');
}

export function jobIdOf(key: string): string {
  if (key.includes(':') || key.startsWith('~') || `${parseInt(key, 10)}` === key) return `~${Buffer.from(key, 'utf8').toString('base64url')}`;
  return key;
}

/** An error that carries how long BullMQ should wait before the next attempt (read by the worker's backoff strategy). */
class RetryLater extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
    this.name = 'RetryLater';
  }
}

/*
 * Our index beside BullMQ's, under `<prefix>:hub:<queue>:` (Lua scripts below keep it consistent, one
 * script a step, so that no node sees half a step):
 *   known    HASH key → group ('' for none): every key the queue ever held and did not prune. An add is
 *            an HSETNX here, so a key is added once ever, even after BullMQ has removed its done job.
 *   open     ZSET key → since ms (NewJob.since, else added; replayed: replayed): jobs not yet done nor
 *            dead (depth, oldestOpen).
 *   dead     ZSET key → died ms: dead jobs, those BullMQ holds as failed and those held behind them.
 *   held     HASH key → {g, h, a}: a job held dead behind its group's dead head h, never attempted.
 *   done     ZSET key → done ms; results HASH key → JSON: the answers of done jobs (prune reads done).
 *   head     HASH group → key: the one job of the group that is a BullMQ job (waiting, running, retried
 *            or dead). The group's later jobs wait in the LIST g:<group> as ParkedEntry JSON.
 *   pending  HASH key → JSON: an add (or replay) recorded here whose BullMQ half is not yet confirmed.
 * The keys are built inside the scripts from KEYS[1] (the queue's base): fine on one Redis, which is
 * what HUB_QUEUE names; a Redis Cluster would need every key of a queue in one hash slot.
 */

/**
 * Adds jobs to the index, in order. ARGV: now, then (key, group, sealed, due, since) for each job. Answers,
 * per job: 0 not added (the key is known), 1 to add to BullMQ (written to pending; a group's head),
 * 2 parked behind its group's head, 3 added dead, held behind its group's dead head.
 */
const ADD_LUA = `
local base = KEYS[1]
local now = tonumber(ARGV[1])
local out = {}
local i = 2
while i <= #ARGV do
  local k, g, s, due, since = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3]), math.min(now, tonumber(ARGV[i + 4]))
  i = i + 5
  local r = 0
  if redis.call('HSETNX', base .. 'known', k, g) == 1 then
    local head = false
    if g ~= '' then head = redis.call('HGET', base .. 'head', g) end
    if head and redis.call('ZSCORE', base .. 'dead', head) then
      redis.call('RPUSH', base .. 'g:' .. g, cjson.encode({k = k, s = s, a = now, due = due}))
      redis.call('HSET', base .. 'held', k, cjson.encode({g = g, h = head, a = now}))
      redis.call('ZADD', base .. 'dead', now, k)
      r = 3
    elseif head then
      redis.call('RPUSH', base .. 'g:' .. g, cjson.encode({k = k, s = s, a = now, due = due}))
      redis.call('ZADD', base .. 'open', since, k)
      r = 2
    else
      if g ~= '' then redis.call('HSET', base .. 'head', g, k) end
      redis.call('HSET', base .. 'pending', k, cjson.encode({s = s, a = now, g = g, due = due, t = now}))
      redis.call('ZADD', base .. 'open', since, k)
      r = 1
    end
  end
  out[#out + 1] = r
end
return out`;

/** Writes a hash field's new value only where it still holds the old (ARGV: field, old, new): `hub rekey`'s reseal. */
const HASH_SWAP_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0`;

/** Writes a list element's new value only where it still holds the old (ARGV: index, old, new). */
const LIST_SWAP_LUA = `
if redis.call('LINDEX', KEYS[1], tonumber(ARGV[1])) == ARGV[2] then redis.call('LSET', KEYS[1], tonumber(ARGV[1]), ARGV[3]) return 1 end
return 0`;

/**
 * Records a job done (ARGV: key, group, result JSON, now) and hands its group on: the next parked job
 * becomes the head, written to pending, and is answered for the caller to add to BullMQ. Answers -1
 * when the key is no longer known (purged, pruned: the end has no effect), 0 when it was done already,
 * 1 when done with no job to hand on, or the next job's entry.
 */
const DONE_LUA = `
local base, k, g, res, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('HEXISTS', base .. 'known', k) == 0 then return -1 end
if redis.call('ZSCORE', base .. 'done', k) then return 0 end
redis.call('ZREM', base .. 'open', k)
redis.call('ZREM', base .. 'dead', k)
redis.call('HDEL', base .. 'pending', k)
redis.call('ZADD', base .. 'done', now, k)
redis.call('HSET', base .. 'results', k, res)
if g ~= '' and redis.call('HGET', base .. 'head', g) == k then
  local nxt = redis.call('LPOP', base .. 'g:' .. g)
  if nxt then
    local e = cjson.decode(nxt)
    redis.call('HSET', base .. 'head', g, e.k)
    redis.call('HSET', base .. 'pending', e.k, cjson.encode({s = e.s, a = e.a, g = g, due = e.due, t = now}))
    return nxt
  end
  redis.call('HDEL', base .. 'head', g)
end
return 1`;

/**
 * Records a job dead (ARGV: key, group, now); when it is its group's head, the jobs parked behind it
 * are held dead with it (never attempted), keeping their place in the group's list. Answers -1 when
 * the key is no longer known, 1 otherwise.
 */
const DIE_LUA = `
local base, k, g, now = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HEXISTS', base .. 'known', k) == 0 then return -1 end
redis.call('ZREM', base .. 'open', k)
redis.call('HDEL', base .. 'pending', k)
redis.call('ZADD', base .. 'dead', now, k)
if g ~= '' and redis.call('HGET', base .. 'head', g) == k then
  for _, raw in ipairs(redis.call('LRANGE', base .. 'g:' .. g, 0, -1)) do
    local e = cjson.decode(raw)
    redis.call('HSET', base .. 'held', e.k, cjson.encode({g = g, h = k, a = e.a}))
    redis.call('ZADD', base .. 'dead', now, e.k)
    redis.call('ZREM', base .. 'open', e.k)
  end
end
return 1`;

/**
 * Brings dead jobs back in the index (ARGV: now, '1' for every dead job or '0', then the keys asked).
 * A job BullMQ holds as failed comes back (written to pending, answered for the caller to retry in
 * BullMQ); when it is its group's head, the jobs held behind it come back parked, in their order, their
 * age from now. A held job asked for without its head stays dead: it would overtake it. Answers the
 * number of jobs back, then the keys to retry in BullMQ.
 */
const REPLAY_LUA = `
local base, now = KEYS[1], tonumber(ARGV[1])
local asked = {}
if ARGV[2] == '1' then
  asked = redis.call('ZRANGE', base .. 'dead', 0, -1)
else
  for i = 3, #ARGV do asked[#asked + 1] = ARGV[i] end
end
local n = 0
local out = {0}
for _, k in ipairs(asked) do
  if redis.call('ZSCORE', base .. 'dead', k) and redis.call('HEXISTS', base .. 'held', k) == 0 then
    redis.call('ZREM', base .. 'dead', k)
    redis.call('ZADD', base .. 'open', now, k)
    redis.call('HSET', base .. 'pending', k, cjson.encode({r = 1, t = now}))
    n = n + 1
    out[#out + 1] = k
    local g = redis.call('HGET', base .. 'known', k)
    if g and g ~= '' and redis.call('HGET', base .. 'head', g) == k then
      local lk = base .. 'g:' .. g
      local len = redis.call('LLEN', lk)
      for i = 0, len - 1 do
        local e = cjson.decode(redis.call('LINDEX', lk, i))
        if redis.call('HDEL', base .. 'held', e.k) == 1 then
          redis.call('ZREM', base .. 'dead', e.k)
          n = n + 1
        end
        e.a = now
        redis.call('LSET', lk, i, cjson.encode(e))
        redis.call('ZADD', base .. 'open', now, e.k)
      end
    end
  end
end
out[1] = n
return out`;

/** Forgets up to ARGV[2] keys done before ARGV[1] (epoch ms), oldest first. Answers how many. */
const PRUNE_LUA = `
local base = KEYS[1]
local old = redis.call('ZRANGEBYSCORE', base .. 'done', '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(old) do
  redis.call('ZREM', base .. 'done', k)
  redis.call('HDEL', base .. 'known', k)
  redis.call('HDEL', base .. 'results', k)
end
return #old`;

/** Deletes the queue's index whole. Answers how many jobs it knew. */
const PURGE_LUA = `
local base = KEYS[1]
local n = redis.call('HLEN', base .. 'known')
for _, g in ipairs(redis.call('HKEYS', base .. 'head')) do redis.call('DEL', base .. 'g:' .. g) end
redis.call('DEL', base .. 'known', base .. 'open', base .. 'dead', base .. 'held', base .. 'done', base .. 'results', base .. 'head', base .. 'pending')
return n`;

/**
 * Takes a pending entry for a sweep (ARGV: key, older-than ms): answers it and deletes it when it is
 * that old and its job still open; deletes it and answers nothing when the job is no longer open.
 */
const TAKE_PENDING_LUA = `
local base, k, before = KEYS[1], ARGV[1], tonumber(ARGV[2])
local raw = redis.call('HGET', base .. 'pending', k)
if not raw then return false end
if not redis.call('ZSCORE', base .. 'open', k) then redis.call('HDEL', base .. 'pending', k) return false end
if cjson.decode(raw).t >= before then return false end
redis.call('HDEL', base .. 'pending', k)
return raw`;

type HubRedis = Redis & {
  hubAdd(base: string, ...args: (string | number)[]): Promise<number[]>;
  hubDone(base: string, key: string, group: string, result: string, now: number): Promise<number | string>;
  hubDie(base: string, key: string, group: string, now: number): Promise<number>;
  hubReplay(base: string, ...args: (string | number)[]): Promise<(number | string)[]>;
  hubPrune(base: string, before: number, limit: number): Promise<number>;
  hubPurge(base: string): Promise<number>;
  hubTakePending(base: string, key: string, before: number): Promise<string | null>;
  hubHashSwap(key: string, field: string, old: string, value: string): Promise<number>;
  hubListSwap(key: string, index: number, old: string, value: string): Promise<number>;
};

/**
 * The job queue of cluster mode (HUB_QUEUE=redis://…): BullMQ on Redis runs the jobs (delays, retries
 * with our backoff, the queue's pace as BullMQ's limiter, a target's pause as its manual rate limit,
 * locks and the recovery of jobs whose node died), and an index of our own beside it keeps what BullMQ
 * does not: every key ever added (BullMQ dedupes a job id only while the job exists, and done jobs are
 * removed from BullMQ at once, their payload with them), done keys with their answers until pruned, the
 * dead jobs, and ordered groups (BullMQ's open-source edition has none).
 *
 * A group runs through its head: only the group's first job not yet done is a BullMQ job; the jobs after
 * it wait, sealed, in a Redis list, and the Lua script that records the head done makes the next one the
 * head in the same step. The next is then added to BullMQ, only after the head's handler has answered,
 * so two nodes never run two jobs of one group at once. A head that dies holds its list dead.
 *
 * Adding to BullMQ cannot be in the same Lua script as our index (BullMQ's own scripts do it), so an add
 * (or a replay, or a head handed on) is two steps: the index records it in `pending`, BullMQ adds it
 * (idempotent: its id is the key), and the pending entry goes. A node that dies between the two leaves
 * the entry, and a worker's sweep finishes the add after PENDING_GRACE_MS.
 */
export class BullJobQueue implements JobQueue {
  private readonly redis: HubRedis;
  private readonly queues = new Map<string, Queue>();
  private readonly prefix: string;
  /** Whether this queue made its connection (from a URL), and so closes it. */
  private readonly ownsConnection: boolean;

  /**
   * `redis`: a redis:// URL (HUB_QUEUE) or a connection to share (it must have maxRetriesPerRequest:
   * null, as BullMQ's workers need). `prefix`: the namespace of every key, BullMQ's and ours.
   */
  constructor(redis: string | Redis, private readonly keys: DataKeys, opts: { prefix?: string } = {}) {
    this.prefix = opts.prefix ?? 'hub';
    const connection = typeof redis === 'string' ? new IORedis(redis, { maxRetriesPerRequest: null }) : redis;
    this.ownsConnection = typeof redis === 'string';
    connection.defineCommand('hubAdd', { numberOfKeys: 1, lua: ADD_LUA });
    connection.defineCommand('hubDone', { numberOfKeys: 1, lua: DONE_LUA });
    connection.defineCommand('hubDie', { numberOfKeys: 1, lua: DIE_LUA });
    connection.defineCommand('hubReplay', { numberOfKeys: 1, lua: REPLAY_LUA });
    connection.defineCommand('hubPrune', { numberOfKeys: 1, lua: PRUNE_LUA });
    connection.defineCommand('hubPurge', { numberOfKeys: 1, lua: PURGE_LUA });
    connection.defineCommand('hubTakePending', { numberOfKeys: 1, lua: TAKE_PENDING_LUA });
    connection.defineCommand('hubHashSwap', { numberOfKeys: 1, lua: HASH_SWAP_LUA });
    connection.defineCommand('hubListSwap', { numberOfKeys: 1, lua: LIST_SWAP_LUA });
    this.redis = connection as HubRedis;
  }

  /** Closes this node's BullMQ queues, and the connection when it made it. Stop the workers first. */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    if (this.ownsConnection) await this.redis.quit();
  }

  /** The base of a queue's keys in our index. */
  base(queue: string): string {
    return `${this.prefix}:hub:${queue}:`;
  }

  /** This node's BullMQ Queue for a queue name. */
  bull(queue: string): Queue {
    let q = this.queues.get(queue);
    if (!q) {
      q = new Queue(bullName(queue), { connection: this.redis, prefix: this.prefix });
      // A Queue emits 'error' when its connection fails; unheard, an EventEmitter would throw it.
      q.on('error', () => undefined);
      this.queues.set(queue, q);
    }
    return q;
  }

  /**
   * Moves every sealed payload this namespace keeps in Redis to the current data key: BullMQ's jobs
   * (their `data`), the adds not yet confirmed (`pending`) and the jobs parked behind their group's
   * head (`g:<group>` lists). Each value is written back only where it is unchanged since read; one
   * that changed (a job done, a list popped) is counted for the next pass, which `hub rekey` runs
   * until one finds nothing left.
   */
  async resealPayloads(): Promise<{ scanned: number; resealed: number; changed: number }> {
    let scanned = 0;
    let written = 0;
    let changed = 0;
    const swapped = (n: number) => { if (n === 1) written++; else changed++; };
    const moved = (raw: string): string | null => {
      let v: { s?: unknown };
      try {
        v = JSON.parse(raw);
      } catch {
        return null;
      }
      if (!v || typeof v.s !== 'string') return null;
      scanned++;
      const s = resealed(this.keys, v.s, JOB_PAYLOAD_CONTEXT);
      return s === null ? null : JSON.stringify({ ...v, s });
    };
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 500);
      cursor = next;
      const types = await Promise.all(keys.map((k) => this.redis.type(k)));
      for (const [i, key] of keys.entries()) {
        if (types[i] === 'hash' && key.startsWith(`${this.prefix}:hub:`) && key.endsWith(':pending')) {
          for (const [field, raw] of Object.entries(await this.redis.hgetall(key))) {
            const v = moved(raw);
            if (v !== null) swapped(Number(await this.redis.hubHashSwap(key, field, raw, v)));
          }
        } else if (types[i] === 'hash' && !key.startsWith(`${this.prefix}:hub:`)) {
          // A BullMQ job's hash: its data is ours (JobData); other hashes of BullMQ have no data field.
          const raw = await this.redis.hget(key, 'data');
          const v = raw === null ? null : moved(raw);
          if (v !== null) swapped(Number(await this.redis.hubHashSwap(key, 'data', raw!, v)));
        } else if (types[i] === 'list' && key.startsWith(`${this.prefix}:hub:`) && key.includes(':g:')) {
          for (const [index, raw] of (await this.redis.lrange(key, 0, -1)).entries()) {
            const v = moved(raw);
            if (v !== null) swapped(Number(await this.redis.hubListSwap(key, index, raw, v)));
          }
        }
      }
    } while (cursor !== '0');
    return { scanned, resealed: written, changed };
  }

  seal(payload: unknown): string {
    return this.keys.seal(JSON.stringify(payload), JOB_PAYLOAD_CONTEXT);
  }

  open<P>(sealed: string): P {
    return JSON.parse(this.keys.open(sealed, JOB_PAYLOAD_CONTEXT)) as P;
  }

  /** BullMQ's options for one of our jobs: kept when failed (the dead list reads it), removed once done (our index keeps the key). */
  private jobOptions(key: string, delayMs: number): JobsOptions {
    return {
      jobId: jobIdOf(key), delay: Math.max(0, Math.round(delayMs)), attempts: UNLIMITED_ATTEMPTS, backoff: { type: 'hub' },
      removeOnComplete: true, removeOnFail: false,
    };
  }

  async add<P>(queue: string, key: string, payload: P, opts: { delayMs?: number; group?: string } = {}): Promise<boolean> {
    const delayMs = Math.max(0, opts.delayMs ?? 0);
    return (await this.addJobs(queue, [{ key, payload, group: opts.group }], delayMs)) === 1;
  }

  async addMany<P>(queue: string, jobs: readonly NewJob<P>[]): Promise<number> {
    if (!jobs.length) return 0;
    return this.addJobs(queue, jobs, 0);
  }

  /**
   * One script records every job in the index (deciding, atomically, which are new and where each
   * goes), then one BullMQ addBulk (one MULTI) adds those that run now: ungrouped jobs and new heads.
   */
  private async addJobs<P>(queue: string, jobs: readonly NewJob<P>[], delayMs: number): Promise<number> {
    const now = Date.now();
    const sealed = jobs.map((j) => this.seal(j.payload));
    const args: (string | number)[] = [now];
    jobs.forEach((j, i) => args.push(j.key, j.group ?? '', sealed[i], now + delayMs, j.since ? j.since.getTime() : now));
    const decisions = await this.redis.hubAdd(this.base(queue), ...args);
    const toBull = jobs.flatMap((j, i) => (Number(decisions[i]) === 1 ? [{ key: j.key, s: sealed[i], g: j.group ?? null }] : []));
    if (toBull.length) {
      await this.bull(queue).addBulk(toBull.map((j) => ({ name: 'job', data: { k: j.key, s: j.s, a: now, g: j.g } satisfies JobData, opts: this.jobOptions(j.key, delayMs) })));
      await this.redis.hdel(`${this.base(queue)}pending`, ...toBull.map((j) => j.key));
    }
    return decisions.filter((d) => Number(d) !== 0).length;
  }

  /** Adds a group's next job to BullMQ, handed on by DONE_LUA, and confirms it. */
  async handOn(queue: string, group: string, entry: ParkedEntry): Promise<void> {
    const data: JobData = { k: entry.k, s: entry.s, a: entry.a, g: group };
    await this.bull(queue).add('job', data, this.jobOptions(entry.k, entry.due - Date.now()));
    await this.redis.hdel(`${this.base(queue)}pending`, entry.k);
  }

  /** Records a job done; hands its group on to the next job. Answers false when the queue no longer knows the key (purged). */
  async recordDone(queue: string, key: string, group: string | null, result: Record<string, unknown> | undefined): Promise<boolean> {
    const r = await this.redis.hubDone(this.base(queue), key, group ?? '', JSON.stringify(result ?? {}), Date.now());
    if (typeof r === 'string') await this.handOn(queue, group!, JSON.parse(r) as ParkedEntry);
    return r !== -1;
  }

  /** Records a job dead, holding the jobs of its group after it. */
  async recordDead(queue: string, key: string, group: string | null): Promise<boolean> {
    return (await this.redis.hubDie(this.base(queue), key, group ?? '', Date.now())) !== -1;
  }

  async replay(queue: string, keys?: readonly string[]): Promise<number> {
    const now = Date.now();
    const [n, ...retry] = await this.redis.hubReplay(this.base(queue), now, keys ? '0' : '1', ...(keys ?? []));
    for (const key of retry.map(String)) await this.retryInBull(queue, key, now);
    return Number(n);
  }

  /** Moves a failed BullMQ job back to waiting, as new: its attempts from 0, its age from `now`. */
  private async retryInBull(queue: string, key: string, now: number): Promise<void> {
    const job = await BullJob.fromId<JobData>(this.bull(queue), jobIdOf(key));
    if (job && (await job.getState()) === 'failed') {
      await job.updateData({ ...job.data, a: now });
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    }
    await this.redis.hdel(`${this.base(queue)}pending`, key);
  }

  /**
   * Finishes the adds, hand-ons and replays that a node recorded in the index and did not confirm in
   * BullMQ (it died between the two steps): each such entry older than `olderThanMs`. An add is
   * idempotent (the job's id is its key); a replay retries only a job still failed.
   */
  async sweep(queue: string, olderThanMs = PENDING_GRACE_MS): Promise<number> {
    const base = this.base(queue);
    const keys = await this.redis.hkeys(`${base}pending`);
    let n = 0;
    for (const key of keys) {
      const raw = await this.redis.hubTakePending(base, key, Date.now() - olderThanMs);
      if (!raw) continue;
      const e = JSON.parse(raw) as { r?: number; s?: string; a?: number; g?: string; due?: number; t: number };
      if (e.r) await this.retryInBull(queue, key, Date.now());
      else await this.bull(queue).add('job', { k: key, s: e.s!, a: e.a!, g: e.g || null } satisfies JobData, this.jobOptions(key, (e.due ?? 0) - Date.now()));
      n++;
    }
    return n;
  }

  async depth(queue: string): Promise<number> {
    return this.redis.zcard(`${this.base(queue)}open`);
  }

  async oldestOpen(queue: string): Promise<Date | null> {
    const r = await this.redis.zrange(`${this.base(queue)}open`, 0, 0, 'WITHSCORES');
    return r.length ? new Date(Number(r[1])) : null;
  }

  async stats(queue: string): Promise<JobQueueStats> {
    const base = this.base(queue);
    const [counts, open, dead, last] = await Promise.all([
      this.bull(queue).getJobCounts('active'),
      this.redis.zcard(`${base}open`),
      this.redis.zcard(`${base}dead`),
      this.redis.zrange(`${base}done`, -1, -1, 'WITHSCORES'),
    ]);
    const active = Math.min(open, counts.active ?? 0);
    return { waiting: open - active, active, dead, lastDoneAt: last.length ? beijingIso(new Date(Number(last[1]))) : null };
  }

  async dead(queue: string, limit = 100): Promise<DeadJob[]> {
    const base = this.base(queue);
    const rows = await this.redis.zrevrange(`${base}dead`, 0, limit - 1, 'WITHSCORES');
    const out: DeadJob[] = [];
    for (let i = 0; i < rows.length; i += 2) {
      const key = rows[i];
      const diedAt = beijingIso(new Date(Number(rows[i + 1])));
      const held = await this.redis.hget(`${base}held`, key);
      if (held) {
        const h = JSON.parse(held) as { g: string; h: string; a: number };
        out.push({ key, group: h.g, attempts: 0, reason: `held: an earlier job of its group (${h.h}) is dead`, addedAt: beijingIso(new Date(h.a)), diedAt });
        continue;
      }
      const job = await BullJob.fromId<JobData>(this.bull(queue), jobIdOf(key));
      const group = (await this.redis.hget(`${base}known`, key)) || null;
      out.push({
        key, group, attempts: job?.attemptsMade ?? 0, reason: job?.failedReason ?? null,
        addedAt: beijingIso(new Date(job?.data.a ?? job?.timestamp ?? 0)), diedAt,
      });
    }
    return out;
  }

  async prune(queue: string, olderThanMs: number, limit: number): Promise<number> {
    return this.redis.hubPrune(this.base(queue), Date.now() - olderThanMs, limit);
  }

  async purge(queue: string): Promise<number> {
    // The index first: a worker that ends a job meanwhile finds its key unknown and hands nothing on,
    // so nothing is added to BullMQ after obliterate has emptied it. obliterate also deletes the
    // queue's meta (with the pause obliterate itself sets).
    const n = await this.redis.hubPurge(this.base(queue));
    const bull = this.bull(queue);
    await bull.obliterate({ force: true });
    // obliterate leaves the limiter's key (the count of the current window, or a pause a target asked
    // for), which would hold a queue made again under the same name.
    await this.redis.del(bull.keys.limiter);
    return n;
  }

  work<P>(queue: string, handler: JobHandler<P>, opts: JobWorkerOptions<P>): JobWorker {
    return new BullJobWorker<P>(this, queue, handler, opts);
  }

  /** The shared connection (for workers and tests). */
  get connection(): Redis {
    return this.redis;
  }

  get keyPrefix(): string {
    return this.prefix;
  }
}

/**
 * One node's BullMQ worker on one queue. The handler's outcome becomes BullMQ's: done a return (after
 * our index recorded it), retry a thrown RetryLater whose delay our backoff strategy hands BullMQ, a
 * queue's pause Queue.rateLimit and Worker.RateLimitError, failed (or given up) an UnrecoverableError
 * after our index recorded the job dead.
 */
class BullJobWorker<P> implements JobWorker {
  private readonly worker: Worker<JobData>;
  private readonly running = new Set<AbortController>();
  private stopping = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly q: BullJobQueue, private readonly queue: string, private readonly handler: JobHandler<P>, private readonly opts: JobWorkerOptions<P>) {
    // One start per interval across every node (BullMQ's limiter is kept in Redis for the queue), so
    // that no second holds more than ratePerSecond starts: a window of a second with `max` starts would
    // let twice the rate through across a window's edge.
    const limiter = opts.ratePerSecond > 0 ? { max: 1, duration: Math.max(1, Math.round(1000 / opts.ratePerSecond)) } : { max: NO_PACE_MAX, duration: 1000 };
    this.worker = new Worker<JobData>(bullName(queue), (job, token) => this.process(job, token), {
      connection: q.connection, prefix: q.keyPrefix, concurrency: opts.concurrency, limiter,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) =>
          err instanceof RetryLater ? err.delayMs : backoffMs(attemptsMade, opts.backoff),
      },
    });
    this.worker.on('error', (err) => opts.onError?.(err));
    const sweep = () => void q.sweep(queue).catch((err) => opts.onError?.(err));
    sweep();
    this.sweeper = setInterval(sweep, SWEEP_EVERY_MS);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.sweeper);
    for (const c of this.running) c.abort();
    // close() takes no more jobs and waits for those running to end; their outcomes are recorded.
    await this.worker.close();
  }

  private async process(bj: BullJob<JobData>, token: string | undefined): Promise<unknown> {
    const { k: key, g: group } = bj.data;
    // A job whose end is already recorded (its node lost BullMQ's lock after recording it done, and
    // BullMQ ran it again) or that the queue no longer knows (purged) is not worked again.
    const base = this.q.base(this.queue);
    const [known, doneAt] = await Promise.all([this.q.connection.hexists(`${base}known`, key), this.q.connection.zscore(`${base}done`, key)]);
    if (!known || doneAt !== null) return null;
    if (this.stopping) {
      // Fetched as the worker stops (BullMQ's loop may take one more job while it closes): given back
      // untouched, as if never taken.
      await bj.moveToWait(token);
      throw new WaitingError();
    }
    const controller = new AbortController();
    this.running.add(controller);
    const job: Job<P> = { queue: this.queue, key, payload: undefined as P, attempt: bj.attemptsMade + 1, addedAt: new Date(bj.data.a), signal: controller.signal };
    let outcome: JobOutcome<P>;
    try {
      (job as { payload: P }).payload = this.q.open<P>(bj.data.s);
      outcome = await this.handler(job);
    } catch (err) {
      // A handler that throws answers a retry (the port's rule); so does a payload that does not open.
      outcome = { outcome: 'retry', reason: (err as Error)?.message ?? String(err) };
    } finally {
      this.running.delete(controller);
    }
    // Stopped during the attempt: unless it was done, the job goes back to waiting, its attempt not counted.
    if (controller.signal.aborted && outcome.outcome !== 'done') {
      await bj.moveToWait(token);
      this.opts.onOutcome?.(job, { outcome: 'retry', reason: 'the worker stopped' }, 'released');
      throw new WaitingError();
    }
    if (outcome.outcome === 'done') {
      await this.q.recordDone(this.queue, key, group, outcome.result);
      this.report(job, outcome, 'done');
      return outcome.result ?? {};
    }
    const reason = storedReason(outcome.reason);
    const delayMs = outcome.outcome === 'retry' ? Math.max(0, outcome.afterMs ?? backoffMs(job.attempt, this.opts.backoff)) : 0;
    if (outcome.outcome === 'failed' || bj.data.a + this.opts.giveUpAfterMs < Date.now() + delayMs) {
      await this.q.recordDead(this.queue, key, group);
      this.report(job, outcome, 'dead');
      throw new UnrecoverableError(reason);
    }
    if (outcome.payload !== undefined) await bj.updateData({ ...bj.data, s: this.q.seal(outcome.payload) });
    if (outcome.pauseQueue && outcome.afterMs !== undefined) {
      // The target refused for the queue's pace: no node of the queue starts a job before then (BullMQ's
      // limiter key, read by every worker's fetch), and this job goes back to waiting, not counted.
      await this.q.bull(this.queue).rateLimit(Math.max(1, delayMs));
      this.report(job, outcome, 'waiting');
      throw Worker.RateLimitError();
    }
    this.report(job, outcome, 'waiting');
    throw new RetryLater(reason, delayMs);
  }

  private report(job: Job<P>, outcome: JobOutcome<P>, state: JobState): void {
    try {
      this.opts.onOutcome?.(job, outcome, state);
    } catch (err) {
      // A listener's fault must not change the job's outcome.
      this.opts.onError?.(err);
    }
  }
}
