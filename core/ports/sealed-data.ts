import type { Applicant, CaseEvent } from '../../contracts/types';
import type { DataKeys } from '../kernel/data-keys';
import { sealedKeyId } from '../kernel/data-keys';
import { normaliseCitizenId } from '../identifiers/citizen-id';
import { normaliseUscc } from '../identifiers/uscc';
import { toHalfWidth } from '../identifiers/half-width';

/**
 * The personal data of a canonical event as the store and the bus hold it: the applicant's name,
 * ID number and mobile sealed together, with the keyed hash of the ID number beside them for
 * look-ups; the officer's name and the remark (free text) sealed alone. What is not personal (the
 * applicant's kind and ID type) stays readable. Opening gives back the event's own values.
 */
export interface SealedApplicant {
  kind: Applicant['kind'];
  idType: Applicant['idType'];
  /** DataKeys.seal of the rest of the applicant (name, ID number, mobile, phone) */
  sealed: string;
  /** DataKeys.lookupKey('idNumber', idNumber) */
  idKey: string;
}

/** An applicant as stored: sealed, or plain when stored before sealing. */
export type StoredApplicant = Applicant | SealedApplicant;

/** The contexts sealed values are bound to: a value sealed for one does not open as another. */
export const SEALED = {
  applicant: 'event.applicant',
  officer: 'event.officer',
  remark: 'event.remark',
  deadLetterRecord: 'dead-letter.record',
  deadLetterValue: 'dead-letter.value',
  inbox: 'inbox.body',
} as const;

export function isSealedApplicant(a: unknown): a is SealedApplicant {
  return !!a && typeof a === 'object' && typeof (a as SealedApplicant).sealed === 'string';
}

export function sealApplicant(keys: DataKeys, a: StoredApplicant): SealedApplicant {
  if (isSealedApplicant(a)) return a;
  // Everything but the kind and the ID type is sealed: name, ID number, mobile, phone, and whatever
  // the canonical applicant comes to hold.
  const { kind, idType, ...personal } = a;
  return { kind, idType, sealed: keys.seal(JSON.stringify(personal), SEALED.applicant), idKey: keys.lookupKey('idNumber', a.idNumber) };
}

export function openApplicant(keys: DataKeys, a: StoredApplicant): Applicant {
  if (!isSealedApplicant(a)) return a;
  return { kind: a.kind, idType: a.idType, ...(JSON.parse(keys.open(a.sealed, SEALED.applicant)) as Omit<Applicant, 'kind' | 'idType'>) };
}

/** A free text (officer, remark) sealed; null stays null, and a sealed one stays as it is. */
export function sealText(keys: DataKeys, v: string | null | undefined, context: string): string | null {
  if (v === null || v === undefined) return null;
  return sealedKeyId(v) !== null ? v : keys.seal(v, context);
}

/** A text as stored, opened: a value stored before sealing is answered as it is. */
export function openText(keys: DataKeys, v: string | null | undefined, context: string): string | null {
  if (v === null || v === undefined) return null;
  return sealedKeyId(v) !== null ? keys.open(v, context) : v;
}

type WithPersonal = { data: Pick<CaseEvent['data'], 'applicant'> & Partial<Pick<CaseEvent['data'], 'officer' | 'remark'>> };

/** The event with its applicant, officer and remark each passed through `applicant` and `text` (a new object). */
function eachPersonal<E extends WithPersonal>(e: E, applicant: (a: StoredApplicant) => StoredApplicant, text: (v: string | null | undefined, context: string) => string | null): E {
  const d = e.data;
  const data: Record<string, unknown> = { ...d, applicant: applicant(d.applicant as StoredApplicant) };
  if ('officer' in d) data.officer = text(d.officer, SEALED.officer);
  if ('remark' in d) data.remark = text(d.remark, SEALED.remark);
  return { ...e, data } as E;
}

/** The event with its personal data sealed (a new object; the event given is not changed). */
export function sealEvent<E extends WithPersonal>(keys: DataKeys, e: E): E {
  return eachPersonal(e, (a) => sealApplicant(keys, a), (v, c) => sealText(keys, v, c));
}

/** The event with its personal data opened. */
export function openEvent<E extends WithPersonal>(keys: DataKeys, e: E): E {
  return eachPersonal(e, (a) => openApplicant(keys, a), (v, c) => openText(keys, v, c));
}

/**
 * An ID number as a look-up compares it: the form the mapping stores (a citizen ID's 18 characters
 * with its check letter in capitals, a USCC, else the value in half-width capitals without spaces).
 */
export function lookupIdNumber(input: string): string {
  const citizen = normaliseCitizenId(input, new Date(), { legacy: true });
  if (citizen.ok) return String(citizen.value);
  const uscc = normaliseUscc(input);
  if (uscc.ok) return String(uscc.value);
  return toHalfWidth(input).replace(/[\s-]/g, '').toUpperCase();
}
