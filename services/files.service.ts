import { ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import { listFileDrops, FileOutcome } from './intake/file-drops';
import { decodeCursor, encodeCursor } from '../core/kernel/list-cursor';

/** Files taken from drop folders, for operators: outcome, counts and why a file was refused as a whole. */
export function filesService(hub: HubContext): ServiceSchema {
  return {
    name: 'files',
    actions: {
      list: {
        role: 'operator',
        params: {
          adapter: { type: 'string', optional: true },
          outcome: { type: 'enum', values: ['in-progress', 'processed', 'failed', 'duplicate'], optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 500, optional: true, convert: true },
          cursor: { type: 'string', optional: true },
        },
        async handler(ctx: Context<{ adapter?: string; outcome?: FileOutcome; limit?: number; cursor?: string }>) {
          const p = ctx.params;
          const { rows, more } = await listFileDrops(hub.store.driver, { adapter: p.adapter, outcome: p.outcome, limit: p.limit ?? 50, cursor: p.cursor ? decodeCursor(p.cursor) : null });
          const last = rows[rows.length - 1];
          return { items: rows, nextCursor: more && last ? encodeCursor({ time: last.claimedAt, key: last.id }) : null };
        },
      },
    },
  };
}
