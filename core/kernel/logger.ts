import pino, { Logger } from 'pino';
import { maskPersonalData, maskText } from './personal-data';
import { activeTraceIds } from './tracing';

export type { Logger };

/** Structured JSON logs, one event a line, personal data masked before it is written. */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  const root = pino(
    {
      level,
      base: { app: 'case-exchange-hub' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // The trace a line was written in (core/kernel/tracing), named as OpenTelemetry's pino
      // instrumentation names them, so that a log store links the line to its trace. A fresh object
      // each time: pino merges the line's fields into it.
      mixin() {
        const ids = activeTraceIds();
        return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (obj) => maskPersonalData(obj),
      },
      hooks: {
        logMethod(args, method) {
          // Masked before pino sees them: the message is not passed through formatters.log, and an
          // Error logged alone lends its message to the line's msg.
          const masked = args.map((a) => (typeof a === 'string' ? maskText(a) : maskPersonalData(a))) as Parameters<typeof method>;
          return method.apply(this, masked);
        },
      },
    },
    destination,
  );
  // A child logger's fields (logger.child({...})) are written on every line of it, and pino does
  // not pass them through formatters.log. Children inherit this method from the root.
  const child = root.child as unknown as (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  root.child = function maskedChild(this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) {
    return child.call(this, maskPersonalData(bindings), options);
  } as unknown as typeof root.child;
  return root;
}
