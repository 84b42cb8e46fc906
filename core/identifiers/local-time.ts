// Status times arrive in each department's own notation; the canonical form is ISO 8601 in
// Beijing time with an explicit +08:00 offset, so times from every source compare as text.

import { BEIJING_OFFSET_MINUTES, DateParts, beijingParts, beijingYmd, epochMs, isRealDate, pad } from './calendar-date';
import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

/**
 * The notations recognised without being named: `yyyy-MM-dd HH:mm:ss` and `yyyyMMddHHmmss` are
 * wall-clock times; `iso8601` carries its offset, or is a wall-clock time when it has none.
 */
export type LocalTimeFormat = 'yyyy-MM-dd HH:mm:ss' | 'yyyyMMddHHmmss' | 'iso8601';

export const LOCAL_TIME_FORMATS: readonly LocalTimeFormat[] = ['yyyy-MM-dd HH:mm:ss', 'yyyyMMddHHmmss', 'iso8601'];

/** The zone of a wall-clock time when the profile names none: the departments are in China. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

export interface LocalTimeOptions {
  /**
   * `iso8601`, or a pattern of `yyyy` `M` `MM` `d` `dd` `H` `HH` `m` `mm` `s` `ss` `S`…
   * (fraction of a second) with any other character taken literally (letters in single quotes:
   * `yyyy-MM-dd'T'HH:mm`). Without it, the notation is recognised from the input's shape.
   */
  format?: LocalTimeFormat | (string & {});
  /** Zone of a time written without an offset: an IANA name or `±HH:MM`; default Asia/Shanghai. */
  zone?: string;
}

type Field = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'offset';

interface Notation {
  name: string;
  regex: RegExp;
  /** Which capture group holds which field. */
  groups: Field[];
}

// RFC 3339 profile of ISO 8601; the offset may be left out (the time is then read in the zone).
const ISO8601: Notation = {
  name: 'iso8601',
  regex: /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})?$/,
  groups: ['year', 'month', 'day', 'hour', 'minute', 'second', 'fraction', 'offset'],
};

const TOKENS: Record<string, { field: Field; digits: string }> = {
  yyyy: { field: 'year', digits: '\\d{4}' },
  MM: { field: 'month', digits: '\\d{2}' }, M: { field: 'month', digits: '\\d{1,2}' },
  dd: { field: 'day', digits: '\\d{2}' }, d: { field: 'day', digits: '\\d{1,2}' },
  HH: { field: 'hour', digits: '\\d{2}' }, H: { field: 'hour', digits: '\\d{1,2}' },
  mm: { field: 'minute', digits: '\\d{2}' }, m: { field: 'minute', digits: '\\d{1,2}' },
  ss: { field: 'second', digits: '\\d{2}' }, s: { field: 'second', digits: '\\d{1,2}' },
};

/** Compiles a pattern such as `yyyy/M/d H:mm`; throws a RangeError naming what it cannot use. */
function compilePattern(pattern: string): Notation {
  const groups: Field[] = [];
  let source = '^';
  const pieces = /yyyy|MM?|dd?|HH?|mm?|ss?|S{1,9}|'[^']*'|([A-Za-z])\1*|[^A-Za-z']/gu;
  let at = 0;
  for (const m of pattern.matchAll(pieces)) {
    if (m.index !== at) break;
    at += m[0].length;
    const piece = m[0];
    let field: Field | undefined;
    let digits: string | undefined;
    if (TOKENS[piece]) ({ field, digits } = TOKENS[piece]);
    else if (/^S+$/.test(piece)) [field, digits] = ['fraction', `\\d{${piece.length}}`];
    else if (/^[A-Za-z]/.test(piece)) {
      throw new RangeError(`time pattern ${JSON.stringify(pattern)}: unknown letters ${JSON.stringify(piece)} (known: yyyy M MM d dd H HH m mm s ss S; quote literal letters: 'T')`);
    }
    if (field) {
      if (groups.includes(field)) throw new RangeError(`time pattern ${JSON.stringify(pattern)}: the ${field} appears twice`);
      groups.push(field);
      source += `(${digits})`;
    } else {
      source += escapeRegex(piece.startsWith("'") ? piece.slice(1, -1) : piece);
    }
  }
  if (at !== pattern.length) throw new RangeError(`time pattern ${JSON.stringify(pattern)}: unclosed quote at position ${at + 1}`);
  const missing = (['year', 'month', 'day', 'hour', 'minute'] as Field[]).filter((f) => !groups.includes(f));
  if (missing.length) throw new RangeError(`time pattern ${JSON.stringify(pattern)} has no ${missing.join(', ')}`);
  return { name: pattern, regex: new RegExp(source + '$', 'u'), groups };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function notationOf(format: string): Notation {
  return format === 'iso8601' ? ISO8601 : compilePattern(format);
}

const RECOGNISED: readonly Notation[] = LOCAL_TIME_FORMATS.map(notationOf);

/** Offset from UTC, in minutes, of a wall-clock time (given as if it were UTC) in a zone. */
type ZoneOffset = (wallClockAsUtcMs: number) => number;

function zoneOffset(zone: string): ZoneOffset {
  // The hub treats Beijing as a fixed +08:00 (calendar-date.ts), so a time read in its zone agrees
  // with the hub's other Beijing notations even for the summers of 1986–1991.
  if (zone === DEFAULT_TIME_ZONE) return () => BEIJING_OFFSET_MINUTES;
  const fixed = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (fixed) {
    const minutes = Number(fixed[2]) * 60 + Number(fixed[3]);
    if (Number(fixed[2]) > 14 || Number(fixed[3]) > 59) throw new RangeError(`time zone ${zone} is out of range`);
    return () => (fixed[1] === '-' ? -minutes : minutes);
  }
  let parts: Intl.DateTimeFormat;
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  } catch {
    throw new RangeError(`unknown time zone ${JSON.stringify(zone)}; give an IANA name (Asia/Shanghai) or an offset (+08:00)`);
  }
  const offsetAt = (utcMs: number): number => {
    const p = Object.fromEntries(parts.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
    const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
    return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60_000);
  };
  return (wall) => {
    // Two rounds settle a time near a change of offset; in a gap or an overlap the earlier offset wins.
    const first = offsetAt(wall - offsetAt(wall) * 60_000);
    return offsetAt(wall - first * 60_000) === first ? first : offsetAt(wall);
  };
}

// Beyond this range lie typos, not case events; it also keeps clear of the years 0–99 that
// JavaScript dates mistake for 1900–1999.
const MIN_YEAR = 1900;

export type LocalTimeReader = (input: string) => Normalised;

/**
 * A reader of one notation in one zone, compiled once (a profile's field reads many records).
 * Throws a RangeError for a pattern or zone it cannot use, so a bad profile fails when it loads.
 */
export function localTimeReader(options: LocalTimeOptions = {}): LocalTimeReader {
  const notations = options.format !== undefined ? [notationOf(options.format)] : RECOGNISED;
  const offsetOf = zoneOffset(options.zone ?? DEFAULT_TIME_ZONE);
  const expected = notations.map((n) => n.name).join(' or ');
  // Named only when the profile chose it: the clerk then sees the notation the department agreed to.
  const message = options.format !== undefined ? `时间格式错误，应为 ${options.format}` : '时间格式错误';
  return (input) => {
    const text = toHalfWidth(input).trim();
    if (text === '') return refuse('empty', '为空', 'no time given');
    for (const n of notations) {
      const m = n.regex.exec(text);
      if (m) return fromMatch(m, n, offsetOf, input, message);
    }
    return refuse('format', message, `${JSON.stringify(input)} does not match ${expected}`);
  };
}

const readers = new Map<string, LocalTimeReader>();

/**
 * Normalises a time to `yyyy-MM-ddTHH:mm:ss+08:00`. A fraction of a second is kept to the
 * millisecond, and only when it is not zero, so one instant always has one spelling.
 * Without `format`, the notation is recognised from the input's shape; a time without an offset
 * is read in `zone` (Beijing by default). Throws a RangeError for an unusable format or zone.
 */
export function normaliseLocalTime(input: string, format?: LocalTimeFormat | (string & {}), zone?: string): Normalised {
  const key = `${format ?? ''}\0${zone ?? ''}`;
  let reader = readers.get(key);
  if (!reader) {
    reader = localTimeReader({ format, zone });
    // A handful of notations exist; the bound only guards against a caller passing input as format.
    if (readers.size < 64) readers.set(key, reader);
  }
  return reader(input);
}

function fromMatch(m: RegExpExecArray, notation: Notation, offsetOf: ZoneOffset, input: string, formatMessage: string): Normalised {
  const got: Partial<Record<Field, string>> = {};
  notation.groups.forEach((field, i) => { if (m[i + 1] !== undefined) got[field] = m[i + 1]; });
  const parts: DateParts = {
    year: Number(got.year), month: Number(got.month), day: Number(got.day),
    hour: Number(got.hour), minute: Number(got.minute), second: Number(got.second ?? 0),
  };
  // Truncated, not rounded: rounding could carry into the next second, minute or day.
  const fraction = got.fraction?.replace('.', '');
  const fractionMs = fraction ? Number(fraction.slice(0, 3).padEnd(3, '0')) : 0;
  const date = `${pad(parts.year, 4)}-${pad(parts.month)}-${pad(parts.day)}`;
  if (parts.year < MIN_YEAR) {
    return refuse('date', '日期无效', `year ${parts.year} is before ${MIN_YEAR} in ${JSON.stringify(input)}`);
  }
  if (!isRealDate(parts.year, parts.month, parts.day)) {
    return refuse('date', '日期无效', `${date} is not a calendar date`);
  }
  // 24:00 and leap seconds are refused: no department system records either.
  if (parts.hour > 23 || parts.minute > 59 || parts.second > 59) {
    return refuse('date', '时间无效', `${pad(parts.hour)}:${pad(parts.minute)}:${pad(parts.second)} is not a time of day`);
  }
  let offsetMinutes: number;
  const zone = got.offset?.toUpperCase();
  if (zone === undefined) {
    offsetMinutes = offsetOf(epochMs(parts, 0));
  } else if (zone === 'Z') {
    offsetMinutes = 0;
  } else {
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2));
    if (hours > 14 || minutes > 59) return refuse('format', formatMessage, `offset ${zone} in ${JSON.stringify(input)} is out of range`);
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const beijing = beijingParts(new Date(epochMs(parts, offsetMinutes)));
  return accept(formatBeijing(beijing, fractionMs));
}

function formatBeijing(p: DateParts, fractionMs: number): string {
  const fraction = fractionMs === 0 ? '' : `.${pad(fractionMs, 3)}`;
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)}T${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}${fraction}+08:00`;
}

/**
 * `yyyyMMdd` of an instant in Beijing time: the date part of the supervision code and of the
 * calendar rules. Takes a Date or any time {@link normaliseLocalTime} accepts; throws otherwise.
 */
export function beijingDate(iso: string | Date): string {
  if (iso instanceof Date) {
    if (Number.isNaN(iso.getTime())) throw new RangeError('invalid Date');
    return beijingYmd(iso);
  }
  const time = normaliseLocalTime(iso);
  if (!time.ok) throw new RangeError(`cannot read ${JSON.stringify(iso)} as a time: ${time.detail ?? time.rule}`);
  return time.value.slice(0, 10).replace(/-/g, '');
}

/** An instant as the hub writes every time it produces: ISO 8601 in Beijing time, `+08:00`. */
export function beijingIso(instant: Date): string {
  const ms = instant.getTime();
  if (Number.isNaN(ms)) throw new RangeError('invalid Date');
  return formatBeijing(beijingParts(instant), ((ms % 1000) + 1000) % 1000);
}
