import type { ServiceBroker } from 'moleculer';
import { RetryableError } from '../../core/kernel/errors';
import type { Channels, ChannelName, PublishOptions } from '../../core/ports/channel';
import { activeCarrier } from '../../core/kernel/tracing';
import { APPLIED_AT_HEADER } from '../../core/kernel/constants';

/**
 * The channel port over a Moleculer broker that runs the bus middleware. Made before the broker
 * (the hub's context holds it), and attached to it once the broker exists; a publish before that
 * fails, and the outbox keeps the message.
 */
export class BrokerChannels implements Channels {
  private broker: ServiceBroker | null = null;

  attach(broker: ServiceBroker): void {
    this.broker = broker;
  }

  listened(channel: ChannelName): boolean {
    const adapter = (this.broker as unknown as { channelAdapter?: { listened?: (prefixed: string) => boolean; addPrefixTopic(name: string): string } } | null)?.channelAdapter;
    return adapter?.listened ? adapter.listened(adapter.addPrefixTopic(channel)) : true;
  }

  async publish(channel: ChannelName, message: unknown, opts: PublishOptions = {}): Promise<void> {
    const broker = this.broker as unknown as { sendToChannel?: (name: string, payload: unknown, opts: object) => Promise<void> } | null;
    if (!broker?.sendToChannel) throw new RetryableError(`no bus to publish on ${channel} yet`, 'BUS_NOT_READY', { channel });
    // msgID: JetStream drops a second publish of the same id within its duplicate window. The
    // active trace context (the publish span) goes in the message's headers, for its consumers.
    const sendOpts = opts.id ? { msgID: opts.id } : {};
    const trace = activeCarrier();
    const headers = trace || opts.headers ? { ...opts.headers, ...trace } : null;
    await broker.sendToChannel(channel, message, headers ? { ...sendOpts, headers } : sendOpts);
  }
}

/** A channel message's headers, as the broker's bus adapter reads them off the raw message it hands a consumer; null without any. */
export function messageHeaders(broker: ServiceBroker, raw: unknown): Record<string, string> | null {
  const adapter = (broker as unknown as { channelAdapter?: { parseMessageHeaders(raw: unknown): Record<string, string> | null } }).channelAdapter;
  return raw && adapter ? adapter.parseMessageHeaders(raw) ?? null : null;
}

/** When the applied event of a bus message was applied (APPLIED_AT_HEADER); null when the message does not say. */
export function appliedAtOf(broker: ServiceBroker, raw: unknown): Date | null {
  const ms = Number(messageHeaders(broker, raw)?.[APPLIED_AT_HEADER]);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : null;
}
