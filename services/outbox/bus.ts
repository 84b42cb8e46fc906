import { Middleware } from '@moleculer/channels';
import type { ServiceBroker, Middleware as BrokerMiddleware } from 'moleculer';
import { CHANNELS, BUS_FAILED_CHANNEL } from '../../core/kernel/constants';
import { ConfigError } from '../../core/kernel/errors';
import type { HubConfig } from '../../core/kernel/config';
import { InProcessAdapter } from './in-process-adapter';
import { JetStreamAdapter } from './jetstream-adapter';

/** Deliveries of a message to a consumer group after the first, before it goes to the failed channel. */
const MAX_RETRIES = 5;

/**
 * The channels middleware of a hub node, and of any service that consumes the hub's channels
 * (give it the hub's configuration: same transporter, same stream limits): in-process when there
 * is no transporter (embedded mode), NATS JetStream on the transporter's NATS server otherwise.
 * Channel names are prefixed with the Moleculer namespace, so hubs sharing a NATS server keep apart.
 */
export function busMiddleware(config: Pick<HubConfig, 'transporter' | 'outbox'>): BrokerMiddleware {
  const deadLettering = { enabled: true, queueName: BUS_FAILED_CHANNEL };
  let adapter;
  if (!config.transporter) {
    adapter = new InProcessAdapter({ maxRetries: MAX_RETRIES, maxInFlight: 1, deadLettering });
  } else if (/^nats:\/\//i.test(config.transporter)) {
    adapter = new JetStreamAdapter({ url: config.transporter, limits: config.outbox.stream, channels: Object.values(CHANNELS), maxRetries: MAX_RETRIES, deadLettering });
  } else {
    throw new ConfigError(`the bus runs on NATS JetStream in cluster mode: HUB_TRANSPORTER must be a nats:// URL, not ${JSON.stringify(config.transporter)}`, { field: 'transporter', value: config.transporter });
  }
  // The package's option types require every option; the rest keep their defaults (sendToChannel…).
  return Middleware({ adapter, context: false } as unknown as Parameters<typeof Middleware>[0]) as unknown as BrokerMiddleware;
}

/** The channel adapter a broker's bus middleware runs on. */
export function busAdapter(broker: ServiceBroker): InProcessAdapter | JetStreamAdapter {
  const adapter = (broker as unknown as { channelAdapter?: InProcessAdapter | JetStreamAdapter }).channelAdapter;
  if (!adapter) throw new ConfigError('this broker has no bus: create it with busMiddleware');
  return adapter;
}

/**
 * The node is stopping: the in-process bus no longer waits out a failing consumer's backoff before
 * its outbox dispatcher may stop (InProcessAdapter.cutRetries). A stream's consumers need nothing of
 * the kind: a publish there waits for no consumer.
 */
export function cutBusRetries(broker: ServiceBroker): void {
  const adapter = busAdapter(broker);
  if (adapter instanceof InProcessAdapter) adapter.cutRetries();
}
