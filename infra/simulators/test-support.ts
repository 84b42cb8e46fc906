// What the simulators' tests share: a real HTTP server that records what it receives, a logger
// whose lines can be inspected, and a way to wait for something to happen.

import * as http from 'node:http';
import pino, { Logger } from 'pino';

export type Received = { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer };
/** `drop`: close the connection without an answer, as a failing network does. */
export type Reply = { status?: number; headers?: Record<string, string>; body?: string | Buffer; drop?: boolean };

export type RecordingServer = { url: string; received: Received[]; close(): Promise<void> };

/** Listens on a free loopback port; `respond` decides each answer (200 with no body by default). */
export async function startRecordingServer(respond: (req: Received, index: number) => Reply = () => ({})): Promise<RecordingServer> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      const reply = respond(r, received.length - 1);
      if (reply.drop) {
        req.socket.destroy();
        return;
      }
      res.writeHead(reply.status ?? 200, reply.headers ?? {});
      res.end(reply.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type LogLine = { level: number; msg: string; [field: string]: unknown };

/** A pino logger that keeps its lines in memory. */
export function capturingLogger(level = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

export const WARN = 40;

export async function waitFor(condition: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs simulators for `ms` against a hub that answers every request 404 (the endpoint is missing),
 * then stops them: what they sent, and the warnings they logged.
 */
export async function runAgainstMissingEndpoint(
  start: (hubUrl: string, logger: Logger) => { stop(): Promise<void> } | Promise<{ stop(): Promise<void> }>,
  ms: number,
  body = 'Not Found',
): Promise<{ received: Received[]; warnings: LogLine[] }> {
  const hub = await startRecordingServer(() => ({ status: 404, body }));
  const { logger, lines } = capturingLogger();
  let running: { stop(): Promise<void> } | null = null;
  try {
    running = await start(hub.url, logger);
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    await running?.stop();
    await hub.close();
  }
  return { received: hub.received, warnings: lines.filter((l) => l.level >= WARN) };
}
