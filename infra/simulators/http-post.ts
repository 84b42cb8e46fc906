// One small HTTP client for every simulator, on Node's own http: a simulator should behave like
// a plain department system, not like a library's idea of a client.

import * as http from 'node:http';
import * as https from 'node:https';

export type HttpAnswer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

export function httpPost(
  url: string,
  body: Buffer,
  headers: Record<string, string>,
  options: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<HttpAnswer> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(body.length) },
        signal: options.signal,
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin} within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The charset of a Content-Type header, lower-cased; undefined when none is given. */
export function charsetOf(contentType: string | undefined): string | undefined {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '');
  return m ? m[1].toLowerCase() : undefined;
}
