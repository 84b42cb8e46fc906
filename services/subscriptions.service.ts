import { Errors, ServiceSchema, Context, Service } from 'moleculer';
import { appliedAtOf } from './outbox/broker-channels';
import type { CaseEvent, Subscription, SubscriptionInput } from '../contracts/types';
import { validateSubscriptionInput } from '../contracts/validate';
import type { HubContext } from './context';
import type { CallerMeta } from './cases.service';
import { deadJobActions } from './dead-jobs';
import { CHANNELS } from '../core/kernel/constants';
import type { AlertItem } from './supervisor/supervision-store';
import { MAX_BATCH, Outbound, outboundQueue } from './subscriptions/outbound';
import { SubscriptionRecord, SubscriptionStore } from './subscriptions/subscription-store';

/**
 * Changes the outbound service takes from the bus at once: as many as it queues in one batch (one
 * statement per subscription), so that a dispatcher's round of the default size is queued in one
 * batch rather than three.
 */
const IN_FLIGHT = MAX_BATCH;

/** The Moleculer event by which a node that changed the subscriptions tells every node (each reads them again). */
export const SUBSCRIPTIONS_CHANGED = 'subscriptions.changed';

interface StatusMeta extends CallerMeta {
  $statusCode?: number;
  $location?: string;
}

/** A subscription as the API answers it: never its secret. */
function view(s: SubscriptionRecord): Subscription {
  return { id: s.id, url: s.url, keyId: s.keyId, filter: s.filter, personalData: s.personalData, ratePerSecond: s.ratePerSecond, origin: s.origin, createdAt: s.createdAt };
}

function notFound(id: string): Error {
  return new Errors.MoleculerClientError(`no subscription ${id}`, 404, 'subscription-not-found', { id });
}

/**
 * Outbound subscriptions (services/subscriptions/): every applied event, light change and violation
 * queued for each subscription whose filter takes it, durably before the bus lets it go, and
 * delivered to the subscriber as a signed CloudEvent, in order per case, with retries, outbound
 * dead letters and replay. Subscriptions come from the configuration, or from the API (kept in the
 * store, their secrets sealed); a change made on one node reaches every node.
 */
export function subscriptionsService(hub: HubContext): ServiceSchema {
  const logger = hub.logger.child({ component: 'subscriptions' });
  const store = new SubscriptionStore(hub.store.driver, hub.store.keys);
  const outbound = new Outbound({ config: hub.config.outbound, configured: hub.config.subscriptions, store, jobs: hub.jobs, keys: hub.store.keys, metrics: hub.metrics, logger });
  let reloadTimer: NodeJS.Timeout | null = null;
  const reload = () => outbound.reload().catch((err) => logger.error({ err: (err as Error)?.message }, 'the subscriptions could not be read: the last ones read stay in force'));
  const known = (id: string): SubscriptionRecord => {
    const s = outbound.get(id);
    if (!s) throw notFound(id);
    return s;
  };
  const channel = (take: (message: any, appliedAt: Date | null) => Promise<number>) => ({
    // One consumer group: a hub of several nodes queues each change once (and the queue's keys make a second queuing of it nothing).
    group: 'outbound',
    maxInFlight: IN_FLIGHT,
    async handler(this: Service, message: unknown, raw: unknown) {
      // Resolves once the deliveries are durably queued: only then may the bus let the change go.
      await take(message, appliedAtOf(this.broker, raw));
    },
  });
  return {
    name: 'subscriptions',
    channels: {
      [CHANNELS.eventApplied]: channel((event: CaseEvent, appliedAt) => outbound.take({ kind: 'applied', event, appliedAt })),
      [CHANNELS.lightChanged]: channel((alert: AlertItem) => outbound.take({ kind: 'alert', alert })),
      [CHANNELS.violationRaised]: channel((alert: AlertItem) => outbound.take({ kind: 'alert', alert })),
    },
    events: {
      [SUBSCRIPTIONS_CHANGED]: {
        handler() {
          void reload();
        },
      },
    },
    actions: {
      list: {
        role: 'operator',
        handler() {
          return { items: outbound.list().map(view) };
        },
      },
      create: {
        role: 'operator',
        async handler(ctx: Context<Record<string, unknown>, StatusMeta>) {
          const problem = validateSubscriptionInput(ctx.params);
          if (problem) throw new Errors.MoleculerClientError(`invalid subscription: ${problem.message}`, 400, 'invalid-subscription', { field: problem.field });
          const input = ctx.params as unknown as SubscriptionInput;
          if (input.personalData && ctx.meta.user?.personalData !== true) {
            throw new Errors.MoleculerClientError('a subscription with personal data needs a token with the personal data grant', 403, 'forbidden', { field: 'personalData' });
          }
          const id = input.id ?? `sub-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
          if (outbound.configured(id)) throw new Errors.MoleculerClientError(`subscription ${id} is one of the configuration`, 409, 'subscription-exists', { id });
          const record = { id, url: input.url, keyId: input.keyId ?? id, secret: input.secret, filter: input.filter ?? {}, personalData: input.personalData === true, ratePerSecond: input.ratePerSecond ?? 0 };
          if (!(await store.create(record, ctx.meta.user?.name ?? null))) throw new Errors.MoleculerClientError(`subscription ${id} exists`, 409, 'subscription-exists', { id });
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'subscription.created', target: id, detail: { url: record.url, filter: record.filter, personalData: record.personalData, ratePerSecond: record.ratePerSecond } });
          await outbound.reload();
          await ctx.broadcast(SUBSCRIPTIONS_CHANGED, { id });
          ctx.meta.$statusCode = 201;
          ctx.meta.$location = `/api/v1/subscriptions/${encodeURIComponent(id)}`;
          return view(known(id));
        },
      },
      remove: {
        role: 'operator',
        params: { id: 'string' },
        async handler(ctx: Context<{ id: string }, StatusMeta>) {
          const { id } = ctx.params;
          if (outbound.configured(id)) throw new Errors.MoleculerClientError(`subscription ${id} is one of the configuration: remove it there`, 409, 'subscription-in-configuration', { id });
          if (!(await store.remove(id))) throw notFound(id);
          await outbound.reload();
          await ctx.broadcast(SUBSCRIPTIONS_CHANGED, { id });
          // Its deliveries not yet taken go with it: nobody is left to take them.
          const dropped = await hub.jobs.purge(outboundQueue(id));
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'subscription.deleted', target: id, detail: { dropped } });
          ctx.meta.$statusCode = 204;
          return null;
        },
      },
      status: {
        role: 'operator',
        params: { id: 'string' },
        async handler(ctx: Context<{ id: string }>) {
          known(ctx.params.id);
          return outbound.status(ctx.params.id);
        },
      },
      // Outbound dead letters, and their replay with the later events of their cases.
      ...deadJobActions<{ id: string }>(hub, {
        params: { id: 'string' },
        queue: ({ id }) => (known(id), outboundQueue(id)),
        audit: { action: 'subscription.replayed', target: ({ id }) => id },
        logger,
      }),
    },
    async started() {
      await outbound.reload();
      await outbound.start();
      reloadTimer = setInterval(() => void reload(), hub.config.outbound.reloadSeconds * 1000);
      reloadTimer.unref();
      logger.info({ subscriptions: outbound.list().map((s) => ({ id: s.id, origin: s.origin, personalData: s.personalData })) }, 'outbound subscriptions started');
    },
    async stopped() {
      if (reloadTimer) clearInterval(reloadTimer);
      await outbound.stop();
    },
  };
}
