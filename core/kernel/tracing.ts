import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, INVALID_SPAN_CONTEXT,
  type Attributes, type Context, type Span,
} from '@opentelemetry/api';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { maskText } from './personal-data';

export { SpanKind };
export type { Span, Context };

/** The tracer's name, and the service name when OTEL_SERVICE_NAME does not give one. */
export const TRACER_NAME = 'case-exchange-hub';

/**
 * Span attribute names of the hub's own (OpenTelemetry's semantic conventions name the rest). Never
 * a personal value: an adapter id, a raw message id, a supervision code, counts.
 */
export const SPAN_ATTRS = {
  adapter: 'hub.adapter',
  messageId: 'hub.message_id',
  records: 'hub.records',
  accepted: 'hub.records.accepted',
  duplicate: 'hub.records.duplicate',
  rejected: 'hub.records.rejected',
  supervisionCode: 'hub.supervision_code',
  file: 'hub.file_id',
  services: 'hub.services',
} as const;

/** W3C trace context headers (https://www.w3.org/TR/trace-context/): what a message on the bus and a Moleculer call carry. */
export type TraceCarrier = Record<string, string>;

let provider: { forceFlush(): Promise<void>; shutdown(): Promise<void> } | null = null;

/** A span that records nothing: what the hub's code is handed while tracing is off. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Whether this process sends traces (an OTLP endpoint is configured and tracing was started). */
export function tracingOn(): boolean {
  return provider !== null;
}

/**
 * Where traces go, from the standard variables: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the whole URL),
 * or OTEL_EXPORTER_OTLP_ENDPOINT (to which the exporter adds /v1/traces). None, OTEL_SDK_DISABLED=true
 * or OTEL_TRACES_EXPORTER=none: tracing is off.
 */
export function tracesEndpoint(env: NodeJS.ProcessEnv = process.env): string | null {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return null;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (exporters.length && !exporters.includes('otlp')) return null;
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || null;
}

/**
 * Starts tracing for this process when an OTLP endpoint is configured (see tracesEndpoint): the
 * OpenTelemetry SDK with a batch processor and the OTLP/HTTP exporter, both configured by the
 * standard OTEL_* variables (OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY, OTEL_EXPORTER_OTLP_HEADERS…),
 * W3C trace context as the propagator. Without an endpoint nothing is loaded: the hub's spans are
 * the no-op span and cost a flag test. Answers whether tracing is on.
 */
export function startTracing(opts: { version?: string; services?: string } = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  if (provider) return true;
  if (!tracesEndpoint(env)) return false;
  // Loaded only when tracing is on: a hub without an endpoint never carries the SDK.
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes, detectResources, envDetector } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  // Each process is one instance, so that the spans of a message crossing nodes tell the nodes apart.
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) override these.
  const own = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: TRACER_NAME,
    ...(opts.version ? { [ATTR_SERVICE_VERSION]: opts.version } : {}),
    'service.instance.id': `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    'process.pid': process.pid,
    'host.name': hostname(),
    ...(opts.services ? { [SPAN_ATTRS.services]: opts.services } : {}),
  });
  const p = new NodeTracerProvider({
    resource: own.merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  p.register({ propagator: new W3CTraceContextPropagator() });
  provider = p;
  return true;
}

/** Sends the spans still buffered and stops tracing (a node that stops). */
export async function stopTracing(): Promise<void> {
  const p = provider;
  if (!p) return;
  provider = null;
  await p.shutdown();
}

/** Sends the spans still buffered (the batch processor sends every OTEL_BSP_SCHEDULE_DELAY ms otherwise). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent, when it is not the active span: a context carried by a message (contextFrom). */
  parent?: Context;
  /** A new trace, whatever is active (a message arriving from a department). */
  root?: boolean;
  /**
   * The span's attributes, built only when the span records (tracing on and the trace sampled).
   * No personal value (a name, an ID number, a phone) ever goes in one.
   */
  attributes?: () => Attributes;
}

/**
 * Runs fn inside a span (the active span while it runs; ended when fn settles, with an error status
 * and the error's message, masked, when fn throws). Tracing off: fn runs with a span that records
 * nothing, and nothing else is done. fn is called synchronously, so that calls started in it keep
 * their order.
 */
export function inSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  if (!provider) return fn(NO_SPAN);
  const parent = opts.root ? ROOT_CONTEXT : opts.parent ?? context.active();
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, root: opts.root }, parent, async (span) => {
    if (opts.attributes && span.isRecording()) span.setAttributes(opts.attributes());
    try {
      return await fn(span);
    } catch (err) {
      if (span.isRecording()) span.setStatus({ code: SpanStatusCode.ERROR, message: maskText(String((err as Error)?.message ?? err)) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Runs fn outside whatever trace is active: for work a message's code only sets going (the outbox
 * dispatcher nudged by a commit), which must not be counted in that message's trace.
 */
export function outsideTrace<T>(fn: () => T): T {
  return provider ? context.with(ROOT_CONTEXT, fn) : fn();
}

/** Sets attributes on a span when it records; `attributes` is not called otherwise. */
export function annotate(span: Span, attributes: () => Attributes): void {
  if (span.isRecording()) span.setAttributes(attributes());
}

/** Sets attributes on the active span (the message's root span, from inside a step) when it records. */
export function annotateActive(attributes: () => Attributes): void {
  if (!provider) return;
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes(attributes());
}

/** The active trace context as W3C headers, to go with a message; null while tracing is off or nothing is active. */
export function activeCarrier(): TraceCarrier | null {
  if (!provider) return null;
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ? carrier : null;
}

/** The active trace context as a W3C `traceparent` value (what an outbox row keeps), or null. */
export function activeTraceparent(): string | null {
  return activeCarrier()?.traceparent ?? null;
}

/** The context a message's W3C headers carry, as the parent of the spans that handle it (null: none carried, or tracing off). */
export function contextFrom(carrier: Record<string, unknown> | null | undefined): Context | null {
  if (!provider || !carrier || typeof carrier.traceparent !== 'string') return null;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The active span's trace and span ids, for a log line; null while tracing is off or no span is active. */
export function activeTraceIds(): { traceId: string; spanId: string } | null {
  if (!provider) return null;
  const span = trace.getActiveSpan();
  if (!span) return null;
  const c = span.spanContext();
  return c.traceId === INVALID_SPAN_CONTEXT.traceId ? null : { traceId: c.traceId, spanId: c.spanId };
}
