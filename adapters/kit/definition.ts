import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { compileCheck } from '../../core/kernel/schema-check';
import { ConfigError } from '../../core/kernel/errors';
import { validateOptions } from './transports';

import type { AdapterDefinition } from './transports/base';
export type { AdapterDefinition };

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'transport'],
  properties: {
    id: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' },
    name: { type: 'string' },
    description: { type: 'string' },
    transport: {
      type: 'object', additionalProperties: false, required: ['type'],
      properties: { type: { type: 'string' }, options: { type: 'object' } },
    },
    mapping: { type: 'string', default: 'mapping.yaml' },
    samples: { type: 'string', default: 'samples' },
    // How the operators watch the department (infra/prometheus/): it is called quiet (an alert,
    // during office hours) once it has sent nothing for quietMinutes; set it from how often the
    // department really sends. Its messages' p99 from receipt to visible in the case store is held
    // to endToEndObjectiveSeconds.
    monitoring: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        quietMinutes: { type: 'number', exclusiveMinimum: 0, default: 60 },
        endToEndObjectiveSeconds: { type: 'number', exclusiveMinimum: 0, default: 10 },
      },
    },
  },
};
const check = compileCheck(schema, { useDefaults: true });

function merge(base: any, over: any): any {
  if (!over || typeof over !== 'object' || Array.isArray(over)) return over ?? base;
  const out = { ...(base ?? {}) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base?.[k], v);
  return out;
}

/** Loads `adapter.yaml` of a department folder, validating the transport options against the transport's schema. */
export function loadAdapterDefinition(dir: string, overrides?: Record<string, unknown>): AdapterDefinition {
  const file = path.join(dir, 'adapter.yaml');
  let raw: any;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read adapter definition ${file}: ${(err as Error).message}`);
  }
  raw = merge(raw, overrides);
  const why = check(raw);
  if (why) {
    throw new ConfigError(`${file}: not an adapter definition: ${why}`);
  }
  if (path.basename(dir) !== raw.id) throw new ConfigError(`${file}: id ${raw.id} differs from the folder name ${path.basename(dir)}`);
  raw.transport.options = raw.transport.options ?? {};
  validateOptions(raw.transport.type, raw.transport.options, file);
  return {
    id: raw.id, name: raw.name ?? raw.id, dir,
    transport: raw.transport,
    mapping: path.resolve(dir, raw.mapping),
    samples: path.resolve(dir, raw.samples),
    monitoring: { quietMinutes: raw.monitoring.quietMinutes, endToEndObjectiveSeconds: raw.monitoring.endToEndObjectiveSeconds },
  };
}
