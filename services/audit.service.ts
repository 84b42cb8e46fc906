import type { ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';

/** The access log for the auditor: entries in order, each with its text exactly as hashed, so that anyone can check the chain. */
export function auditService(hub: HubContext): ServiceSchema {
  return {
    name: 'audit',
    actions: {
      list: {
        role: 'auditor',
        params: {
          after: { type: 'number', integer: true, min: 0, optional: true, convert: true },
          limit: { type: 'number', integer: true, min: 1, max: 1000, optional: true, convert: true },
        },
        async handler(ctx: Context<{ after?: number; limit?: number }>) {
          const { items, more } = await hub.store.audit.list(ctx.params.after ?? 0, ctx.params.limit ?? 200);
          return {
            items: items.map((e) => ({ ...e, entry: JSON.parse(e.body) })),
            nextCursor: more && items.length ? String(items[items.length - 1].seq) : null,
          };
        },
      },
    },
  };
}
