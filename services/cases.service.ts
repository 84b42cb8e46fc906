import { Errors, ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { toCaseView, toPublicView } from './cases/case-view';
import { CANONICAL_STATUSES } from '../core/kernel/constants';
import { decodeCursor, encodeCursor } from '../core/kernel/list-cursor';

export interface CallerMeta {
  user?: { name: string; roles: string[]; personalData: boolean };
}

/** Finds the case for a code, answering 400 for a malformed code and 404 for an unknown one. */
async function findCase(hub: HubContext, code: string) {
  const parsed = parseSupervisionCode(code);
  if (!parsed.ok) throw new Errors.MoleculerClientError(`malformed supervision code: ${parsed.message}`, 400, 'bad-supervision-code', { field: 'code', rule: parsed.rule });
  const row = await hub.store.cases.get(parsed.value.code);
  if (!row) throw new Errors.MoleculerClientError(`no case with supervision code ${parsed.value.code}`, 404, 'case-not-found', { code: parsed.value.code });
  return row;
}

/** The case store's read side: the supervisor's case view, lists, lookups and the public view. */
export function casesService(hub: HubContext): ServiceSchema {
  return {
    name: 'cases',
    actions: {
      get: {
        role: 'supervisor',
        params: { code: 'string' },
        async handler(ctx: Context<{ code: string }, CallerMeta>) {
          return toCaseView(await findCase(hub, ctx.params.code), ctx.meta.user?.personalData === true);
        },
      },
      public: {
        params: { code: 'string' },
        async handler(ctx: Context<{ code: string }>) {
          return toPublicView(await findCase(hub, ctx.params.code));
        },
      },
      lookup: {
        role: 'supervisor',
        params: { system: 'string', localId: 'string' },
        async handler(ctx: Context<{ system: string; localId: string }>) {
          const code = await hub.store.cases.lookup(ctx.params.system, ctx.params.localId);
          if (!code) throw new Errors.MoleculerClientError(`no case ${ctx.params.localId} from ${ctx.params.system}`, 404, 'case-not-found');
          return { supervisionCode: code };
        },
      },
      list: {
        role: 'supervisor',
        params: {
          department: { type: 'string', optional: true },
          status: { type: 'enum', values: [...CANONICAL_STATUSES], optional: true },
          light: { type: 'enum', values: ['GREEN', 'YELLOW', 'RED'], optional: true },
          item: { type: 'string', optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 200, optional: true, convert: true },
          cursor: { type: 'string', optional: true },
        },
        async handler(ctx: Context<{ department?: string; status?: string; light?: string; item?: string; limit?: number; cursor?: string }>) {
          const p = ctx.params;
          const { rows, more } = await hub.store.cases.list({ ...p, limit: p.limit ?? 50, cursor: p.cursor ? decodeCursor(p.cursor) : null });
          const last = rows[rows.length - 1];
          return {
            items: rows.map(({ firstSeen, ...r }) => r),
            nextCursor: more && last ? encodeCursor({ time: last.firstSeen, key: last.supervisionCode }) : null,
          };
        },
      },
      stats: {
        role: 'supervisor',
        async handler() {
          return { departments: await hub.store.cases.departmentStats() };
        },
      },
    },
  };
}
