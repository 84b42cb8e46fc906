// Department systems stamp times in Beijing wall-clock time, each in its own notation.

import { beijingParts, pad } from '../../core/identifiers/calendar-date';

/** `yyyy-MM-dd HH:mm:ss` (vehicle office). */
export function beijingDateTime(instant: Date | number): string {
  const p = beijingParts(new Date(instant));
  return `${pad(p.year, 4)}-${pad(p.month)}-${pad(p.day)} ${pad(p.hour)}:${pad(p.minute)}:${pad(p.second)}`;
}

/** `yyyyMMddHHmmss` (tax bureau, file names, vehicle LSH). */
export function beijingCompact(instant: Date | number): string {
  const p = beijingParts(new Date(instant));
  return `${pad(p.year, 4)}${pad(p.month)}${pad(p.day)}${pad(p.hour)}${pad(p.minute)}${pad(p.second)}`;
}

/** `yyyy-MM-ddTHH:mm:ss+08:00` (market regulation). */
export function beijingIso(instant: Date | number): string {
  return `${beijingDateTime(instant).replace(' ', 'T')}+08:00`;
}

/** Parses `yyyy-MM-dd HH:mm:ss` or `yyyyMMddHHmmss` as Beijing time. */
export function parseBeijing(text: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})[ T]?(\d{2}):?(\d{2}):?(\d{2})$/.exec(text);
  if (!m) throw new RangeError(`not a Beijing time: ${JSON.stringify(text)}`);
  return Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`);
}
