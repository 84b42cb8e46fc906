import type { Server } from 'node:http';
import { Errors, ServiceSchema, Context, ServiceBroker } from 'moleculer';
import type { HubContext } from './context';
import type { HubConfig } from '../core/kernel/config';
import type { CallerMeta } from './cases.service';
import { parseSupervisionCode } from '../core/identifiers/supervision-code';
import { checkDateRange, DATE } from './date-range';
import { decodeCursor, encodeCursor } from '../core/kernel/list-cursor';
import { EvaluationStore, EvaluationRow, FollowUpFilter } from './evaluations/evaluation-store';
import { Evaluations, RATING_LABELS } from './evaluations/evaluations';
import { SEALED_EVALUATION } from './evaluations/sealed-columns';
import { evaluationPage, errorPage, COMMENT_MAX, PAGE_HEADERS, PAGE_TYPE } from './evaluations/page';

/** What an action of the public page sets for moleculer-web besides the caller. */
interface PageMeta extends CallerMeta {
  $statusCode?: number;
  $responseType?: string;
  $responseHeaders?: Record<string, string>;
  $location?: string;
}

const NOTE_MAX = 2000;

/** The hub's own HTTP address: the gateway's port on this node when it listens (port 0 in tests), else the configured one. */
function ownAddress(broker: ServiceBroker | null, config: HubConfig): string {
  const gateway = broker?.getLocalService('gateway') as unknown as { server?: Server } | undefined;
  const address = gateway?.server?.address();
  const port = address && typeof address === 'object' ? address.port : config.http.port;
  const host = config.http.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** An HTML answer of the page's route. */
function html(ctx: Context<unknown, PageMeta>, status: number, body: string): string {
  ctx.meta.$statusCode = status;
  ctx.meta.$responseType = PAGE_TYPE;
  ctx.meta.$responseHeaders = { ...PAGE_HEADERS };
  return body;
}

/**
 * Evaluations (好差评): the link the SMS notifier sends for a finished case (`link`), the public page
 * and its answer, the department's follow-up of a bad rating, the list, the statistics, and the
 * sweep that raises an alert for each follow-up left open past its due time.
 */
export function evaluationsService(hub: HubContext): ServiceSchema {
  let broker: ServiceBroker | null = null;
  const evaluations = new Evaluations({
    store: new EvaluationStore(hub.store.driver),
    keys: hub.store.keys,
    config: hub.config.evaluations,
    years: hub.supervision.years,
    clock: hub.clock,
    baseUrl: () => hub.config.evaluations.publicBaseUrl ?? ownAddress(broker, hub.config),
    leases: hub.store.leases,
    metrics: hub.metrics,
    logger: hub.logger.child({ component: 'evaluations' }),
  });

  /** What the applicant is answered: the evaluation of their case, the comment masked like everywhere else. */
  const publicView = (row: EvaluationRow) => ({
    supervisionCode: row.supervisionCode,
    department: { ...row.department, ...(row.hall ? { hall: row.hall } : {}) },
    item: row.item,
    rating: row.rating,
    ratingLabel: RATING_LABELS[row.rating],
    comment: evaluations.maskedText(row.comment, SEALED_EVALUATION.comment),
    submittedAt: row.submittedAt,
    followUpDueAt: row.followUp?.dueAt ?? null,
  });

  return {
    name: 'evaluations',
    actions: {
      /** For the SMS notifier, on COMPLETED or REJECTED: the case's link for its applicant, the same on every call. */
      link: {
        visibility: 'public',
        params: { supervisionCode: 'string' },
        async handler(ctx: Context<{ supervisionCode: string }>) {
          const parsed = parseSupervisionCode(ctx.params.supervisionCode);
          if (!parsed.ok) throw new Errors.MoleculerClientError(`malformed supervision code: ${parsed.message}`, 400, 'bad-supervision-code', { field: 'supervisionCode', rule: parsed.rule });
          return evaluations.link(parsed.value.code);
        },
      },
      /** GET /e/{token}: the page; an unknown or expired link answers a friendly 404 page. */
      page: {
        params: { token: 'string' },
        async handler(ctx: Context<{ token: string }, PageMeta>) {
          let opened: Awaited<ReturnType<Evaluations['open']>>;
          try {
            opened = await evaluations.open(ctx.params.token);
          } catch (err) {
            if ((err as { code?: number }).code === 404) return html(ctx, 404, errorPage(404));
            throw err;
          }
          return html(ctx, 200, evaluationPage(ctx.params.token, opened.facts, opened.evaluation));
        },
      },
      /** POST /e/{token}: the page's form posted without script (form-urlencoded); answers a page. */
      pageSubmit: {
        params: { token: 'string', rating: { type: 'any', optional: true }, comment: { type: 'any', optional: true } },
        async handler(ctx: Context<{ token: string; rating?: unknown; comment?: unknown }, PageMeta>) {
          const { token } = ctx.params;
          const comment = typeof ctx.params.comment === 'string' ? ctx.params.comment : '';
          const rating = typeof ctx.params.rating === 'string' && /^[1-5]$/.test(ctx.params.rating) ? Number(ctx.params.rating) : null;
          let opened: Awaited<ReturnType<Evaluations['open']>>;
          try {
            opened = await evaluations.open(token);
          } catch (err) {
            if ((err as { code?: number }).code === 404) return html(ctx, 404, errorPage(404));
            throw err;
          }
          const again = (status: number, error: string) => html(ctx, status, evaluationPage(token, opened.facts, null, { error, rating: rating ?? undefined, comment }));
          if (opened.evaluation) return html(ctx, 409, evaluationPage(token, opened.facts, opened.evaluation));
          if (rating === null) return again(400, '请选择一项评价 (choose a rating from 1 to 5)');
          if (comment.length > COMMENT_MAX) return again(400, `意见或建议最多 ${COMMENT_MAX} 字 (the comment is longer than ${COMMENT_MAX} characters)`);
          try {
            const row = await evaluations.submit(token, rating, comment);
            ctx.meta.$location = token;
            return html(ctx, 201, evaluationPage(token, opened.facts, row, { thanks: true }));
          } catch (err) {
            const code = (err as { code?: number }).code;
            if (code === 409) return html(ctx, 409, evaluationPage(token, opened.facts, await evaluations.open(token).then((o) => o.evaluation, () => null)));
            if (code === 404) return html(ctx, 404, errorPage(404));
            throw err;
          }
        },
      },
      /** POST /api/v1/public/evaluations/{token} `{rating, comment?}`: 201; a second answer 409; an unknown or expired link 404. */
      submit: {
        params: {
          token: 'string',
          rating: { type: 'number', integer: true, min: 1, max: 5 },
          comment: { type: 'string', max: COMMENT_MAX, optional: true },
        },
        async handler(ctx: Context<{ token: string; rating: number; comment?: string }, PageMeta>) {
          const row = await evaluations.submit(ctx.params.token, ctx.params.rating, ctx.params.comment);
          ctx.meta.$statusCode = 201;
          ctx.meta.$location = `${hub.config.evaluations.publicBaseUrl ?? ownAddress(broker, hub.config)}/e/${ctx.params.token}`;
          return publicView(row);
        },
      },
      /** GET /api/v1/evaluations: newest first, a department's (or hall's), by follow-up state; scoped to the caller's departments. */
      list: {
        role: ['supervisor', 'department'],
        params: {
          department: { type: 'string', optional: true },
          followUp: { type: 'enum', values: ['open', 'late', 'done'], optional: true },
          limit: { type: 'number', integer: true, min: 1, max: 200, optional: true, convert: true },
          cursor: { type: 'string', optional: true },
        },
        async handler(ctx: Context<{ department?: string; followUp?: FollowUpFilter; limit?: number; cursor?: string }, CallerMeta>) {
          const p = ctx.params;
          const { rows, more } = await evaluations.list({
            department: p.department, followUp: p.followUp, scope: ctx.meta.user?.departments,
            cursor: p.cursor ? decodeCursor(p.cursor) : null, limit: p.limit ?? 50,
          });
          const last = rows[rows.length - 1];
          return { items: rows.map((r) => evaluations.item(r)), nextCursor: more && last ? encodeCursor({ time: last.submittedAtUs, key: last.id }) : null };
        },
      },
      /** POST /api/v1/evaluations/{id}/follow-up `{note}`: the department closes the follow-up of a bad rating. */
      followUp: {
        role: 'department',
        params: { id: 'string', note: { type: 'string', min: 1, max: NOTE_MAX } },
        async handler(ctx: Context<{ id: string; note: string }, CallerMeta>) {
          const user = ctx.meta.user;
          const row = await evaluations.closeFollowUp(ctx.params.id, ctx.params.note, { name: user?.name ?? 'unknown', departments: user?.departments });
          return evaluations.item(row);
        },
      },
      /**
       * Per department, for the supervisor's GET /api/v1/stats/departments: evaluations, satisfaction
       * rate, bad ratings and follow-ups, over evaluation dates (Beijing) in [from, to], within the
       * caller's departments (ctx.meta.user, passed on by the calling action).
       */
      stats: {
        visibility: 'public',
        params: {
          from: { type: 'string', pattern: DATE, optional: true },
          to: { type: 'string', pattern: DATE, optional: true },
        },
        async handler(ctx: Context<{ from?: string; to?: string }, CallerMeta>) {
          const { from, to } = ctx.params;
          checkDateRange(from, to);
          return { departments: await evaluations.stats({ from, to, scope: ctx.meta.user?.departments }) };
        },
      },
      /** Sweeps now, on this node, whoever holds the lease: raises the alerts of the follow-ups overdue by the hub's clock. */
      sweep: {
        visibility: 'public',
        async handler() {
          return { raised: await evaluations.sweep() };
        },
      },
    },
    started() {
      broker = this.broker;
      evaluations.start();
    },
    async stopped() {
      await evaluations.stop();
    },
  };
}
