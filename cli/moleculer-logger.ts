import type { LoggerConfig } from 'moleculer';
import type { Logger } from '../core/kernel/logger';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVELS: Level[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Moleculer's own log lines (the broker, the bus, moleculer-web) written by the hub's logger: one
 * JSON line each, as the hub's own, with its personal data masked. Moleculer logs with console-like
 * arguments; texts become the line's message, an error its `err`, other values its `data`.
 * `level`: the least severe level written; false writes none.
 */
export function moleculerLoggerConfig(hub: Logger, level: Level | false): LoggerConfig | false {
  if (level === false) return false;
  return {
    type: 'Pino',
    options: {
      level,
      createLogger: (lineLevel: Level, bindings: { mod?: string; svc?: string }) => {
        const log = hub.child({ component: 'moleculer', ...(bindings?.mod ? { module: bindings.mod } : {}) }, { level: lineLevel });
        return Object.fromEntries(LEVELS.map((l) => [l, (...args: unknown[]) => write(log, l, args)]));
      },
    },
  } as LoggerConfig;
}

function write(log: Logger, level: Level, args: unknown[]): void {
  const texts: string[] = [];
  const data: unknown[] = [];
  let err: { message: string; name?: string; code?: unknown; data?: unknown } | undefined;
  for (const a of args) {
    if (a instanceof Error) err ??= { name: a.name, message: a.message, ...('code' in a ? { code: (a as { code: unknown }).code } : {}), ...('data' in a ? { data: (a as { data: unknown }).data } : {}) };
    else if (a !== null && typeof a === 'object') data.push(a);
    else if (a !== undefined) texts.push(String(a).trim());
  }
  const fields = { ...(err ? { err } : {}), ...(data.length ? { data: data.length === 1 ? data[0] : data } : {}) };
  log[level](fields, texts.filter(Boolean).join(' ') || err?.message || 'moleculer');
}
