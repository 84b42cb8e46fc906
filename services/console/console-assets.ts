// The supervisor's console as the gateway serves it: the files `vite build` wrote to dist/console
// (services/console/README.md). Every asset comes from the hub itself, so that the console works
// on a machine with no internet; nothing is taken from a CDN.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT } from '../../core/kernel/paths';
import { sendProblem } from '../../core/kernel/http';

/** Where `vite build` (services/console/web/vite.config.mts) writes the console. */
export const CONSOLE_DIST = path.join(ROOT, 'dist', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
};

const SECURITY_HEADERS = {
  // Scripts, styles and calls to the hub's own origin only: a CDN or an injected script is refused
  // by the browser as well as absent from the build.
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  // The console's addresses name cases: they are not handed to anyone it links to.
  'Referrer-Policy': 'no-referrer',
};

/** A built file read once (and its gzip form), again only when the build has replaced it. */
interface Cached { mtimeMs: number; body: Buffer; gzip: Buffer | null }
const cache = new Map<string, Cached>();

function read(file: string): Cached | null {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return null;
  }
  if (!stat.isFile()) return null;
  const hit = cache.get(file);
  if (hit && hit.mtimeMs === stat.mtimeMs) return hit;
  const body = fs.readFileSync(file);
  // Text compresses to a quarter or less; the charting library is most of the console's weight.
  const gzip = /\.(js|css|html|svg|map)$/.test(file) && body.length > 1024 ? zlib.gzipSync(body, { level: 9 }) : null;
  const entry = { mtimeMs: stat.mtimeMs, body, gzip };
  cache.set(file, entry);
  return entry;
}

function send(req: IncomingMessage, res: ServerResponse, file: string, cacheControl: string): void {
  const entry = read(file);
  if (!entry) {
    if (file.endsWith('index.html')) {
      sendProblem(res, 503, 'console-not-built', 'Console not built', 'the console is built by `make build` (vite build into dist/console); this installation has not built it');
    } else {
      sendProblem(res, 404, 'not-found', 'No such console file', `the console has no file ${path.basename(file)}`);
    }
    return;
  }
  const gzip = entry.gzip && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? entry.gzip! : entry.body;
  res.writeHead(200, {
    'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': String(body.length),
    'Cache-Control': cacheControl,
    Vary: 'Accept-Encoding',
    ...(gzip ? { 'Content-Encoding': 'gzip' } : {}),
    ...SECURITY_HEADERS,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** `GET /console` (and `/console/`): the page; checked again at every load, its assets named by content. */
export function serveConsoleIndex(req: IncomingMessage, res: ServerResponse): void {
  send(req, res, path.join(CONSOLE_DIST, 'index.html'), 'no-cache');
}

/** `GET /console/assets/{file}`: a built asset; its name carries its content hash, so it never changes. */
export function serveConsoleAsset(req: IncomingMessage, res: ServerResponse, file: string): void {
  // One plain file name of the assets folder: no path, no parent.
  if (!/^[\w.-]+$/.test(file) || file.startsWith('.')) {
    sendProblem(res, 404, 'not-found', 'No such console file', 'not a file of the console');
    return;
  }
  send(req, res, path.join(CONSOLE_DIST, 'assets', file), 'public, max-age=31536000, immutable');
}
