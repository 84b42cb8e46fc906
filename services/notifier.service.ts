import type { ServiceBroker, ServiceSchema } from 'moleculer';
import type { CaseEvent } from '../contracts/types';
import type { HubContext } from './context';
import { deadJobActions } from './dead-jobs';
import { CHANNELS, SMS_QUEUE } from '../core/kernel/constants';
import { Notifier, EvaluationLink } from './notifier/notifier';
import { SmsGatewayClient } from './notifier/sms-gateway-client';

/** Events the notifier takes from the bus at once: queuing one is one insert. */
const IN_FLIGHT = 50;

/** The evaluations service's action that answers a finished case's evaluation link. */
const LINK_ACTION = 'evaluations.link';

/** How long the evaluations service may take to answer a link before the SMS is tried again later. */
const LINK_TIMEOUT_MS = 10_000;

/**
 * The SMS notifier service: consumes every applied event from the bus and queues, once per case and
 * status, the SMS its applicant is due (departments/sms-gateway/SPEC.md), then delivers the queue to
 * the city's SMS gateway at its pace. Without a notifier section (or with enabled: false) it idles.
 */
export function notifierService(hub: HubContext): ServiceSchema {
  const config = hub.config.notifier;
  const logger = hub.logger.child({ component: 'notifier' });
  // The notifications given up, for an operator (GET/POST /api/v1/notifications/dead-letters): also on
  // a hub whose notifier is off now, which may hold those of when it was on.
  const actions = deadJobActions<object>(hub, { params: {}, queue: () => SMS_QUEUE, audit: { action: 'notification.replayed', target: () => SMS_QUEUE }, logger });
  if (!config?.enabled) {
    return {
      name: 'notifier',
      actions,
      started() {
        logger.info(config ? 'notifier.enabled is false: no SMS is sent' : 'no notifier section in the configuration: no SMS is sent');
      },
    };
  }
  let broker: ServiceBroker | null = null;
  const notifier = new Notifier({
    config,
    jobs: hub.jobs,
    gateway: new SmsGatewayClient(config.gateway),
    link: async (supervisionCode) => {
      if (!broker) throw new Error('the notifier is not started');
      // Asked first, rather than called and refused: the broker would log every refused call.
      if (!broker.registry.actions.isAvailable(LINK_ACTION)) throw new Error(`no node of this hub runs ${LINK_ACTION}`);
      return broker.call<EvaluationLink, { supervisionCode: string }>(LINK_ACTION, { supervisionCode }, { timeout: LINK_TIMEOUT_MS });
    },
    keys: hub.store.keys,
    metrics: hub.metrics,
    logger,
  });
  return {
    name: 'notifier',
    channels: {
      [CHANNELS.eventApplied]: {
        // One consumer group: a notifier scaled to several nodes queues each event once (and the
        // queue's keys make a second queuing of it nothing).
        group: 'notifier',
        maxInFlight: IN_FLIGHT,
        async handler(event: CaseEvent) {
          // Resolves once the notification is durably queued: only then may the bus let the event go.
          await notifier.take(event);
        },
      },
    },
    actions,
    started() {
      broker = this.broker;
      notifier.start();
      logger.info({ gateway: config.gateway.url, ratePerSecond: config.ratePerSecond, statuses: config.statuses, items: Object.keys(config.items) }, 'notifier started: SMS to applicants');
    },
    async stopped() {
      await notifier.stop();
    },
  };
}
