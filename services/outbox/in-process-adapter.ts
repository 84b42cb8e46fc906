import { Adapters } from '@moleculer/channels';
import { Errors } from 'moleculer';
import type { Channel } from '@moleculer/channels/types/src';
import { retryDelayMs } from './retry-delay';
import { abortableDelay } from '../../core/jobs/abortable-delay';

/** How long a consumer may take over one message before the attempt counts as failed (NATS's default ack wait). */
const HANDLER_TIMEOUT_MS = 30_000;

interface Subscription {
  chan: Channel;
  /** The consumer's queue: a message starts once the one before it is done, so it sees them in order. */
  tail: Promise<void>;
  /**
   * A consumer whose channel allows more than one message in flight (maxInFlight > 1) takes them
   * side by side, up to that many, in no promised order: these are the ones it holds now, and those
   * waiting for a place.
   */
  running: Set<Promise<void>>;
  waiting: (() => void)[];
}

/**
 * The bus of an embedded hub, inside its one process. The outbox is the durable part: a publish
 * resolves only once every consumer group has handled the message (one consumer of each group,
 * in turn), so the dispatcher deletes an entry only when nothing is left to lose with the process.
 * A consumer that fails is retried after a growing delay up to maxRetries times, then the message
 * goes to the failed channel (when dead-lettering is on) and is logged. (The package's Fake
 * adapter emits and forgets: no retries, and its publish resolves before anyone handled it.)
 */
export class InProcessAdapter extends Adapters.Base {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly turn = new Map<string, number>();
  private stopping = false;
  private delivered = 0;
  /** Aborted by cutRetries or the bus's stop: a failed delivery is no longer waited for and retried, and the waits under way end. */
  private retries = new AbortController();

  async connect(): Promise<void> {
    this.stopping = false;
    this.retries = new AbortController();
    this.connected = true;
  }

  /**
   * The node is stopping: a consumer's failed delivery is no longer waited for and retried (the
   * waits grow to a minute), and those waiting now end. Their publishes fail, so the outbox keeps
   * the messages for the next start, and the dispatcher's round in progress ends at once instead of
   * after the consumer's whole backoff. Publishes still go on until the bus stops.
   */
  cutRetries(): void {
    this.retries.abort();
  }

  async disconnect(): Promise<void> {
    this.stopping = true;
    // The bus waits for the messages its consumers hold, not for their retries' delays.
    this.retries.abort();
    await Promise.all([...this.subscriptions.values()].map((s) => drained(s)));
    this.connected = false;
  }

  async subscribe(chan: Channel): Promise<void> {
    if (chan.maxInFlight == null) chan.maxInFlight = this.opts.maxInFlight;
    if (chan.maxRetries == null) chan.maxRetries = this.opts.maxRetries;
    chan.deadLettering = { ...this.opts.deadLettering, ...chan.deadLettering };
    if (chan.deadLettering.enabled) chan.deadLettering.queueName = this.addPrefixTopic(chan.deadLettering.queueName);
    this.initChannelActiveMessages(chan.id);
    this.subscriptions.set(chan.id, { chan, tail: Promise.resolve(), running: new Set(), waiting: [] });
  }

  async unsubscribe(chan: Channel): Promise<void> {
    if (chan.unsubscribing) return;
    chan.unsubscribing = true;
    const sub = this.subscriptions.get(chan.id);
    if (!sub) return;
    await drained(sub);
    this.subscriptions.delete(chan.id);
    this.stopChannelActiveMessages(chan.id);
  }

  /** Whether any consumer is subscribed to the channel (its name as on the wire, prefixed); while the bus is not running it cannot tell, and answers true. */
  listened(channelName: string): boolean {
    if (!this.connected || this.stopping) return true;
    for (const sub of this.subscriptions.values()) if (sub.chan.name === channelName && !sub.chan.unsubscribing) return true;
    return false;
  }

  /** Resolves once one consumer of every group subscribed to the channel has handled the message. */
  async publish(channelName: string, payload: unknown, opts: { headers?: Record<string, string>; msgID?: string } = {}): Promise<void> {
    if (!this.connected || this.stopping) throw new Errors.MoleculerRetryableError('the in-process bus is not running; the message is published again later', 503, 'BUS_NOT_RUNNING', { channel: channelName });
    const bytes = this.serializer.serialize(payload as object, 'channel' as any);
    const groups = new Map<string, Subscription[]>();
    for (const sub of this.subscriptions.values()) {
      if (sub.chan.name !== channelName || sub.chan.unsubscribing) continue;
      const list = groups.get(sub.chan.group);
      if (list) list.push(sub); else groups.set(sub.chan.group, [sub]);
    }
    await Promise.all([...groups].map(([group, subs]) => this.enqueue(this.pick(group, subs), bytes, opts)));
  }

  /** The group's consumers take messages in turn. */
  private pick(group: string, subs: Subscription[]): Subscription {
    const n = this.turn.get(group) ?? 0;
    this.turn.set(group, n + 1);
    return subs[n % subs.length];
  }

  private enqueue(sub: Subscription, bytes: Buffer, opts: { headers?: Record<string, string>; msgID?: string }): Promise<void> {
    const limit = sub.chan.maxInFlight ?? 1;
    if (limit <= 1) {
      const run = sub.tail.then(() => this.deliver(sub.chan, bytes, opts));
      sub.tail = run.catch(() => undefined);
      return run;
    }
    const start = sub.running.size < limit ? Promise.resolve() : new Promise<void>((resolve) => sub.waiting.push(resolve));
    const run = start.then(() => this.deliver(sub.chan, bytes, opts));
    const held = run.catch(() => undefined).then(() => {
      sub.running.delete(held);
      sub.waiting.shift()?.();
    });
    sub.running.add(held);
    return run;
  }

  private async deliver(chan: Channel, bytes: Buffer, opts: { headers?: Record<string, string>; msgID?: string }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const id = ++this.delivered;
      this.addChannelActiveMessages(chan.id, [id]);
      try {
        await withTimeout(chan.handler(this.serializer.deserialize(bytes, 'channel' as any), { headers: opts.headers ?? {}, redeliveryCount: attempt }), HANDLER_TIMEOUT_MS);
        return;
      } catch (err) {
        if (chan.unsubscribing || this.stopping || this.retries.signal.aborted) throw stoppedBefore(chan, opts.msgID);
        if (attempt >= (chan.maxRetries ?? 0)) {
          await this.failed(chan, bytes, opts, err as Error, attempt + 1);
          return;
        }
        this.logger.warn(`consumer ${chan.group} failed on a message of ${chan.name}; retrying`, { id: opts.msgID, attempt: attempt + 1, err: (err as Error).message });
        await abortableDelay(retryDelayMs(attempt + 1), this.retries.signal);
        if (this.retries.signal.aborted) throw stoppedBefore(chan, opts.msgID);
      } finally {
        this.removeChannelActiveMessages(chan.id, [id]);
      }
    }
  }

  /** After the last retry: to the failed channel when dead-lettering is on, and to the log either way. */
  private async failed(chan: Channel, bytes: Buffer, opts: { msgID?: string }, err: Error, attempts: number): Promise<void> {
    this.logger.error(`consumer ${chan.group} failed on a message of ${chan.name} ${attempts} times`, { id: opts.msgID, err: err.message, deadLettered: !!chan.deadLettering?.enabled });
    // A consumer of the failed channel that fails itself has nowhere further to go.
    if (!chan.deadLettering?.enabled || chan.name === chan.deadLettering.queueName) return;
    const failedName = chan.deadLettering.queueName;
    const headers = { 'x-original-channel': chan.name, 'x-original-group': chan.group };
    const takers = [...this.subscriptions.values()].filter((s) => s.chan.name === failedName && !s.chan.unsubscribing);
    await Promise.all(takers.map((s) => this.enqueue(s, bytes, { headers, msgID: opts.msgID })));
  }
}

/** The consumer is going away (or the node stops retrying): the publish fails, and the outbox keeps the message for the next start. */
function stoppedBefore(chan: Channel, msgID: string | undefined): Error {
  return new Errors.MoleculerRetryableError(`consumer ${chan.group} stopped before handling the message`, 503, 'CONSUMER_STOPPED', { channel: chan.name, id: msgID });
}

/** Once every message the consumer has taken is done. */
async function drained(sub: Subscription): Promise<void> {
  await sub.tail;
  while (sub.running.size || sub.waiting.length) await Promise.all([...sub.running]);
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); }),
  ]);
}
