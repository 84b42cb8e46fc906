import { maskIdNumber, maskPhone } from '../identifiers/mask';

/**
 * Masks personal data wherever it may hide in free text or structured log fields: citizen ID
 * numbers (15 or 18 characters), mobiles (with or without +86). Organisation credit codes are not
 * personal data and stay readable, because operators need them to find a record.
 */
// Only whole tokens: digits inside a longer run of letters and digits belong to an identifier (a
// message id `…-8ab7-17883356998d` holds a mobile-shaped run that is not a phone number).
const ID_PATTERN = /(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])/g;
const MOBILE_PATTERN = /(?<![0-9A-Za-z])(?:\+?86[\s-]?)?(1[3-9]\d[\s-]?\d{4}[\s-]?\d{4})(?![0-9A-Za-z])/g;

export function maskText(text: string): string {
  return text
    .replace(ID_PATTERN, (m) => maskIdNumber(m))
    .replace(MOBILE_PATTERN, (_m, n: string) => maskPhone(n.replace(/[\s-]/g, '')));
}

const PERSONAL_KEYS = new Set(['idNumber', 'mobile', 'phone', 'SFZMHM', 'LXDH']);

/** Deep copy with personal data masked: keys known to hold it, and any string that looks like it. */
export function maskPersonalData<T>(input: T, depth = 0): T {
  if (depth > 8 || input === null || input === undefined) return input;
  if (typeof input === 'string') return maskText(input) as unknown as T;
  if (Array.isArray(input)) return input.map((v) => maskPersonalData(v, depth + 1)) as unknown as T;
  if (typeof input === 'object' && !(input instanceof Date) && !Buffer.isBuffer(input)) {
    if (input instanceof Error) return input;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      out[k] = PERSONAL_KEYS.has(k) && typeof v === 'string' ? maskValue(v) : maskPersonalData(v, depth + 1);
    }
    return out as T;
  }
  return input;
}

function maskValue(v: string): string {
  const digits = v.replace(/[\s+-]/g, '');
  if (/^(86)?1[3-9]\d{9}$/.test(digits)) return maskPhone(digits.slice(-11));
  if (v.length >= 8) return maskIdNumber(v);
  return maskText(v);
}
