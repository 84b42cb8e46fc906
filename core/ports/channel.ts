import type { CHANNELS } from '../kernel/constants';

/** A channel of the bus. */
export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

export interface PublishOptions {
  /**
   * The message's own id (an event's id, an alert's id). The bus may recognise a publish of the
   * same id again and keep one copy; consumers must still be idempotent by it.
   */
  id?: string;
  /**
   * Headers the message carries besides its body (the bus adds the trace context's): facts of its
   * journey that are not part of the contract's message, such as when an event was applied.
   */
  headers?: Record<string, string>;
}

/**
 * The durable bus between the case store and its consumers (supervisor, notifier, subscriptions):
 * in-process in embedded mode, NATS JetStream in a cluster. Delivery is at least once, so a
 * consumer sees a message again after a failure or a restart and recognises it by its id.
 */
export interface Channels {
  /**
   * Publishes a message. Resolves once the bus has taken it for every consumer: stored in the
   * stream (cluster), or handled by every consumer group of this process (embedded). Rejects when
   * the bus could not take it; the caller keeps the message and publishes it again later.
   */
  publish(channel: ChannelName, message: unknown, opts?: PublishOptions): Promise<void>;

  /**
   * Whether a message published on the channel now could reach anyone: false only when the bus
   * knows that no consumer would get it (in process, with none subscribed), so that the caller
   * may skip building it. A cluster's stream keeps messages for consumers that come back: true.
   */
  listened(channel: ChannelName): boolean;
}
