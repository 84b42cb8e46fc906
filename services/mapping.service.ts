import { ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import type { CallerMeta } from './cases.service';

/** The mapping profiles in force: versions, and reload without a restart. */
export function mappingService(hub: HubContext): ServiceSchema {
  return {
    name: 'mapping',
    actions: {
      profiles: {
        role: 'operator',
        handler() {
          return { profiles: hub.profiles.adapters().map((a) => ({ adapter: a, version: hub.profiles.get(a).version })) };
        },
      },
      reload: {
        role: 'operator',
        params: { adapter: { type: 'string', optional: true } },
        async handler(ctx: Context<{ adapter?: string }, CallerMeta>) {
          const profiles = hub.profiles.reload(ctx.params.adapter);
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'mapping.reloaded', target: ctx.params.adapter ?? 'all', detail: { profiles } });
          // Every node maps with its own copy of the profiles: tell the others too.
          await ctx.broadcast('profiles.reload', { adapter: ctx.params.adapter }, { groups: ['profiles'] });
          return { profiles };
        },
      },
      map: {
        // A dry run of one record through a profile (used by tooling); changes nothing.
        role: 'operator',
        params: { adapter: 'string', record: 'any', batch: { type: 'object', optional: true } },
        handler(ctx: Context<{ adapter: string; record: unknown; batch?: Record<string, unknown> }>) {
          return hub.profiles.get(ctx.params.adapter).mapRecord(ctx.params.record, { rawMessageId: 'dry-run', recordIndex: 0, batch: ctx.params.batch });
        },
      },
    },
  };
}

/** On every node: the node's profiles follow their files, and reload when an operator asks any node. */
export function profilesService(hub: HubContext): ServiceSchema {
  return {
    name: 'profiles',
    events: {
      'profiles.reload'(ctx: Context<{ adapter?: string }>) {
        if (ctx.nodeID === ctx.broker.nodeID) return;
        try {
          hub.profiles.reload(ctx.params.adapter);
        } catch (err) {
          hub.logger.error({ err: (err as Error).message }, 'mapping profile not reloaded; the previous one stays in force');
        }
      },
    },
    started() {
      hub.profiles.watch();
    },
    stopped() {
      hub.profiles.close();
    },
  };
}
