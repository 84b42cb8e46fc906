import type { Middleware, ServiceBroker, Context } from 'moleculer';
import { inSpan, contextFrom, activeCarrier, tracingOn, SpanKind, SPAN_ATTRS, type TraceCarrier } from '../core/kernel/tracing';
import { TRACE_META } from '../core/kernel/constants';
import { messageHeaders } from './outbox/broker-channels';

/**
 * OpenTelemetry across a hub's Moleculer broker (Moleculer's own tracing has no OTLP exporter, and
 * the hub leaves it off):
 * - a call to another node's action is a client span, whose W3C context goes in the call's meta
 *   (`ctx.meta[TRACE_META]`); the node that runs the action continues that trace in a server span;
 * - a channel message (the bus) is handled in a consumer span, the child of the context its headers
 *   carry (the outbox dispatcher's publish span; services/outbox/broker-channels.ts puts it there).
 * Tracing off (no OTLP endpoint): every hook hands the handler back as it is.
 */
export function traceMiddleware(): Middleware {
  let broker: ServiceBroker;
  return {
    name: 'OpenTelemetry',
    created(b: ServiceBroker) {
      broker = b;
    },
    remoteAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
      if (!tracingOn()) return next;
      return (ctx: Context) => inSpan(`call ${action.name}`, {
        kind: SpanKind.CLIENT,
        attributes: () => ({ 'rpc.system': 'moleculer', 'rpc.method': action.name, 'server.address': String(ctx.nodeID ?? '') }),
      }, () => {
        const carrier = activeCarrier();
        if (carrier) (ctx.meta as Record<string, unknown>)[TRACE_META] = carrier;
        return next(ctx);
      });
    },
    localAction(next: (ctx: Context) => Promise<unknown>, action: { name: string }) {
      if (!tracingOn()) return next;
      return (ctx: Context) => {
        const meta = ctx.meta as Record<string, unknown> | undefined;
        // A call from another node carries its caller's context; a local call runs in it already
        // (and a context in the meta would be the one its parent was called with, not its parent).
        const remote = ctx.nodeID != null && ctx.nodeID !== broker.nodeID;
        const parent = remote ? contextFrom(meta?.[TRACE_META] as TraceCarrier | undefined) : null;
        if (meta && TRACE_META in meta) delete meta[TRACE_META];
        return inSpan(`action ${action.name}`, {
          kind: SpanKind.SERVER,
          parent: parent ?? undefined,
          attributes: () => ({ 'rpc.system': 'moleculer', 'rpc.method': action.name }),
        }, () => next(ctx));
      };
    },
    localChannel(next: (msg: unknown, raw: unknown) => Promise<unknown>, chan: { name: string; group: string }) {
      if (!tracingOn()) return next;
      return (msg: unknown, raw: unknown) => {
        const headers = messageHeaders(broker, raw);
        const id = (msg as { id?: unknown } | null)?.id;
        const subject = (msg as { subject?: unknown } | null)?.subject;
        return inSpan(`consume ${chan.name}`, {
          kind: SpanKind.CONSUMER,
          parent: contextFrom(headers) ?? undefined,
          attributes: () => ({
            'messaging.system': 'moleculer-channels',
            'messaging.operation.type': 'process',
            'messaging.destination.name': chan.name,
            'messaging.consumer.group.name': chan.group,
            ...(typeof id === 'string' || typeof id === 'number' ? { 'messaging.message.id': String(id) } : {}),
            ...(typeof subject === 'string' ? { [SPAN_ATTRS.supervisionCode]: subject } : {}),
          }),
        }, () => next(msg, raw));
      };
    },
  } as unknown as Middleware;
}
