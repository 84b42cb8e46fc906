// The State Council's holiday notices as data: contracts/calendar/<year>.yaml, one file a year,
// checked against contracts/v1/calendar.schema.json and then for sense (real dates of the year,
// adjusted working days on weekends, no overlaps), so that a wrong file is refused by name.

import fs from 'node:fs';
import path from 'node:path';
import Ajv, { ErrorObject } from 'ajv';
import YAML from 'yaml';
import schema from '../../contracts/v1/calendar.schema.json';
import { ConfigError } from '../kernel/errors';
import { ROOT } from '../kernel/paths';
import { CalendarYear, WorkingCalendar, dateOfDay, dayOfDate, weekdayOf, yearOfDay } from './working-calendar';

/** Where the hub finds the calendar files: every `<year>.yaml` in it is loaded. */
export const DEFAULT_CALENDAR_DIR = path.join(ROOT, 'contracts', 'calendar');

/** The longest holiday (days off in a row) a notice gives. */
export const MAX_HOLIDAY_DAYS = 15;
/** How far outside its year an adjusted working day may fall (one of a holiday across New Year). */
export const BOUNDARY_DAYS = 15;

/** A calendar file's name: `<year>.yaml`. */
export const CALENDAR_FILE = /^(\d{4})\.yaml$/;

const WEEKDAYS = ['', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

interface HolidayEntry { name: string; from: string; to: string; workdays?: string[] }
interface CalendarDoc { year: number; source: string; holidays: HolidayEntry[] }

const validate = new Ajv({ allErrors: true, strict: false }).compile<CalendarDoc>(schema);

/** `holidays[1].workdays[0]` for the JSON pointer `/holidays/1/workdays/0`. */
function fieldOf(pointer: string): string {
  return pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

function valueAt(data: unknown, pointer: string): unknown {
  let v: any = data;
  for (const p of pointer.split('/').slice(1)) v = v == null ? undefined : v[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

/** One schema problem in words, with the field it concerns and the value found there. */
function schemaProblem(e: ErrorObject, data: unknown): { field: string; value: unknown; why: string } {
  const at = fieldOf(e.instancePath);
  const join = (name: string) => (at ? `${at}.${name}` : name);
  if (e.keyword === 'required') return { field: join(e.params.missingProperty), value: undefined, why: 'is missing' };
  if (e.keyword === 'additionalProperties') {
    const key = e.params.additionalProperty as string;
    return { field: join(key), value: valueAt(data, `${e.instancePath}/${key}`), why: 'is not a field of a calendar file' };
  }
  const value = valueAt(data, e.instancePath);
  if (e.keyword === 'pattern') return { field: at || '/', value, why: 'is not a date YYYY-MM-DD' };
  if (e.keyword === 'type' && e.params.type === 'string' && value instanceof Date) {
    return { field: at || '/', value, why: 'must be a date string YYYY-MM-DD (quote it)' };
  }
  return { field: at || '/', value, why: e.message ?? 'is not valid' };
}

function show(value: unknown): string {
  if (value === undefined) return '';
  if (value instanceof Date) return ` (${value.toISOString()})`;
  return ` (${JSON.stringify(value)})`;
}

/** The day of a date in the file, refused by name when there is no such date. */
function dayIn(file: string, field: string, holiday: string, date: string): number {
  try {
    return dayOfDate(date);
  } catch {
    throw new ConfigError(`${file}: holiday ${holiday}: ${field} ${date} is not a real date`, { file, field, value: date, holiday });
  }
}

/**
 * Parses one year's calendar file and checks it: against the schema, then that every date is real
 * and in the file's year (adjusted working days may fall up to BOUNDARY_DAYS outside it), that each
 * holiday runs forwards for at most MAX_HOLIDAY_DAYS days, that adjusted working days fall on a
 * Saturday or Sunday, and that no day is given twice. A problem is a ConfigError naming the file,
 * the holiday, the field and the value.
 */
export function parseCalendarYear(text: string, file: string): CalendarYear {
  let data: unknown;
  try {
    data = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { file, field: '/', value: undefined });
  }
  if (!validate(data)) {
    const problems = (validate.errors ?? []).map((e) => schemaProblem(e, data));
    const first = problems[0] ?? { field: '/', value: data, why: 'is not a calendar file' };
    const text = problems.map((p) => `${p.field} ${p.why}${show(p.value)}`).join('; ');
    throw new ConfigError(`${file}: ${text}`, { file, field: first.field, value: first.value });
  }
  const doc = data;
  const first = dayOfDate(`${String(doc.year)}-01-01`);
  const last = dayOfDate(`${String(doc.year)}-12-31`);

  const daysOff = new Map<number, string>(); // day → holiday
  const workdays = new Map<number, string>();
  doc.holidays.forEach((h, i) => {
    const at = `holidays[${i}]`;
    const fail = (field: string, value: string, why: string): never => {
      throw new ConfigError(`${file}: holiday ${h.name}: ${field} ${value} ${why}`, { file, field: `${at}.${field}`, value, holiday: h.name });
    };
    const from = dayIn(file, `${at}.from`, h.name, h.from);
    const to = dayIn(file, `${at}.to`, h.name, h.to);
    if (yearOfDay(from) !== doc.year) fail('from', h.from, `is not in ${doc.year}, the file's year`);
    if (yearOfDay(to) !== doc.year) fail('to', h.to, `is not in ${doc.year}, the file's year`);
    if (to < from) fail('to', h.to, `is before from ${h.from}`);
    if (to - from + 1 > MAX_HOLIDAY_DAYS) fail('to', h.to, `makes the holiday ${to - from + 1} days long (from ${h.from}); a holiday is at most ${MAX_HOLIDAY_DAYS} days`);
    for (let d = from; d <= to; d++) {
      const other = daysOff.get(d);
      if (other !== undefined) fail('from', h.from, `overlaps holiday ${other} on ${dateOfDay(d)}`);
      daysOff.set(d, h.name);
    }
    (h.workdays ?? []).forEach((w, j) => {
      const field = `workdays[${j}]`;
      const d = dayIn(file, `${at}.${field}`, h.name, w);
      if (d < first - BOUNDARY_DAYS || d > last + BOUNDARY_DAYS) {
        fail(field, w, `is not in ${doc.year}, the file's year (an adjusted working day may fall at most ${BOUNDARY_DAYS} days outside it)`);
      }
      const wd = weekdayOf(d);
      if (wd <= 5) fail(field, w, `is a ${WEEKDAYS[wd]}: an adjusted working day is a Saturday or Sunday`);
      const other = workdays.get(d);
      if (other !== undefined) fail(field, w, `is already an adjusted working day of holiday ${other}`);
      workdays.set(d, h.name);
    });
  });
  // Checked once all holidays are known: a workday may come before the holiday that has it off.
  doc.holidays.forEach((h, i) => {
    (h.workdays ?? []).forEach((w, j) => {
      const off = daysOff.get(dayOfDate(w));
      if (off !== undefined) {
        throw new ConfigError(`${file}: holiday ${h.name}: workdays[${j}] ${w} is also a day off of holiday ${off}`, { file, field: `holidays[${i}].workdays[${j}]`, value: w, holiday: h.name });
      }
    });
  });
  const dates = (days: Iterable<number>) => [...days].sort((a, b) => a - b).map(dateOfDay);
  return { year: doc.year, holidays: dates(daysOff.keys()), workdays: dates(workdays.keys()), source: `${doc.source}; ${file}` };
}

/**
 * Reads and checks one calendar file. A file named `<year>.yaml` must hold that year (the hub
 * loads it as that year's calendar).
 */
export function readCalendarFile(file: string): CalendarYear {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read it: ${(err as Error).message}`, { file, field: 'file', value: file });
  }
  const year = parseCalendarYear(text, file);
  const named = CALENDAR_FILE.exec(path.basename(file));
  if (named && Number(named[1]) !== year.year) {
    throw new ConfigError(`${file}: year ${year.year} in a file named ${path.basename(file)}: a file <year>.yaml holds that year's calendar`, { file, field: 'year', value: year.year });
  }
  return year;
}

/**
 * Loads every `<year>.yaml` in a folder (other files are left alone), ascending by year. No day may
 * be a day off in one file and an adjusted working day in another.
 */
export function loadCalendarDir(dir: string): { years: CalendarYear[]; files: string[] } {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    throw new ConfigError(`calendar folder ${dir}: cannot read it: ${(err as Error).message}`, { field: 'calendar', value: dir });
  }
  const files = names.filter((n) => CALENDAR_FILE.test(n)).sort().map((n) => path.join(dir, n));
  const years = files.map(readCalendarFile);
  const off = new Map<string, string>();
  years.forEach((y, i) => y.holidays.forEach((d) => off.set(d, files[i])));
  years.forEach((y, i) => {
    for (const d of y.workdays) {
      const where = off.get(d);
      if (where !== undefined) {
        throw new ConfigError(`${files[i]}: adjusted working day ${d} is a day off in ${where}`, { file: files[i], field: 'workdays', value: d });
      }
    }
  });
  return { years, files };
}

/** What the check command says of a year: days off, adjusted working days, working days in the year. */
export function summariseYear(y: CalendarYear, cal: WorkingCalendar): { year: number; holidays: number; workdays: number; workingDays: number } {
  const workingDays = cal.workingDaysBetween(dayOfDate(`${String(y.year - 1)}-12-31`), dayOfDate(`${String(y.year)}-12-31`));
  return { year: y.year, holidays: y.holidays.length, workdays: y.workdays.length, workingDays };
}
