import { Errors, ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import type { CallerMeta } from './cases.service';
import { replayDeadLetter } from './intake/replay';
import { maskPersonalData } from '../core/kernel/personal-data';

/** Dead letters for operators: what failed and why, and replay through the current profile. */
export function deadLettersService(hub: HubContext): ServiceSchema {
  return {
    name: 'dead-letters',
    actions: {
      list: {
        role: 'operator',
        params: {
          adapter: { type: 'string', optional: true },
          state: { type: 'enum', values: ['open', 'resolved', 'all'], optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 500, optional: true, convert: true },
          cursor: { type: 'string', optional: true, pattern: /^\d+$/ },
        },
        async handler(ctx: Context<{ adapter?: string; state?: 'open' | 'resolved' | 'all'; limit?: number; cursor?: string }, CallerMeta>) {
          const p = ctx.params;
          const { rows, last, more } = await hub.store.deadLetters.list({ adapter: p.adapter, state: p.state, limit: p.limit ?? 50, after: p.cursor ? Number(p.cursor) : undefined });
          const personal = ctx.meta.user?.personalData === true;
          if (personal && rows.length) await hub.store.audit.append({ actor: ctx.meta.user!.name, action: 'dead-letters.viewed-unmasked', target: p.adapter ?? 'all', detail: { ids: rows.map((d) => d.id) } });
          return {
            items: rows.map((d) => {
              const item = { id: d.id, adapter: d.adapter, rawMessageId: d.rawMessageId, record: d.recordIndex, reason: d.reason, rule: d.rule, field: d.field, value: d.value, receivedAt: d.receivedAt, replays: d.replays, resolvedAt: d.resolvedAt };
              return personal ? item : maskPersonalData(item);
            }),
            nextCursor: more && last !== null ? String(last) : null,
          };
        },
      },
      replay: {
        role: 'operator',
        params: { id: 'string', dryRun: { type: 'boolean', optional: true, convert: true } },
        async handler(ctx: Context<{ id: string; dryRun?: boolean }, CallerMeta>) {
          const outcome = await replayDeadLetter(hub, ctx.params.id, { dryRun: ctx.params.dryRun === true });
          if (!outcome) throw new Errors.MoleculerClientError(`no dead letter ${ctx.params.id}`, 404, 'dead-letter-not-found');
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'dead-letter.replayed', target: ctx.params.id, detail: { dryRun: ctx.params.dryRun === true, result: (outcome as { result?: unknown }).result ?? null } });
          // The refused value and the event it became are personal data like the dead letter itself.
          return ctx.meta.user?.personalData === true ? outcome : maskPersonalData(outcome);
        },
      },
    },
  };
}
