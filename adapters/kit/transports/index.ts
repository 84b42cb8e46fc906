import { compileCheck } from '../../../core/kernel/schema-check';
import { ConfigError } from '../../../core/kernel/errors';
import type { Transport, TransportClass, TransportContext } from './base';
import { RestTransport } from './rest/rest';
import { FileDropTransport } from './file-drop/file-drop';
import { SoapTransport } from './soap/soap';

const registry = new Map<string, TransportClass>();

/** Adds a transport type; adapter definitions name it in `transport.type`. */
export function register(type: string, cls: TransportClass): void {
  registry.set(type, cls);
}

export function transportTypes(): string[] {
  return [...registry.keys()];
}

export function optionsSchema(type: string): object {
  const cls = registry.get(type);
  if (!cls) throw new ConfigError(`unknown transport type ${JSON.stringify(type)}; known: ${transportTypes().join(', ')}`, { rule: 'unknown-transport' });
  return cls.optionsSchema;
}

/** Checks a definition's transport options against the transport's schema, filling in defaults. */
export function validateOptions(type: string, options: unknown, where: string): void {
  const why = compileCheck(optionsSchema(type), { useDefaults: true })(options);
  if (why) {
    throw new ConfigError(`${where}: invalid ${type} transport options: ${why}`);
  }
}

export function resolve(spec: { type: string; options?: unknown }, ctx: TransportContext): Transport {
  const cls = registry.get(spec.type);
  if (!cls) throw new ConfigError(`unknown transport type ${JSON.stringify(spec.type)}; known: ${transportTypes().join(', ')}`, { adapter: ctx.adapter.id });
  return new cls(ctx, spec.options ?? {});
}

register('rest', RestTransport);
register('soap', SoapTransport);
register('file-drop', FileDropTransport);
