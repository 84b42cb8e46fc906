import { Adapters } from '@moleculer/channels';
import { Errors } from 'moleculer';
import { nanos, DiscardPolicy, RetentionPolicy, StorageType, type JsMsg, type NatsError, type StreamConfig } from 'nats';
import type { Channel } from '@moleculer/channels/types/src';
import { retryDelayMs } from './retry-delay';

export interface StreamLimits {
  /** Messages older than this leave the stream. */
  maxAgeHours: number;
  /** The stream's size; the oldest messages leave first beyond it. */
  maxBytes: number;
}

/**
 * The stream settings of every channel: limits retention with an age and a size bound. A stream
 * keeps every message forever by default. Work-queue retention would allow one consumer group per
 * channel, and interest retention would drop what is published while no consumer is subscribed.
 */
export function streamConfig(limits: StreamLimits): Partial<StreamConfig> {
  return {
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: StorageType.File,
    max_age: nanos(limits.maxAgeHours * 3600 * 1000),
    max_bytes: limits.maxBytes,
  };
}

/**
 * The bus of a cluster: NATS JetStream through @moleculer/channels, with what its NATS adapter
 * lacks for the hub.
 * - The channels' streams are created (or their limits brought up to date) when the adapter
 *   connects, not when a consumer first subscribes: a publish to a subject no stream holds fails,
 *   and a stream created by a consumer would keep whatever limits that consumer had.
 * - A consumer that fails is handed the message again after a growing delay (the adapter's NAK
 *   has none, so a failing consumer spun through its retries at once).
 * - A publish while the adapter stops fails instead of resolving with nothing sent, so the outbox
 *   keeps the message.
 * - A message whose consumer died goes to another node of the group within ACK_WAIT_MS, not 30 s.
 */
/** Tries of a consumer group's subscription that lost the race to create its durable consumer. */
const CONSUMER_RACE_TRIES = 5;

/**
 * How long JetStream waits for a consumer's answer (ack, nak or "still working") before it hands the
 * message to another member of the group. Its default, 30 s, is how long a group whose consumers
 * take one message at a time (max_ack_pending 1) stood still when the node holding a message died,
 * or when NATS restarted and lost the ack. A consumer still at work says so every
 * WORKING_EVERY_MS, so a slow handler is never taken for a dead one.
 */
export const ACK_WAIT_MS = 5000;
const WORKING_EVERY_MS = 1000;

export class JetStreamAdapter extends Adapters.NATS {
  constructor(opts: { url: string; limits: StreamLimits; channels: readonly string[]; maxRetries: number; deadLettering: { enabled: boolean; queueName: string } }) {
    super({
      nats: {
        url: opts.url,
        // Keep reconnecting however long NATS is away (the client gives up after 10 attempts by default,
        // and the adapter never connects again); meanwhile publishes fail and the outbox holds the events.
        connectionOptions: { maxReconnectAttempts: -1, reconnectTimeWait: 1000 },
        streamConfig: streamConfig(opts.limits),
        consumerOptions: { config: { ack_wait: nanos(ACK_WAIT_MS) } },
      },
      maxRetries: opts.maxRetries,
      deadLettering: opts.deadLettering,
    });
    this.declared = [...opts.channels, opts.deadLettering.queueName];
  }

  private readonly declared: string[];

  /** The stream that holds a channel's messages, as the adapter names it (no dots in stream names). */
  streamName(channel: string): string {
    return this.addPrefixTopic(channel).split('.').join('_');
  }

  async connect(): Promise<void> {
    await super.connect();
    for (const channel of this.declared) await this.ensureStream(channel);
  }

  private async ensureStream(channel: string): Promise<void> {
    const name = this.streamName(channel);
    const config = { ...this.opts.nats.streamConfig, name, subjects: [this.addPrefixTopic(channel)] };
    try {
      await this.manager.streams.add(config);
    } catch (err) {
      if (!/already in use/.test((err as Error).message)) throw err;
      // The stream exists with other settings (earlier limits, or none): ours apply from now on.
      await this.manager.streams.update(name, config);
    }
  }

  /**
   * Subscribes a consumer group, its durable consumer created by whichever node comes first. Two
   * nodes starting together in a fresh namespace can both find no consumer and both create it: the
   * server refuses the second ("consumer name already in use") and that node would not start. Asked
   * again, the consumer exists and the node binds to it, as any later node does.
   */
  async subscribe(chan: Parameters<InstanceType<typeof Adapters.NATS>['subscribe']>[0]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await super.subscribe(chan);
        await this.keepAckWait(chan);
        return;
      } catch (err) {
        if (!/consumer name already in use/.test((err as Error)?.message ?? '') || attempt >= CONSUMER_RACE_TRIES) throw err;
        // The failed try began tracking the channel's messages; the next one begins again.
        if (this.activeMessages.has(chan.id)) this.stopChannelActiveMessages(chan.id);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
    }
  }

  /**
   * A group's durable consumer made before ACK_WAIT_MS was set (by an earlier version, with the
   * server's 30 s) is brought to it: the client binds to an existing consumer as it finds it.
   */
  private async keepAckWait(chan: Parameters<InstanceType<typeof Adapters.NATS>['subscribe']>[0]): Promise<void> {
    const stream = chan.name.split('.').join('_');
    const durable = chan.group.split('.').join('_');
    try {
      const info = await this.manager.consumers.info(stream, durable);
      if (info.config.ack_wait !== nanos(ACK_WAIT_MS)) await this.manager.consumers.update(stream, durable, { ...info.config, ack_wait: nanos(ACK_WAIT_MS) });
    } catch (err) {
      // It still works, with the slower hand-over: not a reason to refuse to start.
      this.logger.warn(`the consumer ${durable} of ${stream} keeps its ack wait: ${(err as Error).message}`);
    }
  }

  createConsumerHandler(chan: Channel): (err: NatsError, message: JsMsg) => Promise<void> {
    const handle = super.createConsumerHandler(chan);
    return async (err, message) => {
      if (!message) return handle(err, message);
      const nak = message.nak.bind(message);
      message.nak = () => nak(retryDelayMs(message.info.redeliveryCount));
      // "Still working" while the handler runs: the server hands the message to another node only
      // once ACK_WAIT_MS pass without word from this one (it died, or lost its connection).
      const working = setInterval(() => { try { message.working(); } catch { /* the connection is gone: the server will redeliver */ } }, WORKING_EVERY_MS);
      try {
        return await handle(err, message);
      } finally {
        clearInterval(working);
      }
    };
  }

  async publish(channelName: string, payload: any, opts: any = {}): Promise<void> {
    if (this.stopping) {
      throw new Errors.MoleculerRetryableError('the bus is stopping; the message is published again later', 503, 'BUS_STOPPING', { channel: channelName });
    }
    await super.publish(channelName, payload, opts);
  }
}
