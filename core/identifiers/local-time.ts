// Status times arrive in each department's own notation; the canonical form is ISO 8601 in
// Beijing time with an explicit +08:00 offset, so times from every source compare as text.

import { BEIJING_OFFSET_MINUTES, DateParts, beijingParts, beijingYmd, epochMs, isRealDate, pad } from './calendar-date';
import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

/** `yyyy-MM-dd HH:mm:ss` and `yyyyMMddHHmmss` are Beijing wall-clock times; `iso8601` carries its offset. */
export type LocalTimeFormat = 'yyyy-MM-dd HH:mm:ss' | 'yyyyMMddHHmmss' | 'iso8601';

export const LOCAL_TIME_FORMATS: readonly LocalTimeFormat[] = ['yyyy-MM-dd HH:mm:ss', 'yyyyMMddHHmmss', 'iso8601'];

const PATTERNS: Record<LocalTimeFormat, RegExp> = {
  'yyyy-MM-dd HH:mm:ss': /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/,
  yyyyMMddHHmmss: /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/,
  // RFC 3339 profile of ISO 8601: a zone-less time is refused, as its instant is unknowable.
  iso8601: /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:?\d{2})$/,
};

// Beyond this range lie typos, not case events; it also keeps clear of the years 0–99 that
// JavaScript dates mistake for 1900–1999.
const MIN_YEAR = 1900;

/**
 * Normalises a time to `yyyy-MM-ddTHH:mm:ss+08:00`. A fraction of a second is kept to the
 * millisecond, and only when it is not zero, so one instant always has one spelling.
 * Without `format`, the notation is recognised from the input's shape.
 */
export function normaliseLocalTime(input: string, format?: LocalTimeFormat): Normalised {
  const text = toHalfWidth(input).trim();
  if (text === '') return refuse('empty', '为空', 'no time given');
  if (format !== undefined && !(format in PATTERNS)) {
    throw new RangeError(`unknown time format ${JSON.stringify(format)}; known: ${LOCAL_TIME_FORMATS.join(', ')}`);
  }
  const candidates = format ? [format] : LOCAL_TIME_FORMATS;
  for (const f of candidates) {
    const m = PATTERNS[f].exec(text);
    if (m) return fromMatch(m, f);
  }
  return refuse('format', '时间格式错误', `${JSON.stringify(text)} does not match ${candidates.join(' or ')}`);
}

function fromMatch(m: RegExpExecArray, format: LocalTimeFormat): Normalised {
  const parts: DateParts = {
    year: Number(m[1]), month: Number(m[2]), day: Number(m[3]),
    hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6]),
  };
  // Truncated, not rounded: rounding could carry into the next second, minute or day.
  const fractionMs = format === 'iso8601' && m[7] ? Number(m[7].slice(1, 4).padEnd(3, '0')) : 0;
  if (parts.year < MIN_YEAR) {
    return refuse('date', '日期无效', `year ${parts.year} is before ${MIN_YEAR}`);
  }
  if (!isRealDate(parts.year, parts.month, parts.day)) {
    return refuse('date', '日期无效', `${m[1]}-${m[2]}-${m[3]} is not a calendar date`);
  }
  // 24:00 and leap seconds are refused: no department system records either.
  if (parts.hour > 23 || parts.minute > 59 || parts.second > 59) {
    return refuse('date', '时间无效', `${m[4]}:${m[5]}:${m[6]} is not a time of day`);
  }
  let offsetMinutes = BEIJING_OFFSET_MINUTES;
  if (format === 'iso8601') {
    const zone = m[8].toUpperCase();
    if (zone === 'Z') {
      offsetMinutes = 0;
    } else {
      const digits = zone.slice(1).replace(':', '');
      const hours = Number(digits.slice(0, 2));
      const minutes = Number(digits.slice(2));
      if (hours > 14 || minutes > 59) return refuse('format', '时间格式错误', `offset ${zone} is out of range`);
      offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
    }
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
