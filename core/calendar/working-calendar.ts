// Working days (工作日) in Beijing time: Monday to Friday, minus the public holidays, plus the
// adjusted working days (调休上班) of each year's State Council notice. The notices are data
// (contracts/calendar/<year>.yaml, read by calendar-file.ts); this is the arithmetic over them.
//
// Days are numbered: day 0 is 1970-01-01 in Beijing, and a day runs from 00:00 to 24:00 +08:00.
// Beijing has had no daylight saving since 1991; the hub treats it as a fixed UTC+08:00.

import { isRealDate } from '../identifiers/calendar-date';

const DAY_MS = 86_400_000;
const BEIJING_MS = 8 * 3_600_000;

/** One year's notice: the days off and the adjusted working days, as `YYYY-MM-DD`. */
export interface CalendarYear {
  year: number;
  /** Public holidays: not working days, even from Monday to Friday. */
  holidays: readonly string[];
  /** Adjusted working days: working days, even on a Saturday or Sunday. */
  workdays: readonly string[];
  /** Where the year's data comes from (the notice's title, the file). */
  source?: string;
}

/** The Beijing day an instant falls on. */
export function dayOf(instant: Date | number): number {
  const ms = typeof instant === 'number' ? instant : instant.getTime();
  return Math.floor((ms + BEIJING_MS) / DAY_MS);
}

/** The first instant of a Beijing day (00:00:00 +08:00). */
export function startOfDay(day: number): Date {
  return new Date(day * DAY_MS - BEIJING_MS);
}

/** The last second of a Beijing day (23:59:59 +08:00): the moment a deadline of that day ends. */
export function endOfDay(day: number): Date {
  return new Date((day + 1) * DAY_MS - BEIJING_MS - 1000);
}

/** The day of `YYYY-MM-DD` (a Beijing date). */
export function dayOfDate(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`not a date YYYY-MM-DD: ${JSON.stringify(date)}`);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!isRealDate(y, mo, d)) throw new RangeError(`no such date: ${date}`);
  return Math.floor(Date.UTC(y, mo - 1, d) / DAY_MS);
}

/** `YYYY-MM-DD` of a day. */
export function dateOfDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The Gregorian year of a day. */
export function yearOfDay(day: number): number {
  return new Date(day * DAY_MS).getUTCFullYear();
}

/** Day of the week, 1 = Monday … 7 = Sunday (ISO 8601). */
export function weekdayOf(day: number): number {
  // Day 0 (1970-01-01) was a Thursday.
  return ((((day + 3) % 7) + 7) % 7) + 1;
}

/**
 * The working-day calendar of the loaded years. A day outside them counts by weekdays alone, and
 * `onFallback` hears of it (every time such a day is looked at), so that a missing year is never
 * silent.
 */
export class WorkingCalendar {
  private readonly holidays = new Set<number>();
  private readonly workdays = new Set<number>();
  private readonly loaded = new Set<number>();

  constructor(years: readonly CalendarYear[], private readonly onFallback: (year: number) => void = () => undefined) {
    for (const y of years) {
      if (this.loaded.has(y.year)) throw new RangeError(`calendar year ${y.year} is given twice`);
      this.loaded.add(y.year);
      for (const d of y.holidays) this.holidays.add(dayOfDate(d));
      for (const d of y.workdays) this.workdays.add(dayOfDate(d));
    }
  }

  /** The years whose notices are loaded, ascending. */
  years(): number[] {
    return [...this.loaded].sort((a, b) => a - b);
  }

  isWorkingDay(day: number): boolean {
    // A notice may put an adjusted working day in the neighbouring year (a holiday across New
    // Year): a day a loaded notice names counts as it says, whether or not its own year is loaded.
    if (this.holidays.has(day)) return false;
    if (this.workdays.has(day)) return true;
    const year = yearOfDay(day);
    if (!this.loaded.has(year)) this.onFallback(year);
    return weekdayOf(day) <= 5;
  }

  /**
   * The n-th working day after `day` (the day itself not counted); n = 0 answers `day` itself. The
   * deadline of a limit of n working days that starts on `day` is the end of this day.
   */
  addWorkingDays(day: number, n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`working days must be a whole number ≥ 0, not ${n}`);
    let d = day;
    for (let left = n; left > 0;) {
      d++;
      if (this.isWorkingDay(d)) left--;
    }
    return d;
  }

  /** How many working days lie after `after` up to and including `upTo` (0 when upTo ≤ after). */
  workingDaysBetween(after: number, upTo: number): number {
    let n = 0;
    for (let d = after + 1; d <= upTo; d++) if (this.isWorkingDay(d)) n++;
    return n;
  }

  /** The first working day after `day`. */
  nextWorkingDay(day: number): number {
    return this.addWorkingDays(day, 1);
  }
}
