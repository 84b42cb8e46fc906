import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_CALENDAR_DIR, loadCalendarDir } from './calendar-file';
import { WorkingCalendar, dateOfDay, dayOf, dayOfDate, endOfDay, startOfDay, weekdayOf } from './working-calendar';

/** An instant as Beijing wall-clock time, `YYYY-MM-DDTHH:mm:ss+08:00`. */
function beijing(t: Date): string {
  return new Date(t.getTime() + 8 * 3_600_000).toISOString().slice(0, 19) + '+08:00';
}

/** Monday to Friday after `after` up to and including `upTo`, counted on the UTC calendar. */
function weekdaysBetween(after: number, upTo: number): number {
  let n = 0;
  for (let d = after + 1; d <= upTo; d++) {
    const wd = new Date(d * 86_400_000).getUTCDay();
    if (wd !== 0 && wd !== 6) n++;
  }
  return n;
}

describe('WorkingCalendar with the 2026 notice', () => {
  const fallbacks: number[] = [];
  const { years } = loadCalendarDir(DEFAULT_CALENDAR_DIR);
  const cal = new WorkingCalendar(years, (year) => fallbacks.push(year));
  const due = (date: string, n: number) => dateOfDay(cal.addWorkingDays(dayOfDate(date), n));

  beforeEach(() => { fallbacks.length = 0; });

  it('loads 2026 from the shipped folder', () => {
    assert.ok(cal.years().includes(2026));
  });

  it('numbers Beijing days and weekdays', () => {
    assert.equal(weekdayOf(dayOfDate('2026-09-18')), 5);
    assert.equal(weekdayOf(dayOfDate('2026-09-20')), 7);
    assert.equal(dayOf(new Date('2026-09-17T16:00:00Z')), dayOfDate('2026-09-18'));
    assert.equal(dayOf(new Date('2026-09-17T15:59:59Z')), dayOfDate('2026-09-17'));
    assert.equal(beijing(startOfDay(dayOfDate('2026-09-18'))), '2026-09-18T00:00:00+08:00');
    assert.throws(() => dayOfDate('2026-02-30'), RangeError);
  });

  it('accepted Fri 2026-09-18 with 3 days: due at the end of Tue 2026-09-22 (Sun 09-20 is worked)', () => {
    const day = cal.addWorkingDays(dayOfDate('2026-09-18'), 3);
    assert.equal(dateOfDay(day), '2026-09-22');
    assert.equal(beijing(endOfDay(day)), '2026-09-22T23:59:59+08:00');
    assert.equal(cal.isWorkingDay(dayOfDate('2026-09-20')), true);
  });

  it('accepted Thu 2026-09-24 with 3 days: due Wed 2026-09-30, past 中秋 09-25…27', () => {
    assert.equal(due('2026-09-24', 3), '2026-09-30');
  });

  it('accepted Fri 2026-02-13 with 1 day: due Sat 2026-02-14, an adjusted working day', () => {
    assert.equal(due('2026-02-13', 1), '2026-02-14');
  });

  it('0 days: the same day', () => {
    assert.equal(due('2026-09-18', 0), '2026-09-18');
    assert.equal(due('2026-10-03', 0), '2026-10-03');
    assert.throws(() => cal.addWorkingDays(dayOfDate('2026-09-18'), -1), RangeError);
    assert.throws(() => cal.addWorkingDays(dayOfDate('2026-09-18'), 1.5), RangeError);
  });

  it('counts working days over the 国庆 week', () => {
    // 10-01…07 off; 10-08 Thu, 10-09 Fri, 10-10 Sat (adjusted) worked.
    assert.equal(cal.workingDaysBetween(dayOfDate('2026-09-30'), dayOfDate('2026-10-10')), 3);
    assert.equal(cal.workingDaysBetween(dayOfDate('2026-09-30'), dayOfDate('2026-10-07')), 0);
    // 09-20 (Sun, adjusted), 09-21…24, 09-28…30, 10-08…10.
    assert.equal(cal.workingDaysBetween(dayOfDate('2026-09-18'), dayOfDate('2026-10-10')), 11);
    assert.equal(due('2026-09-30', 1), '2026-10-08');
    assert.equal(cal.nextWorkingDay(dayOfDate('2026-09-30')), dayOfDate('2026-10-08'));
    assert.equal(cal.workingDaysBetween(dayOfDate('2026-10-10'), dayOfDate('2026-09-30')), 0);
    assert.deepEqual(fallbacks, []);
  });

  it('counts a year it has no notice for by weekdays, and says so each time', () => {
    // Fri 2027-03-05 + 3: Mon 03-08, Tue 03-09, Wed 03-10; five days looked at, each reported.
    assert.equal(due('2027-03-05', 3), '2027-03-10');
    assert.deepEqual(fallbacks, [2027, 2027, 2027, 2027, 2027]);
    fallbacks.length = 0;
    assert.equal(cal.isWorkingDay(dayOfDate('2027-10-01')), true);
    assert.deepEqual(fallbacks, [2027]);
  });

  it('never reports a fallback for 2026 dates', () => {
    for (let d = dayOfDate('2026-01-01'); d <= dayOfDate('2026-12-31'); d++) cal.isWorkingDay(d);
    assert.equal(due('2026-12-01', 20), '2026-12-29');
    assert.deepEqual(fallbacks, []);
  });

  it('has as many working days after d up to d + n working days as n, and ends on one', () => {
    fc.assert(fc.property(
      fc.integer({ min: dayOfDate('2025-11-01'), max: dayOfDate('2027-02-28') }),
      fc.integer({ min: 0, max: 30 }),
      (d, n) => {
        const end = cal.addWorkingDays(d, n);
        assert.equal(cal.workingDaysBetween(d, end), n);
        if (n > 0) {
          assert.equal(cal.isWorkingDay(end), true);
          // No working day is skipped: the day before the end leaves one still to go.
          assert.equal(cal.workingDaysBetween(d, end - 1), n - 1);
        } else {
          assert.equal(end, d);
        }
      },
    ), { numRuns: 500 });
  });

  it('counts plain weekdays on days of no loaded year', () => {
    fc.assert(fc.property(
      fc.integer({ min: dayOfDate('2028-01-01'), max: dayOfDate('2031-12-31') }),
      fc.integer({ min: 0, max: 60 }),
      (d, m) => {
        assert.equal(cal.workingDaysBetween(d, d + m), weekdaysBetween(d, d + m));
        assert.equal(cal.isWorkingDay(d), weekdaysBetween(d - 1, d) === 1);
      },
    ), { numRuns: 300 });
    assert.ok(fallbacks.length > 0 && fallbacks.every((y) => y >= 2028 && y <= 2032));
  });

  it('honours an adjusted working day a notice puts in a year that is not loaded', () => {
    // A holiday across New Year: Sat 2026-12-26 worked for 2027's 元旦.
    const y2027 = { year: 2027, holidays: ['2027-01-01'], workdays: ['2026-12-26'] };
    const only2027 = new WorkingCalendar([y2027]);
    assert.equal(only2027.isWorkingDay(dayOfDate('2026-12-26')), true);
    assert.equal(only2027.isWorkingDay(dayOfDate('2027-01-01')), false);
    assert.throws(() => new WorkingCalendar([y2027, y2027]), /given twice/);
  });
});
