import { transportTypes, optionsSchema } from './index';

interface Schema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  examples?: unknown[];
}

function rows(schema: Schema, prefix: string, out: string[]): void {
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const key = prefix + name;
    const type = prop.enum ? prop.enum.map((v) => JSON.stringify(v)).join(' \\| ') : Array.isArray(prop.type) ? prop.type.join(' \\| ') : prop.type ?? '';
    const required = (schema.required ?? []).includes(name) ? 'yes' : '';
    const def = prop.default !== undefined ? `\`${JSON.stringify(prop.default)}\`` : '';
    out.push(`| \`${key}\` | ${type} | ${required} | ${def} | ${(prop.description ?? '').replace(/\|/g, '\\|')} |`);
    if (prop.properties) rows(prop, `${key}.`, out);
    if (prop.items?.properties) rows(prop.items, `${key}[].`, out);
    if (typeof prop.additionalProperties === 'object' && prop.additionalProperties.properties) rows(prop.additionalProperties, `${key}.<name>.`, out);
  }
}

/**
 * The options of every registered transport, as Markdown, from the transports' own JSON Schemas:
 * the documentation cannot drift from what the hub checks when it loads a definition.
 */
export function transportOptionsMarkdown(): string {
  const parts = ['# Transport options', '', 'Generated from each transport\'s JSON Schema by `make docs`; do not edit.', ''];
  for (const type of transportTypes().sort()) {
    const schema = optionsSchema(type) as Schema;
    parts.push(`## \`${type}\` — ${schema.title ?? type}`, '', schema.description ?? '', '', '| option | type | required | default | meaning |', '|---|---|---|---|---|');
    const out: string[] = [];
    rows(schema, '', out);
    parts.push(...out, '');
    if (schema.examples?.length) parts.push('Example:', '', '```json', JSON.stringify(schema.examples[0], null, 2), '```', '');
  }
  return parts.join('\n');
}
