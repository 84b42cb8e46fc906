import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServiceBroker } from 'moleculer';
import type { Logger } from '../../core/kernel/logger';
import { sendProblem } from '../../core/kernel/http';
import type { AlertItem } from './supervision-store';

/**
 * How often a stream asks for alerts committed since the last it sent, when nothing told it of new
 * ones: the supervisor's ALERTS_COMMITTED_EVENT wakes it at once.
 */
const POLL_MS = 250;

/** The alert streams a gateway has open, each with what wakes it. */
export type AlertStreams = Map<ServerResponse, () => void>;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;
const LEVELS = ['YELLOW', 'RED'];
const KINDS = ['LIGHT_CHANGED', 'VIOLATION', 'FOLLOW_UP_OVERDUE'];

/**
 * `GET /api/v1/alerts/stream`: the alerts as server-sent events (`id:` the alert id, `event:` its
 * kind, `data:` the alert as the list shows it), in the order they were committed, from the moment
 * of connecting, or after `Last-Event-ID` when the client reconnects (each missed alert once). The
 * same filters as the list (department, level, kind) and the caller's departments apply. The
 * alerts are read through the supervisor service, on whichever node runs it. A stream is kept in
 * `open` while it lasts, so that a stopping gateway can end it (endAlertStreams).
 */
export async function streamAlerts(broker: ServiceBroker, req: IncomingMessage, res: ServerResponse, caller: { departments?: string[] }, logger: Logger, open?: AlertStreams): Promise<void> {
  const q = new URL(req.url ?? '/', 'http://hub').searchParams;
  const filter = { department: q.get('department') ?? undefined, level: q.get('level') ?? undefined, kind: q.get('kind') ?? undefined };
  if (filter.level && !LEVELS.includes(filter.level)) return sendProblem(res, 400, 'bad-request', 'Bad level', `level is one of ${LEVELS.join(', ')}`, { field: 'level' });
  if (filter.kind && !KINDS.includes(filter.kind)) return sendProblem(res, 400, 'bad-request', 'Bad kind', `kind is one of ${KINDS.join(', ')}`, { field: 'kind' });
  const resume = String(req.headers['last-event-id'] ?? q.get('lastEventId') ?? '');
  if (resume && !/^\d{1,18}$/.test(resume)) return sendProblem(res, 400, 'bad-request', 'Bad Last-Event-ID', 'Last-Event-ID is the id of an alert this stream sent', { field: 'Last-Event-ID' });
  let last: number;
  try {
    // Where a new stream starts is settled before it answers: an alert committed once the client
    // has its answer is sent.
    last = resume ? Number(resume) : ((await broker.call('supervisor.alertsAfter', { after: -1, limit: 1 })) as { last: number }).last;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'alert stream cannot read the alerts');
    return sendProblem(res, 503, 'unavailable', 'Service unavailable', 'no node of this hub runs the supervisor service now; try again later', { service: 'supervisor' }, { 'Retry-After': '5' });
  }

  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.write('retry: 1000\n\n');
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
  const close = () => {
    closed = true;
    clearInterval(heartbeat);
    if (timer) clearTimeout(timer);
  };
  req.on('close', close);
  res.on('close', close);
  open?.set(res, () => {
    // Alerts were committed: read them now, unless a read is under way (it reads them, or the
    // next one it schedules does).
    if (closed || !timer) return;
    clearTimeout(timer);
    timer = null;
    void tick();
  });
  res.on('close', () => open?.delete(res));

  let failing = false;
  const tick = async () => {
    timer = null;
    try {
      for (;;) {
        const page = (await broker.call('supervisor.alertsAfter', { after: last, ...filter, scope: caller.departments, limit: 200 })) as { items: AlertItem[]; more: boolean };
        if (closed) return;
        for (const a of page.items) {
          res.write(`id: ${a.id}\nevent: ${a.kind}\ndata: ${JSON.stringify(a)}\n\n`);
          last = Number(a.id);
        }
        if (!page.more) break;
      }
      failing = false;
    } catch (err) {
      // The supervisor is away (a node stopping): the stream waits, and goes on where it was.
      if (!failing) logger.warn({ err: (err as Error).message }, 'alert stream cannot read the alerts; retrying');
      failing = true;
    }
    if (!closed) timer = setTimeout(() => void tick(), POLL_MS);
  };
  void tick();
}

/**
 * Ends every stream in `open`: a gateway that stops would otherwise wait for ever for its streams'
 * clients to hang up (they never do), and its node would not stop. The clients reconnect with
 * Last-Event-ID, to this node once it is back or to another, and miss nothing.
 */
export function endAlertStreams(open: AlertStreams): void {
  for (const res of open.keys()) res.end();
  open.clear();
}

/** Tells every stream in `open` that alerts were committed (ALERTS_COMMITTED_EVENT), so that each reads them at once. */
export function wakeAlertStreams(open: AlertStreams): void {
  for (const wake of open.values()) wake();
}
