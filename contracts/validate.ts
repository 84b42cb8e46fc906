import Ajv from 'ajv';
import type { CaseEvent } from './types';
import caseEventSchema from './v1/case-event.schema.json';
import statusSchema from './v1/canonical-status.schema.json';
import caseViewSchema from './v1/case-view.schema.json';

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addSchema(statusSchema);
const caseEvent = ajv.compile<CaseEvent>(caseEventSchema);
const caseView = ajv.compile(caseViewSchema);

/** Checks an event against the published schema; null when valid, else the first problem. */
export function validateCaseEvent(event: unknown): { field: string; message: string } | null {
  if (caseEvent(event)) return null;
  const e = caseEvent.errors![0];
  return { field: e.instancePath || '/', message: `${e.instancePath || '/'} ${e.message}` };
}

export function validateCaseView(view: unknown): string | null {
  if (caseView(view)) return null;
  return (caseView.errors || []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
