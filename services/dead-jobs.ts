import type { ActionSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import type { CallerMeta } from './cases.service';
import type { Logger } from '../core/kernel/logger';

/**
 * The operator's actions on the work a service gives up through the jobs port (SMS notifications,
 * a subscription's deliveries): `dead` lists the jobs given up, most recent first, each reason's
 * personal data masked; `replay` makes them all, or those of `keys`, due again as new, under the
 * same keys (the target drops one it took already), records who did it in the audit log, and logs
 * it. `queue` names the queue from the call's own parameters (`params`), and may refuse it.
 */
export function deadJobActions<P extends object>(hub: HubContext, of: {
  params: Record<string, unknown>;
  queue(params: P): string;
  audit: { action: string; target(params: P): string };
  logger: Logger;
}): { dead: ActionSchema; replay: ActionSchema } {
  return {
    dead: {
      role: 'operator',
      params: { ...of.params, limit: { type: 'number', integer: true, min: 1, max: 1000, optional: true, convert: true } },
      async handler(ctx: Context<P & { limit?: number }>) {
        return { items: await hub.jobs.dead(of.queue(ctx.params), ctx.params.limit ?? 100) };
      },
    },
    replay: {
      role: 'operator',
      params: { ...of.params, keys: { type: 'array', items: { type: 'string', max: 200 }, max: 10000, optional: true } },
      async handler(ctx: Context<P & { keys?: string[] }, CallerMeta>) {
        const replayed = await hub.jobs.replay(of.queue(ctx.params), ctx.params.keys);
        const target = of.audit.target(ctx.params);
        await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: of.audit.action, target, detail: { keys: ctx.params.keys ?? 'all', replayed } });
        of.logger.info({ action: of.audit.action, target, replayed, keys: ctx.params.keys?.length ?? 'all' }, 'jobs given up are due again');
        return { replayed };
      },
    },
  };
}
