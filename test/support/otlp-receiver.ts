// An OTLP/HTTP trace receiver for tests: what a collector would be given by the hub's exporter
// (@opentelemetry/exporter-trace-otlp-http posts OTLP JSON to /v1/traces).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  /** The resource of the process that sent the span (service.instance.id, process.pid…). */
  resource: Record<string, unknown>;
}

export interface OtlpReceiver {
  /** The traces endpoint, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT takes it. */
  url: string;
  spans: ReceivedSpan[];
  /** Every request body as it came, for searching in all of it (attributes, events, resources). */
  bodies: string[];
  /** Requests refused (not a POST of JSON to /v1/traces), with why. */
  refused: string[];
  close(): Promise<void>;
}

/** An OTLP AnyValue as a plain value. */
function valueOf(v: any): unknown {
  if (!v || typeof v !== 'object') return v;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(valueOf);
  if ('kvlistValue' in v) return attributesOf(v.kvlistValue.values);
  return v;
}

function attributesOf(list: any[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of list ?? []) out[a.key] = valueOf(a.value);
  return out;
}

/** Starts the receiver on a free loopback port, or the one given (failing when it is taken). */
export async function startOtlpReceiver(port = 0, host = '127.0.0.1'): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const refused: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const type = String(req.headers['content-type'] ?? '');
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !type.startsWith('application/json')) {
        refused.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(415).end();
        return;
      }
      bodies.push(body);
      const doc = JSON.parse(body) as { resourceSpans?: any[] };
      for (const rs of doc.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attributesOf(s.attributes), resource });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/v1/traces`,
    spans, bodies, refused,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** The variables that send a hub's traces to the receiver at once (a short batch delay). */
export function tracingEnv(receiver: OtlpReceiver, serviceName = 'case-exchange-hub-test'): Record<string, string> {
  return { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: serviceName, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_TRACES_SAMPLER: 'always_on' };
}
