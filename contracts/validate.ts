import Ajv from 'ajv';
import type { CaseEvent, OutboundEvent, SubscriptionInput } from './types';
import caseEventSchema from './v1/case-event.schema.json';
import statusSchema from './v1/canonical-status.schema.json';
import caseViewSchema from './v1/case-view.schema.json';
import subscriptionSchema from './v1/subscription.schema.json';
import subscriptionInputSchema from './v1/subscription-input.schema.json';
import outboundEventSchema from './v1/outbound-event.schema.json';

const ajv = new Ajv({ allErrors: false, strict: false });
ajv.addSchema(statusSchema);
const caseEvent = ajv.compile<CaseEvent>(caseEventSchema);
const caseView = ajv.compile(caseViewSchema);
ajv.addSchema(subscriptionSchema);
const subscriptionInput = ajv.compile<SubscriptionInput>(subscriptionInputSchema);
const outboundEvent = ajv.compile<OutboundEvent>(outboundEventSchema);

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

/** Checks a subscription as POST /api/v1/subscriptions takes it; null when valid, else the first problem with its field. */
export function validateSubscriptionInput(input: unknown): { field: string; message: string } | null {
  if (subscriptionInput(input)) return null;
  const e = subscriptionInput.errors![0];
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || (e.params as { missingProperty?: string; additionalProperty?: string }).missingProperty || (e.params as { additionalProperty?: string }).additionalProperty || '/';
  return { field, message: `${e.instancePath || '/'} ${e.message}${(e.params as { additionalProperty?: string }).additionalProperty ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}` };
}

/** Checks a delivery's body against its published schema; null when valid, else the problems. */
export function validateOutboundEvent(event: unknown): string | null {
  if (outboundEvent(event)) return null;
  return (outboundEvent.errors || []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}
