import Ajv from 'ajv';

/** Checks data against a JSON Schema: null when it conforms, else every problem on one line. */
export type SchemaCheck = (data: unknown) => string | null;

const plain = new Ajv({ allErrors: true, strict: false });
// Fills in the schema's defaults in the data it checks (adapter definitions, transport options).
const withDefaults = new Ajv({ allErrors: true, strict: false, useDefaults: true });

/** Compiles a schema once; the same schema object compiled again reuses ajv's compiled function. */
export function compileCheck(schema: object, opts: { useDefaults?: boolean } = {}): SchemaCheck {
  const validate = (opts.useDefaults ? withDefaults : plain).compile(schema);
  return (data) => (validate(data) ? null : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; '));
}
