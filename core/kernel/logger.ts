import pino, { Logger } from 'pino';
import { maskPersonalData, maskText } from './personal-data';

export type { Logger };

/** Structured JSON logs, one event a line, personal data masked before it is written. */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'case-exchange-hub' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (obj) => maskPersonalData(obj) },
      hooks: {
        logMethod(args, method) {
          // The message string may carry personal data too (it is not passed through formatters.log).
          const masked = args.map((a) => (typeof a === 'string' ? maskText(a) : a)) as Parameters<typeof method>;
          return method.apply(this, masked);
        },
      },
    },
    destination,
  );
}
