import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import ApiGateway from 'moleculer-web';
import { Errors, ServiceSchema, Context, Service } from 'moleculer';
import type { HubContext } from './context';
import { sendProblem, sendJson } from '../core/kernel/http';
import { tokenHash, TokenConfig } from '../core/kernel/config';
import { timingSafeEqual } from 'node:crypto';
import { streamAlerts, endAlertStreams, wakeAlertStreams, AlertStreams } from './supervisor/alert-stream';
import { ALERTS_COMMITTED_EVENT } from '../core/kernel/constants';
import { errorPage, PAGE_HEADERS, PAGE_TYPE } from './evaluations/page';
import { serveConsoleIndex, serveConsoleAsset } from './console/console-assets';
import { serveStatusPage, lookupRedirect, sendHtml, renderLookupPage, PublicCase } from './console/status-page';
import { departmentCatalogue, whoAmI } from './console/who-am-i';
import { NodeReadiness, answerMetrics } from './readiness';
import { annotate, inSpan, tracingOn, SpanKind, SPAN_ATTRS } from '../core/kernel/tracing';
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE } from '@opentelemetry/semantic-conventions';

/** The caller a bearer token names, as services see it (ctx.meta.user). */
export function callerOf(token: TokenConfig): { name: string; roles: string[]; personalData: boolean; departments?: string[] } {
  return { name: token.name, roles: token.roles, personalData: token.personalData === true, ...(token.departments ? { departments: token.departments } : {}) };
}

type Req = IncomingMessage & { $action?: { name: string; role?: string | string[] }; $route?: unknown; $alias?: { action?: string }; $params?: Record<string, unknown>; $ctx?: Context<unknown, any> };

/**
 * The errors that say no node of the hub runs the service a route calls: moleculer-web's when no
 * node offers the action, moleculer's when the node that did left during the call.
 */
const NO_NODE_RUNS_IT = new Set(['ServiceUnavailableError', 'ServiceNotFoundError', 'ServiceNotAvailableError']);

const TYPE_BY_STATUS: Record<number, string> = { 400: 'bad-request', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 413: 'body-too-large', 422: 'invalid', 503: 'unavailable' };

/** Turns any error into RFC 9457 problem details; internal details stay in the log. */
function problemFor(hub: HubContext, req: IncomingMessage, res: ServerResponse, err: any): void {
  if (NO_NODE_RUNS_IT.has(err?.name)) {
    // The route exists; what answers it is missing for now (a node stopped or not started yet).
    const action = (req as Req).$alias?.action ?? err?.data?.action;
    const service = typeof action === 'string' && action.includes('.') ? action.slice(0, action.lastIndexOf('.')) : null;
    hub.logger.warn({ url: req.url, action: action ?? null }, 'no node runs the service this route calls');
    sendProblem(res, 503, 'unavailable', 'Service unavailable',
      `${service ? `no node of this hub runs the ${service} service now` : 'no node of this hub runs the service this route calls now'}; try again later`,
      service ? { service } : {}, { 'Retry-After': '5' });
    return;
  }
  let status = Number(err?.code) || 500;
  if (err?.name === 'ValidationError') status = 400;
  if (err?.name === 'NotFoundError') status = 404;
  if (status < 400 || status > 599) status = 500;
  if (status >= 500) hub.logger.error({ url: req.url, err: err?.message, stack: err?.stack }, 'request failed');
  const type = typeof err?.type === 'string' && err.type && status < 500 ? err.type.toLowerCase().replace(/_/g, '-') : TYPE_BY_STATUS[status] ?? 'internal';
  const detail = status < 500 ? (err?.name === 'ValidationError' ? (err.data || []).map((d: any) => d.message).join('; ') : err?.message) : 'internal error; see the hub log';
  sendProblem(res, status, type, status < 500 ? (err?.message ?? 'Request refused') : 'Internal error', detail, err?.data?.field ? { field: err.data.field } : {});
}

/**
 * The HTTP face of the hub: the department transports' endpoints, the supervisor and operator API
 * (bearer tokens with roles), the public case view, metrics and health.
 */
export function gatewayService(hub: HubContext): ServiceSchema {
  const tokens = hub.config.tokens;
  /**
   * The token of a request's Authorization header; throws 401 without one or for an unknown one,
   * 403 without the route's role. The presented token's hash is compared with every configured
   * hash in constant time, and all of them are compared whatever matches. An action may name
   * several roles: any one of them lets the token through.
   */
  const authenticate = (req: IncomingMessage, role: string | readonly string[] | undefined): TokenConfig => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    let token: TokenConfig | undefined;
    if (m) {
      const presented = tokenHash(m[1]);
      for (const t of tokens) if (timingSafeEqual(presented, t.hash) && !token) token = t;
    }
    if (!token) throw new Errors.MoleculerClientError(m ? 'unknown token' : 'a bearer token is required', 401, 'unauthorized');
    const roles = typeof role === 'string' ? [role] : role ?? [];
    if (roles.length && !roles.some((r) => token!.roles.includes(r as never))) throw new Errors.MoleculerClientError(`this route needs the ${roles.join(' or ')} role`, 403, 'forbidden');
    return token;
  };
  const visibleDepartments = departmentCatalogue(hub.config.registryFile, hub.config.catalogueFile);
  /** The connections readiness has open to Redis at this moment: closed when the gateway stops. */
  /** This node's readiness (its route and hub_ready), made when the service is created: it needs the broker. */
  let readiness: NodeReadiness | null = null;
  /** The alert streams open now: ended when the gateway stops, which would otherwise wait for their clients. */
  const alertStreams: AlertStreams = new Map();
  const transportAliases: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {};
  for (const { transport } of hub.adapters.values()) {
    for (const r of transport.httpRoutes()) {
      // Each request a department sends begins a trace of its own (core/kernel/tracing: nothing while tracing is off).
      transportAliases[`${r.method} ${r.path}`] = !tracingOn() ? (req, res) => { void r.handler(req, res); } : (req, res) => {
        void inSpan(`${r.method} ${r.path}`, {
          kind: SpanKind.SERVER,
          root: true,
          attributes: () => ({ [SPAN_ATTRS.adapter]: transport.adapterId, [ATTR_HTTP_REQUEST_METHOD]: r.method, [ATTR_HTTP_ROUTE]: r.path }),
        }, async (span) => {
          await r.handler(req, res);
          annotate(span, () => ({ [ATTR_HTTP_RESPONSE_STATUS_CODE]: res.statusCode }));
        });
      };
    }
  }
  return {
    name: 'gateway',
    mixins: [ApiGateway],
    settings: {
      port: hub.config.http.port,
      ip: hub.config.http.host,
      log4XXResponses: false,
      logRequest: null,
      logResponse: null,
      routes: [
        {
          // Department endpoints read their own bodies (signatures are over the raw bytes).
          path: '/',
          bodyParsers: false,
          mappingPolicy: 'restrict',
          aliases: {
            ...transportAliases,
            'GET /health/live': (_req: IncomingMessage, res: ServerResponse) => sendJson(res, 200, { status: 'ok' }),
            // Ready: every server this node depends on answers (the store; NATS in cluster mode; Redis
            // when HUB_QUEUE names one), and some node of the hub runs every service this node's routes call.
            'GET /health/ready': function ready(this: Service, _req: IncomingMessage, res: ServerResponse) {
              readiness!.answer(res);
            },
            // Server-sent events: read by the supervisor's console, which cannot wait for a JSON answer.
            'GET /api/v1/alerts/stream': function stream(this: Service, req: IncomingMessage, res: ServerResponse) {
              let token: TokenConfig;
              try {
                token = authenticate(req, 'supervisor');
              } catch (err) {
                problemFor(hub, req, res, err);
                return;
              }
              void streamAlerts(this.broker, req, res, callerOf(token), hub.logger, alertStreams);
            },
            // The supervisor's console (services/console/): the page and its built assets, all from the hub.
            'GET /console': serveConsoleIndex,
            'GET /console/assets/:file': (req: Req, res: ServerResponse) => serveConsoleAsset(req, res, String(req.$params?.file ?? '')),
            // The public status page (办事群众随时查询): HTML from the public case view, no personal data.
            'GET /status': (req: IncomingMessage, res: ServerResponse) => { if (!lookupRedirect(req, res)) sendHtml(res, 200, renderLookupPage()); },
            'GET /status/:code': function status(this: Service, req: Req, res: ServerResponse) {
              const code = String(req.$params?.code ?? '');
              void serveStatusPage((c) => this.broker.call('cases.public', { code: c }) as Promise<PublicCase>, code, res, hub.logger);
            },
            'GET /metrics': (_req: IncomingMessage, res: ServerResponse) => answerMetrics(hub, res),
          },
          onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => problemFor(hub, req, res, err),
        },
        {
          path: '/api/v1/public',
          mappingPolicy: 'restrict',
          aliases: { 'GET cases/:code': 'cases.public', 'POST evaluations/:token': 'evaluations.submit' },
          onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => problemFor(hub, req, res, err),
        },
        {
          // The evaluation page an SMS links to: HTML, its form posted without script as a form.
          path: '/e',
          mappingPolicy: 'restrict',
          bodyParsers: { json: false, urlencoded: { extended: false, limit: '16kb' } },
          aliases: { 'GET :token': 'evaluations.page', 'POST :token': 'evaluations.pageSubmit' },
          onError: (_req: IncomingMessage, res: ServerResponse, err: any) => {
            const status = NO_NODE_RUNS_IT.has(err?.name) ? 503 : Number(err?.code) >= 400 && Number(err?.code) < 600 ? Number(err.code) : 500;
            if (status >= 500) hub.logger.error({ err: err?.message, status }, 'evaluation page failed');
            if (res.headersSent) return;
            res.writeHead(status, { 'Content-Type': PAGE_TYPE, ...PAGE_HEADERS });
            res.end(errorPage(status));
          },
        },
        {
          path: '/api/v1',
          authorization: true,
          mappingPolicy: 'restrict',
          bodyParsers: { json: { limit: '1mb' } },
          aliases: {
            // Static paths before /cases/:code, so that "lookup" is not read as a code.
            'GET cases/lookup': 'cases.lookup',
            'GET cases': 'cases.list',
            'POST cases/find': 'cases.find',
            'GET cases/:code': 'cases.get',
            'POST cases/reproject': 'cases.reproject',
            // What the token may see (the console asks once signed in): any known token.
            'GET me': (req: Req, res: ServerResponse) => sendJson(res, 200, whoAmI(req.$ctx!.meta.user, visibleDepartments())),
            'GET stats/departments': 'supervisor.stats',
            'GET alerts': 'supervisor.alerts',
            'GET dead-letters': 'dead-letters.list',
            'POST dead-letters/:id/replay': 'dead-letters.replay',
            'GET files': 'files.list',
            'GET mapping/profiles': 'mapping.profiles',
            'GET audit': 'audit.list',
            'POST mapping/reload': 'mapping.reload',
            'POST keys/rekey': 'keys.rekey',
            'GET keys/rekey': 'keys.rekeyStatus',
            'GET evaluations': 'evaluations.list',
            'POST evaluations/:id/follow-up': 'evaluations.followUp',
            'GET subscriptions': 'subscriptions.list',
            'POST subscriptions': 'subscriptions.create',
            'GET subscriptions/:id/status': 'subscriptions.status',
            'GET subscriptions/:id/dead-letters': 'subscriptions.dead',
            'POST subscriptions/:id/dead-letters/replay': 'subscriptions.replay',
            'DELETE subscriptions/:id': 'subscriptions.remove',
            'GET notifications/dead-letters': 'notifier.dead',
            'POST notifications/dead-letters/replay': 'notifier.replay',
          },
          onError: (req: IncomingMessage, res: ServerResponse, err: unknown) => problemFor(hub, req, res, err),
        },
      ],
    },
    events: {
      // Some supervisor committed alerts: the open streams read them now.
      [ALERTS_COMMITTED_EVENT]() {
        wakeAlertStreams(alertStreams);
      },
    },
    created(this: Service) {
      // hub_ready: what /health/ready would answer, asked at each scrape, so that Prometheus sees
      // readiness as the orchestrator does (infra/prometheus/rules: HubNotReady).
      const gateway = this;
      readiness = new NodeReadiness(hub, this.broker, () => missingServices(gateway));
      // moleculer-web waits for 'listening' only: a port in use would leave the node's start waiting
      // for ever. The listen callback is handed the error instead, so that the start fails with it.
      const server = (this as Service & { server: Server }).server;
      server.removeAllListeners('error');
      server.on('error', (err) => hub.logger.error({ err: err.message }, 'HTTP server error'));
      const listen = server.listen.bind(server) as (port: number, host: string, done: () => void) => Server;
      (server as unknown as { listen: unknown }).listen = (port: number, host: string, done: (err?: Error) => void) => {
        const failed = (err: Error) => done(err);
        server.once('error', failed);
        return listen(port, host, () => { server.off('error', failed); done(); });
      };
    },
    stopped() {
      endAlertStreams(alertStreams);
      readiness?.close();
    },
    methods: {
      // moleculer-web logs every 5xx with its stack before the route's onError; problemFor logs what is ours to log.
      errorHandler(this: Service & { sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void }, req: IncomingMessage, res: ServerResponse, err: unknown) {
        this.sendError(req, res, err);
      },
      async authorize(ctx: Context<unknown, any>, _route: unknown, req: Req) {
        const token = authenticate(req, req.$action?.role);
        // An action that answers with or by personal data needs the grant besides the role.
        if ((req.$action as { personalData?: boolean } | undefined)?.personalData && token.personalData !== true) {
          throw new Errors.MoleculerClientError('this route needs the personal data grant', 403, 'forbidden');
        }
        ctx.meta.user = callerOf(token);
        // Every use of an operator's token is on record, before the call runs.
        if (token.roles.includes('operator')) {
          await hub.store.audit.append({ actor: token.name, action: 'token.used', target: `${req.method} ${(((req as { originalUrl?: string }).originalUrl ?? req.url) ?? '').split('?')[0]}` });
        }
      },
    },
  };
}

/** The services this gateway's routes call that no node of the hub offers now. */
function missingServices(gateway: Service): string[] {
  const missing = new Set<string>();
  for (const route of (gateway.settings.routes ?? []) as { aliases?: Record<string, unknown> }[]) {
    for (const target of Object.values(route.aliases ?? {})) {
      if (typeof target === 'string' && !gateway.broker.registry.actions.isAvailable(target)) missing.add(target.slice(0, target.lastIndexOf('.')));
    }
  }
  return [...missing].sort();
}
