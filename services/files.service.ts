import { Errors, ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './hub/context';
import { listFileDrops, FileOutcome } from './intake/file-drops';

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
          return { items: rows, nextCursor: more && last ? encodeCursor(last.claimedAt, last.id) : null };
        },
      },
    },
  };
}

function encodeCursor(claimedAt: string, id: string): string {
  return Buffer.from(JSON.stringify([claimedAt, id])).toString('base64url');
}

function decodeCursor(cursor: string): { claimedAt: string; id: string } {
  try {
    const [claimedAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof claimedAt === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(claimedAt))) return { claimedAt, id };
  } catch {
    // falls through to the refusal below
  }
  throw new Errors.MoleculerClientError('cursor is not one this list gave', 400, 'invalid-cursor', { field: 'cursor', value: cursor });
}
