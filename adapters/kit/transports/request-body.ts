// Reading a department's request body within a limit, and leaving one the hub will not read.
// Shared by the transports that serve HTTP (SOAP push, REST webhook).

import type { IncomingMessage } from 'node:http';

export type LimitedBody =
  | { ok: true; body: Buffer }
  /** Over the limit: `declared` when Content-Length said so (nothing was read), else null (read up to the limit, then stopped). */
  | { ok: false; declared: number | null };

/**
 * How long the rest of a refused body is discarded before the connection is closed: long enough
 * for a sender that writes its whole body before reading the answer to read it, not so long that
 * a body that never ends holds the connection.
 */
export const LINGER = { ms: 2000, bytes: 16 * 1024 * 1024 };

/** The Content-Length of a request, or null when it has none (chunked). */
export function declaredLength(req: IncomingMessage): number | null {
  const v = req.headers['content-length'];
  if (v === undefined || !/^\d+$/.test(String(v).trim())) return null;
  return Number(v);
}

/**
 * Reads a request body of at most `limit` bytes. A larger Content-Length is refused before a byte
 * is read; without one, reading stops (paused, nothing kept) as soon as the limit is passed.
 * Either way the caller answers, then leaves the rest with discardBody().
 */
export function readLimitedBody(req: IncomingMessage, limit: number): Promise<LimitedBody> {
  const declared = declaredLength(req);
  if (declared !== null && declared > limit) return Promise.resolve({ ok: false, declared });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        done();
        req.pause();
        chunks.length = 0;
        resolve({ ok: false, declared: null });
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => { done(); resolve({ ok: true, body: Buffer.concat(chunks, size) }); };
    const onError = (err: Error) => { done(); reject(err); };
    const onClose = () => { done(); reject(new Error('the request was closed before its body ended')); };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * Leaves a request whose body the hub will not read (refused before or while reading it): the rest
 * is discarded, unbuffered, so that the sender can read the answer, and the connection is closed
 * if the body goes on past `linger` (time or bytes). A body that ends within it keeps the
 * connection usable.
 */
export function discardBody(req: IncomingMessage, linger: { ms: number; bytes: number } = LINGER): void {
  if (req.complete || req.readableEnded) return;
  const socket = req.socket;
  let seen = 0;
  const stop = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', stop);
    socket?.off('close', stop);
  };
  const cut = () => {
    stop();
    socket?.destroy();
  };
  const onData = (c: Buffer) => {
    seen += c.length;
    if (seen > linger.bytes) cut();
  };
  const timer = setTimeout(cut, linger.ms);
  timer.unref();
  req.on('data', onData);
  req.on('end', stop);
  // A sender that gives up makes the request emit an error; nothing is waiting for it here.
  req.on('error', () => undefined);
  socket?.on('close', stop);
  req.resume();
}
