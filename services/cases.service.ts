import { Errors, ServiceSchema, Context } from 'moleculer';
import type { HubContext } from './context';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { toCaseView, toPublicView } from './cases/case-view';
import { CANONICAL_STATUSES } from '../core/kernel/constants';
import { decodeCursor, encodeCursor } from '../core/kernel/list-cursor';

export interface CallerMeta {
  /** departments: the canonical departments the caller's token is limited to (none: every one). */
  user?: { name: string; roles: string[]; personalData: boolean; departments?: string[] };
}

function notFound(code: string): Error {
  return new Errors.MoleculerClientError(`no case with supervision code ${code}`, 404, 'case-not-found', { code });
}

/**
 * Finds the case for a code, answering 400 for a malformed code and 404 for an unknown one, or for
 * one of a department outside the caller's: its existence does not leak.
 */
async function findCase(hub: HubContext, code: string, scope?: readonly string[]) {
  const parsed = parseSupervisionCode(code);
  if (!parsed.ok) throw new Errors.MoleculerClientError(`malformed supervision code: ${parsed.message}`, 400, 'bad-supervision-code', { field: 'code', rule: parsed.rule });
  const row = await hub.store.cases.read(parsed.value.code);
  if (!row || (scope && !scope.includes(row.projection.department.code))) throw notFound(parsed.value.code);
  return row;
}

/** The most cases one reprojection request recomputes: one transaction, holding their locks. */
export const REPROJECT_MAX_BATCH = 1000;

interface ReprojectParams {
  codes?: string[];
  all?: boolean;
  after?: string;
  limit?: number;
  count?: boolean;
}

/**
 * One batch of `POST /cases/reproject`: every case (`all`, keyset by supervision code from `after`,
 * `limit` at a time) or the cases named (`codes`, all in this batch). `count` adds where the run
 * stands: the cases in scope and how many of them this batch and those before it covered.
 */
async function reprojectBatch(hub: HubContext, ctx: Context<ReprojectParams>) {
  const p = ctx.params;
  if (!!p.codes === !!p.all) throw new Errors.MoleculerClientError('name the cases to reproject: either codes or all', 400, 'bad-scope', { field: p.codes ? 'all' : 'codes' });
  if (p.codes && (p.after !== undefined || p.limit !== undefined)) {
    throw new Errors.MoleculerClientError('after and limit page through all cases; named codes are reprojected in one batch', 400, 'bad-scope', { field: p.after !== undefined ? 'after' : 'limit' });
  }
  const codeOf = (value: string, field: string) => {
    const parsed = parseSupervisionCode(value);
    if (!parsed.ok) throw new Errors.MoleculerClientError(`malformed supervision code in ${field}: ${parsed.message}`, 400, 'bad-supervision-code', { field, value, rule: parsed.rule });
    return parsed.value.code;
  };
  const codes = p.codes ? [...new Set(p.codes.map((c, i) => codeOf(c, `codes[${i}]`)))] : undefined;
  const after = p.after !== undefined ? codeOf(p.after, 'after') : null;
  const started = Date.now();
  const batch = await hub.store.cases.reproject({ codes, after, limit: codes ? codes.length : p.limit ?? 200 });
  const last = batch.codes[batch.codes.length - 1] ?? after;
  const found = new Set(batch.codes);
  if (batch.changed.length) hub.logger.info({ reprojected: batch.codes.length, changed: batch.changed, after, ms: Date.now() - started }, 'case projections rebuilt');
  // The supervision of these cases is recomputed with them (a rule, the calendar or a threshold may
  // be what changed), by the supervisor wherever it runs.
  let supervised = false;
  if (batch.codes.length) {
    try {
      await ctx.call('supervisor.supervise', { codes: batch.codes });
      supervised = true;
    } catch (err) {
      hub.logger.warn({ err: (err as Error).message, cases: batch.codes.length }, 'the supervisor did not recompute the reprojected cases; their lights follow at their next event or sweep');
    }
  }
  return {
    reprojected: batch.codes.length,
    changed: batch.changed,
    notFound: codes ? codes.filter((c) => !found.has(c)) : [],
    supervised,
    // The last case of this batch: a run stopped here goes on with after = nextCursor.
    nextCursor: batch.more ? last : null,
    ...(p.count ? { progress: codes ? { total: codes.length, done: codes.length } : await hub.store.cases.countUpTo(last) } : {}),
  };
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
          const row = await findCase(hub, ctx.params.code, ctx.meta.user?.departments);
          const unmasked = ctx.meta.user?.personalData === true;
          // Who saw an applicant's ID number and mobile in full is on record before they see it.
          if (unmasked) await hub.store.audit.append({ actor: ctx.meta.user!.name, action: 'case.viewed-unmasked', target: row.projection.supervisionCode });
          return toCaseView(row, unmasked);
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
        async handler(ctx: Context<{ system: string; localId: string }, CallerMeta>) {
          const code = await hub.store.cases.lookup(ctx.params.system, ctx.params.localId, ctx.meta.user?.departments);
          if (!code) throw new Errors.MoleculerClientError(`no case ${ctx.params.localId} from ${ctx.params.system}`, 404, 'case-not-found');
          return { supervisionCode: code };
        },
      },
      find: {
        role: 'supervisor',
        personalData: true,
        params: { idNumber: { type: 'string', min: 1, max: 64 } },
        /**
         * The cases of an applicant by ID number, in any spelling the normalisers accept, through the
         * keyed hash of it (the number itself is stored sealed). The number is personal data: only a
         * token with the personal data grant may ask, in a body (never a URL, which logs keep), and
         * each look-up is on record.
         */
        async handler(ctx: Context<{ idNumber: string }, CallerMeta>) {
          // The gateway lets only a token with the grant through (personalData above); a call from inside the cluster is checked too.
          if (ctx.meta.user?.personalData !== true) throw new Errors.MoleculerClientError('finding cases by ID number needs the personal data grant', 403, 'forbidden');
          const codes = await hub.store.cases.findByIdNumber(ctx.params.idNumber, ctx.meta.user.departments);
          await hub.store.audit.append({ actor: ctx.meta.user.name, action: 'cases.found-by-id-number', target: codes.join(',') || 'none' });
          return { supervisionCodes: codes };
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
        async handler(ctx: Context<{ department?: string; status?: string; light?: string; item?: string; limit?: number; cursor?: string }, CallerMeta>) {
          const p = ctx.params;
          const { rows, more } = await hub.store.cases.list({ ...p, scope: ctx.meta.user?.departments, limit: p.limit ?? 50, cursor: p.cursor ? decodeCursor(p.cursor) : null });
          const last = rows[rows.length - 1];
          return {
            items: rows.map(({ firstSeen, ...r }) => r),
            nextCursor: more && last ? encodeCursor({ time: last.firstSeen, key: last.supervisionCode }) : null,
          };
        },
      },
      reproject: {
        role: 'operator',
        params: {
          codes: { type: 'array', items: 'string', min: 1, max: REPROJECT_MAX_BATCH, optional: true },
          all: { type: 'boolean', optional: true },
          after: { type: 'string', optional: true },
          limit: { type: 'number', integer: true, min: 1, max: REPROJECT_MAX_BATCH, optional: true, convert: true },
          count: { type: 'boolean', optional: true },
        },
        async handler(ctx: Context<ReprojectParams, CallerMeta>) {
          const out = await reprojectBatch(hub, ctx);
          await hub.store.audit.append({ actor: ctx.meta.user?.name ?? 'unknown', action: 'cases.reprojected', target: ctx.params.all ? 'all' : 'codes', detail: { reprojected: out.reprojected, changed: out.changed.length, after: ctx.params.after ?? null } });
          return out;
        },
      },
    },
  };
}
