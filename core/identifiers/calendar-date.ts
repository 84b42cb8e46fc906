// Calendar arithmetic shared by the date-bearing normalisers. Beijing has had no daylight
// saving since 1991, and the hub treats it as a fixed UTC+08:00 throughout.

export const BEIJING_OFFSET_MINUTES = 8 * 60;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  return [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/** Whether year-month-day names a day of the proleptic Gregorian calendar. */
export function isRealDate(year: number, month: number, day: number): boolean {
  return (
    Number.isInteger(year) && Number.isInteger(month) && Number.isInteger(day) &&
    month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)
  );
}

export type DateParts = { year: number; month: number; day: number; hour: number; minute: number; second: number };

/** The wall-clock fields of an instant in Beijing time. */
export function beijingParts(instant: Date): DateParts {
  const shifted = new Date(instant.getTime() + BEIJING_OFFSET_MINUTES * 60_000);
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
    second: shifted.getUTCSeconds(),
  };
}

export function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `yyyyMMdd` of an instant in Beijing time. */
export function beijingYmd(instant: Date): string {
  const p = beijingParts(instant);
  return `${pad(p.year, 4)}${pad(p.month)}${pad(p.day)}`;
}

/** Milliseconds since the epoch of a wall-clock time at a fixed UTC offset (years 0–99 included). */
export function epochMs(p: DateParts, offsetMinutes: number): number {
  const d = new Date(0);
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, 0);
  return d.getTime() - offsetMinutes * 60_000;
}
