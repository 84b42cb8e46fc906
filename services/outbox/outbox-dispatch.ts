import type { Context, Service, ServiceSchema } from 'moleculer';
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
export function startDispatch(hub: HubContext, wake?: DispatchWake): { stop(): Promise<void> } {
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
  // A commit here nudges this node's dispatcher, and, when another node holds the lease, that one
  // too (a broadcast, coalesced to one per turn of the event loop): it would otherwise find the
  // events at its next poll, up to outbox.pollIntervalMs later.
  let told = false;
  const unsubscribe = store.onCommit(() => {
    dispatcher.nudge();
    if (!wake || dispatcher.holdsLease || told) return;
    told = true;
    setImmediate(() => { told = false; wake.tell(); });
  });
  if (wake) wake.listener = () => { if (dispatcher.holdsLease) dispatcher.nudge(); };
  dispatcher.start();
  return {
    async stop() {
      unsubscribe();
      if (wake) wake.listener = null;
      await dispatcher.stop();
    },
  };
}

/** The Moleculer event by which a node that committed events tells the dispatching node (not durable: the dispatcher polls besides). */
export const OUTBOX_COMMITTED_EVENT = 'outbox.committed';

/** How the nodes of a cluster nudge each other's dispatchers: `tell` broadcasts; `listener` is what a broadcast from another node calls here. */
export interface DispatchWake {
  tell(): void;
  listener: (() => void) | null;
}

/**
 * The service every node of a cluster runs beside its dispatcher: it hears the other nodes'
 * commits (OUTBOX_COMMITTED_EVENT) and hands them to `wake.listener`; `wake.tell` broadcasts this node's.
 */
export function dispatchWakeService(wake: DispatchWake): ServiceSchema {
  return {
    name: '$outbox-wake',
    events: {
      [OUTBOX_COMMITTED_EVENT](ctx: Context) {
        if (ctx.nodeID !== ctx.broker.nodeID) wake.listener?.();
      },
    },
    created(this: Service) {
      const broker = this.broker;
      wake.tell = () => { void broker.broadcast(OUTBOX_COMMITTED_EVENT, {}).catch(() => undefined); };
    },
  };
}
