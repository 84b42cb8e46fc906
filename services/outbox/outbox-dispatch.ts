import type { HubContext } from '../context';
import { OutboxDispatcher } from './dispatcher';
import { CHANNELS } from '../../core/kernel/constants';
import type { AlertItem } from '../supervisor/supervision-store';

/** The job name of the dispatch lease (table job_leases). */
export const DISPATCH_LEASE = 'outbox:dispatch';

/**
 * Seconds a dispatcher holds the lease unless it renews it: how long the outbox may wait after the
 * node that published it dies, before another node takes over.
 */
const LEASE_SECONDS = 10;

/**
 * Starts publishing the outbox from this node, nudged by every commit of its store and polling for
 * the others' (or nothing, when the configuration turns dispatch off: the events then wait in the
 * outbox, and hub_queue_depth{queue="outbox"} shows how many). Start it once the bus is connected;
 * stop it before the bus stops.
 */
export function startDispatch(hub: HubContext): { stop(): Promise<void> } {
  const { config, store, logger } = hub;
  if (!config.outbox.dispatch) {
    logger.warn('outbox dispatch is off on this node: applied events wait in the outbox');
    return { stop: async () => undefined };
  }
  const dispatcher = new OutboxDispatcher({
    outbox: store.outbox,
    channels: hub.channels,
    lease: store.leases.lease(DISPATCH_LEASE, LEASE_SECONDS),
    leaseSeconds: LEASE_SECONDS,
    logger: logger.child({ component: 'outbox' }),
    options: { pollIntervalMs: config.outbox.pollIntervalMs, batchSize: config.outbox.batchSize },
    // The supervisor's alerts, stored with the change that raised them.
    messages: {
      unpublished: (limit) => store.supervision.unpublished(limit),
      markPublished: (ids) => store.supervision.markPublished(ids),
      channelOf: (m) => ((m as AlertItem).kind === 'LIGHT_CHANGED' ? CHANNELS.lightChanged : CHANNELS.violationRaised),
    },
  });
  const unsubscribe = store.onCommit(() => dispatcher.nudge());
  dispatcher.start();
  return {
    async stop() {
      unsubscribe();
      await dispatcher.stop();
    },
  };
}
