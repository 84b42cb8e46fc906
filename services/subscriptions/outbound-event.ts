import type { CaseEvent, OutboundData, OutboundEvent, OutboundType, SubscriptionFilter } from '../../contracts/types';
import type { DataKeys } from '../../core/kernel/data-keys';
import { maskIdNumber, maskPhone } from '../../core/identifiers/mask';
import { maskText } from '../../core/kernel/personal-data';
import { isSealedApplicant, openApplicant, StoredApplicant } from '../../core/ports/sealed-data';
import type { AlertItem } from '../supervisor/supervision-store';
import type { CaseFacts } from './subscription-store';

/** The CloudEvents types of deliveries (DESIGN.md, "Additions to v1"). */
export const OUTBOUND_TYPES = {
  applied: 'cn.gov.hub.case.event.applied',
  light: 'cn.gov.hub.case.light.changed',
  violation: 'cn.gov.hub.case.violation.raised',
} as const satisfies Record<string, OutboundType>;

/** The source of the hub's own events (light changes and violations): the supervisor. */
export const SUPERVISOR_SOURCE = 'urn:hub:supervisor';

/** A case change as subscriptions are matched and sent it, once per change whatever the subscriptions. */
export interface OutboundChange {
  /** The CloudEvents id: the applied event's id, or the alert's. */
  id: string;
  type: OutboundType;
  supervisionCode: string;
  departmentCode: string;
  itemCode: string;
  status: OutboundData['status'];
  /** The body with personal data in clear (for subscriptions that may have it). */
  clear: OutboundEvent;
  /** The body with personal data masked (the default). */
  masked: OutboundEvent;
}

/** Whether a subscription's filter takes a change: every list it gives holds the change's value. */
export function matches(filter: SubscriptionFilter, c: Pick<OutboundChange, 'type' | 'departmentCode' | 'itemCode' | 'status'>): boolean {
  return (!filter.types || filter.types.includes(c.type))
    && (!filter.departments || filter.departments.includes(c.departmentCode))
    && (!filter.items || filter.items.includes(c.itemCode))
    && (!filter.statuses || filter.statuses.includes(c.status));
}

/**
 * A name as a subscription without personal data sees it: its first character, the rest starred.
 * Applicants' names, people's and organisations' alike, and officers' are masked so: a subscriber
 * that needs them is given the personal data grant.
 */
export function maskName(name: string): string {
  const chars = [...name.trim()];
  if (chars.length === 0) return name;
  return chars[0] + '*'.repeat(Math.max(1, Math.min(chars.length - 1, 8)));
}

/**
 * A telephone number that is not a mobile (a landline, as the source gave it): its first three and
 * last two digits kept, the others starred, whatever separates them.
 */
export function maskNumber(phone: string): string {
  const digits = [...phone].filter((c) => /\d/.test(c)).length;
  let seen = 0;
  return [...phone].map((c) => {
    if (!/\d/.test(c)) return c;
    seen++;
    return seen <= 3 || seen > digits - 2 ? c : '*';
  }).join('');
}

/** The applied event's data as a subscription without personal data receives it. */
export function maskEventData(data: CaseEvent['data']): CaseEvent['data'] {
  const a = data.applicant;
  return {
    ...data,
    applicant: {
      kind: a.kind,
      name: maskName(a.name),
      idType: a.idType,
      idNumber: maskIdNumber(a.idNumber),
      mobile: a.mobile ? maskPhone(a.mobile) : null,
      ...(a.phone !== undefined ? { phone: a.phone === null ? null : maskNumber(a.phone) } : {}),
    },
    officer: data.officer === null ? null : maskName(data.officer),
    remark: data.remark === null ? null : maskText(data.remark),
  };
}

/** An applied event as every subscription is sent it, in both forms. */
export function appliedChange(event: CaseEvent, keys: DataKeys): OutboundChange {
  const code = event.subject ?? event.data.supervisionCode;
  if (!code) throw new Error(`event ${event.id} has no supervision code (subject): it cannot be delivered by case`);
  const d = event.data;
  const applicant = isSealedApplicant(d.applicant) ? openApplicant(keys, d.applicant as StoredApplicant) : d.applicant;
  const clearData = { ...d, applicant };
  const envelope = (data: CaseEvent['data']): OutboundEvent => ({
    specversion: '1.0', id: event.id, source: event.source, type: OUTBOUND_TYPES.applied, subject: code, time: event.time,
    datacontenttype: 'application/json', data: { ...data, supervisionCode: code },
  });
  return {
    id: event.id, type: OUTBOUND_TYPES.applied, supervisionCode: code, departmentCode: d.department.code, itemCode: d.item.code, status: d.status,
    clear: envelope(clearData), masked: envelope(maskEventData(clearData)),
  };
}

/**
 * A light change or violation as every subscription is sent it, with the item and status its case
 * has in the store (the alert names neither); none when the store does not hold the case.
 */
export function alertChange(alert: AlertItem, facts: CaseFacts | undefined): OutboundChange | null {
  if (!facts) return null;
  const type = alert.kind === 'LIGHT_CHANGED' ? OUTBOUND_TYPES.light : OUTBOUND_TYPES.violation;
  const data: OutboundData = {
    supervisionCode: alert.supervisionCode, department: alert.department, item: facts.item, status: facts.status, level: alert.level, at: alert.at,
    ...(alert.kind === 'LIGHT_CHANGED' ? { light: { from: alert.from ?? null, ...(alert.to ? { to: alert.to } : {}) } } : {}),
    ...(alert.violation ? { violation: alert.violation } : {}),
  };
  // An alert holds no personal data: one body serves both kinds of subscription.
  const body: OutboundEvent = {
    specversion: '1.0', id: String(alert.id), source: SUPERVISOR_SOURCE, type, subject: alert.supervisionCode, time: alert.at,
    datacontenttype: 'application/json', data,
  };
  return { id: body.id, type, supervisionCode: alert.supervisionCode, departmentCode: alert.department.code, itemCode: facts.item.code, status: facts.status, clear: body, masked: body };
}
