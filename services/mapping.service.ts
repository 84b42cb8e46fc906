import { ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './hub/context';

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
        handler(ctx: Context<{ adapter?: string }>) {
          return { profiles: hub.profiles.reload(ctx.params.adapter) };
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
    started() {
      hub.profiles.watch();
    },
    stopped() {
      hub.profiles.close();
    },
  };
}
