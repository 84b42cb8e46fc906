import { toHalfWidth } from '../identifiers/half-width';
import { maskIdNumber, maskPhone } from '../identifiers/mask';

/**
 * Masks personal data wherever it may hide in free text or structured log fields: citizen ID
 * numbers (15 to 18 characters, whatever their check character), mobiles (11 digits 1[3-9]…, a
 * 12-digit run starting like one, with or without +86). Digits are read in any spelling the
 * normalisers accept, and more: full-width or other decimal digits, spaces and dashes between
 * them. Organisation credit codes are not personal data and stay readable, because operators need
 * them to find a record.
 *
 * Only whole tokens count: digits inside a longer run of letters and digits belong to an
 * identifier (a message id `…-8ab7-17883356998d` holds a mobile-shaped run that is not a phone
 * number), and a UUID is left as it is. Tokens joined by spaces or dashes are read together
 * (`138 3110 0425`). The masked form keeps the ends (core/identifiers/mask), in ASCII digits.
 */

// What may stand between the digit groups of one number: spaces of every kind, dashes of every
// width, invisible joiners, and the parentheses the phone normaliser takes. Dots and other
// punctuation end a number.
const SEPARATOR = /^[\s\-\u00AD\u2010-\u2015\u2212\u200B-\u200D\u2060\uFE58\uFE63\uFEFF()]$/;
const ASCII_DIGIT = /^[0-9]$/;
const ASCII_LETTER = /^[A-Za-z]$/;
const OTHER_DIGIT = /^\p{Nd}$/u;
const DIGITS = /\p{Nd}/gu;
// Fewer digits than a mobile has: nothing to mask.
const MIN_DIGITS = 11;

// A number made of 15–18 ID characters is read as a citizen ID number.
const ID_SHAPED = /^\d{14,17}[\dX]$/;
const MOBILE_SHAPED = /^1[3-9]\d{9,10}$/;
const PREFIXED_MOBILE = /^((?:00)?86)(1[3-9]\d{9})$/;
const COUNTRY_PREFIX = new Set(['86', '0086']);
const LONGEST = 18;
// Two dates side by side (`2026-11-24 2026-11-30`) are 16 digits too, but no ID starts with 19 or 20.
const DATE = '(?:19|20)\\d\\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])';
const DATE_PAIR = new RegExp(`^${DATE}${DATE}$`);
// What this module writes for a masked number; read back as it is, so masking twice changes nothing.
const MASKED = /^\**(?:(?:00)?86)?\d{3,4}\*{3,}\d{3}[\dX]\**$/;

type Token = { start: number; end: number; text: string; kind: 'digits' | 'check' | 'other' };

/** Masks every citizen ID number and mobile in a text. */
export function maskText(text: string): string {
  if (!hasDigits(text, MIN_DIGITS)) return text;
  const chars = Array.from(text);
  const norm = fold(text);
  const tokens = tokenise(norm);
  const spans = personalSpans(tokens, norm);
  if (spans.length === 0) return text;
  let out = '';
  let at = 0;
  for (const [i, j] of spans) {
    out += chars.slice(at, tokens[i].start).join('') + maskRun(concat(tokens, i, j));
    at = tokens[j].end;
  }
  return out + chars.slice(at).join('');
}

function hasDigits(text: string, atLeast: number): boolean {
  DIGITS.lastIndex = 0;
  let n = 0;
  while (DIGITS.exec(text)) if (++n >= atLeast) return true;
  return false;
}

/** The text's characters as the normalisers read them: full-width folded, any decimal digit as ASCII. */
function fold(text: string): string[] {
  // toHalfWidth maps one UTF-16 unit to one, so positions stay those of the text.
  return Array.from(toHalfWidth(text), (ch) => (ch.charCodeAt(0) >= 0x80 && OTHER_DIGIT.test(ch) ? String(decimalValue(ch.codePointAt(0)!)) : ch));
}

// Unicode encodes decimal digits in contiguous runs of ten, 0 to 9 (a stability policy).
function decimalValue(cp: number): number {
  let zero = cp;
  while (OTHER_DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return (cp - zero) % 10;
}

/** Runs of letters and digits, split at `*`; a run this module wrote is read as one opaque token. */
function tokenise(norm: string[]): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < norm.length) {
    if (!isWord(norm[i]) && norm[i] !== '*') { i++; continue; }
    let end = i;
    while (end < norm.length && (isWord(norm[end]) || norm[end] === '*')) end++;
    const run = norm.slice(i, end).join('');
    if (MASKED.test(run)) {
      tokens.push({ start: i, end, text: run, kind: 'other' });
    } else {
      for (let s = i; s < end;) {
        if (norm[s] === '*') { s++; continue; }
        let e = s;
        while (e < end && norm[e] !== '*') e++;
        const text = norm.slice(s, e).join('').toUpperCase();
        tokens.push({ start: s, end: e, text, kind: /^\d+$/.test(text) ? 'digits' : /^\d*X$/.test(text) ? 'check' : 'other' });
        s = e;
      }
    }
    i = end;
  }
  // A UUID (8-4-4-4-12 hex digits) is an identifier of the hub's, whatever digits it holds.
  for (let k = 0; k + 4 < tokens.length; k++) {
    const five = tokens.slice(k, k + 5);
    if (five.every((t, n) => HEX.test(t.text) && t.text.length === UUID_GROUPS[n] && (n === 0 || (t.start === five[n - 1].end + 1 && norm[t.start - 1] === '-')))) {
      for (const t of five) t.kind = 'other';
    }
  }
  return tokens;
}

const HEX = /^[0-9A-F]+$/;
const UUID_GROUPS = [8, 4, 4, 4, 12];

const isWord = (ch: string) => ASCII_DIGIT.test(ch) || ASCII_LETTER.test(ch);

/** Whether two neighbouring tokens are one number: only separators between them. */
function joined(a: Token, b: Token, norm: string[]): boolean {
  if (b.start === a.end) return false;
  for (let k = a.end; k < b.start; k++) if (!SEPARATOR.test(norm[k])) return false;
  return true;
}

/** Token ranges [first, last] to mask: every run of joined tokens shaped like personal data, overlaps merged. */
function personalSpans(tokens: Token[], norm: string[]): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].kind === 'other') continue;
    let text = '';
    for (let j = i; j < tokens.length; j++) {
      const t = tokens[j];
      if (t.kind === 'other') break;
      text += t.text;
      if (text.length > LONGEST) break;
      // A separate `86` or `0086` is a country prefix: the mobile after it is found on its own.
      const prefix = COUNTRY_PREFIX.has(tokens[i].text) && MOBILE_SHAPED.test(text.slice(tokens[i].text.length));
      if (!prefix && ((ID_SHAPED.test(text) && !DATE_PAIR.test(text)) || MOBILE_SHAPED.test(text) || PREFIXED_MOBILE.test(text))) {
        const last = spans[spans.length - 1];
        if (last && last[1] >= i) last[1] = Math.max(last[1], j);
        else spans.push([i, j]);
      }
      if (t.kind === 'check' || j + 1 >= tokens.length || !joined(t, tokens[j + 1], norm)) break;
    }
  }
  return spans;
}

const concat = (tokens: Token[], i: number, j: number) => tokens.slice(i, j + 1).map((t) => t.text).join('');

function maskRun(digits: string): string {
  const prefixed = PREFIXED_MOBILE.exec(digits);
  if (prefixed) return prefixed[1] + maskPhone(prefixed[2]);
  if (MOBILE_SHAPED.test(digits)) return maskPhone(digits);
  return maskIdNumber(digits);
}

const PERSONAL_KEYS = new Set(['idNumber', 'mobile', 'phone', 'SFZMHM', 'LXDH']);
const MAX_DEPTH = 32;

/**
 * Deep copy with personal data masked: values of keys known to hold it whole, and in every other
 * string (object keys included) what looks like it. Past MAX_DEPTH a value is masked as its JSON text.
 */
export function maskPersonalData<T>(input: T): T {
  return mask(input, 0, new Set()) as T;
}

function mask(input: unknown, depth: number, ancestors: Set<object>): unknown {
  if (input === null || input === undefined || typeof input === 'boolean') return input;
  if (typeof input === 'string') return maskText(input);
  if (typeof input === 'number' || typeof input === 'bigint') return maskNumber(input);
  if (typeof input !== 'object') return input;
  if (input instanceof Date || Buffer.isBuffer(input)) return input;
  if (ancestors.has(input)) return '[Circular]';
  if (depth >= MAX_DEPTH) return maskedJson(input);
  ancestors.add(input);
  try {
    if (Array.isArray(input)) return input.map((v) => mask(v, depth + 1, ancestors));
    if (input instanceof Error) return maskError(input, depth, ancestors);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
      const value = PERSONAL_KEYS.has(k) && (typeof v === 'string' || typeof v === 'number') ? maskValue(v) : mask(v, depth + 1, ancestors);
      // Defined, not assigned: a `__proto__` key stays a key.
      Object.defineProperty(out, maskText(k), { value, writable: true, enumerable: true, configurable: true });
    }
    return out;
  } finally {
    ancestors.delete(input);
  }
}

/** A number stays a number unless its digits are personal data; then it becomes the masked text. */
function maskNumber(n: number | bigint): number | bigint | string {
  const text = String(n);
  const masked = maskText(text);
  return masked === text ? n : masked;
}

/** A copy of the error (same prototype, so loggers still see an error) with its texts masked. */
function maskError(err: Error, depth: number, ancestors: Set<object>): Error {
  const copy = Object.create(Object.getPrototypeOf(err)) as Error;
  const hidden = (key: string, value: unknown) => Object.defineProperty(copy, key, { value, writable: true, configurable: true, enumerable: false });
  hidden('message', maskText(String(err.message)));
  if (err.stack !== undefined) hidden('stack', maskText(String(err.stack)));
  if (Object.prototype.hasOwnProperty.call(err, 'name')) hidden('name', maskText(String(err.name)));
  if ('cause' in err) hidden('cause', mask(err.cause, depth + 1, ancestors));
  if (Array.isArray((err as AggregateError).errors)) hidden('errors', mask((err as AggregateError).errors, depth + 1, ancestors));
  for (const [k, v] of Object.entries(err)) (copy as unknown as Record<string, unknown>)[maskText(k)] = mask(v, depth + 1, ancestors);
  return copy;
}

/** The value's JSON text with its strings, keys and numbers masked one by one (escapes would hide their edges). */
function maskedJson(value: object): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'string') return maskText(v);
      if (typeof v === 'number') return maskNumber(v);
      if (typeof v === 'bigint') return maskText(v.toString());
      if (typeof v !== 'object' || v === null) return v;
      if (seen.has(v)) return '[Circular]';
      seen.add(v);
      if (Array.isArray(v)) return v;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const value = PERSONAL_KEYS.has(k) && (typeof x === 'string' || typeof x === 'number') ? maskValue(x) : x;
        Object.defineProperty(out, maskText(k), { value, writable: true, enumerable: true, configurable: true });
      }
      return out;
    }) ?? '';
  } catch {
    return maskText(String(value));
  }
}

/** A value of a personal key: masked whole, a mobile to its prefix and last four digits. */
function maskValue(value: string | number): string | number {
  const text = String(value);
  const folded = fold(text).filter((ch) => !SEPARATOR.test(ch)).join('');
  const mobile = /^(?:\+?86)?(1[3-9]\d{9})$/.exec(folded);
  if (mobile) return maskPhone(mobile[1]);
  if (folded.length >= 8) return maskIdNumber(folded);
  const masked = maskText(text);
  return masked === text ? value : masked;
}
