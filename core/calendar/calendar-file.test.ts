import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../kernel/errors';
import { DEFAULT_CALENDAR_DIR, loadCalendarDir, parseCalendarYear, summariseYear } from './calendar-file';
import { WorkingCalendar } from './working-calendar';

/** A 2026 file with one holiday: the lines given (indented under `holidays:`). */
function year2026(holiday: string, year = 2026): string {
  return `year: ${year}\nsource: test notice\nholidays:\n${holiday}`;
}

/** The ConfigError a file is refused with; its message names the file and the value. */
function refusal(text: string, file = '2026.yaml'): ConfigError {
  try {
    parseCalendarYear(text, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(err.message.includes(file), `${err.message} does not name ${file}`);
    return err;
  }
  assert.fail('the calendar file was accepted');
}

function tempDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hub-calendar-'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('calendar files', () => {
  it('loads the shipped 2026 notice: 33 days off, 6 adjusted working days', () => {
    const { years, files } = loadCalendarDir(DEFAULT_CALENDAR_DIR);
    const i = files.findIndex((f) => path.basename(f) === '2026.yaml');
    assert.ok(i >= 0, 'contracts/calendar/2026.yaml is missing');
    const y = years[i];
    assert.equal(y.year, 2026);
    assert.equal(y.holidays.length, 3 + 9 + 3 + 5 + 3 + 3 + 7);
    assert.deepEqual(y.workdays, ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10']);
    assert.ok(y.holidays.includes('2026-02-15') && y.holidays.includes('2026-02-23') && y.holidays.includes('2026-10-07'));
    assert.match(y.source ?? '', /国务院办公厅关于2026年部分节假日安排的通知/);
    // 261 weekdays, 19 of them off, 6 weekend days worked.
    assert.deepEqual(summariseYear(y, new WorkingCalendar([y])), { year: 2026, holidays: 33, workdays: 6, workingDays: 248 });
  });

  it('reads unquoted dates as strings (YAML 1.2)', () => {
    const y = parseCalendarYear(year2026('  - name: 元旦\n    from: 2026-01-01\n    to: 2026-01-03\n    workdays: [2026-01-04]\n'), '2026.yaml');
    assert.deepEqual(y.holidays, ['2026-01-01', '2026-01-02', '2026-01-03']);
    assert.deepEqual(y.workdays, ['2026-01-04']);
  });

  it('takes a holiday without workdays, and one of a single day', () => {
    const y = parseCalendarYear(year2026("  - name: 清明节\n    from: '2026-04-05'\n    to: '2026-04-05'\n"), 'x.yaml');
    assert.deepEqual(y.holidays, ['2026-04-05']);
    assert.deepEqual(y.workdays, []);
  });

  it('refuses a file that breaks the schema, naming the field', () => {
    let err = refusal('source: x\nholidays:\n  - { name: a, from: "2026-01-01", to: "2026-01-01" }\n');
    assert.equal(err.data.field, 'year');
    assert.match(err.message, /year is missing/);
    err = refusal(year2026("  - name: 元旦\n    from: '2026-1-1'\n    to: '2026-01-01'\n"));
    assert.equal(err.data.field, 'holidays[0].from');
    assert.equal(err.data.value, '2026-1-1');
    assert.match(err.message, /holidays\[0\]\.from is not a date YYYY-MM-DD \("2026-1-1"\)/);
    err = refusal(year2026("  - name: 元旦\n    from: '2026-01-01'\n    to: '2026-01-01'\n    extra: 1\n"));
    assert.equal(err.data.field, 'holidays[0].extra');
    err = refusal('year: [2026\n');
    assert.match(err.message, /not valid YAML/);
  });

  it('refuses an adjusted working day on a weekday', () => {
    const err = refusal(year2026("  - name: 春节\n    from: '2026-02-15'\n    to: '2026-02-23'\n    workdays: ['2026-02-14', '2026-02-25']\n"));
    assert.match(err.message, /holiday 春节: workdays\[1\] 2026-02-25 is a Wednesday/);
    assert.deepEqual({ field: err.data.field, value: err.data.value }, { field: 'holidays[0].workdays[1]', value: '2026-02-25' });
  });

  it('refuses a holiday that ends before it starts', () => {
    const err = refusal(year2026("  - name: 清明节\n    from: '2026-04-06'\n    to: '2026-04-04'\n"));
    assert.match(err.message, /holiday 清明节: to 2026-04-04 is before from 2026-04-06/);
    assert.equal(err.data.value, '2026-04-04');
  });

  it('refuses a holiday longer than 15 days', () => {
    const err = refusal(year2026("  - name: 春节\n    from: '2026-02-01'\n    to: '2026-02-16'\n"));
    assert.match(err.message, /2026-02-16 makes the holiday 16 days long/);
  });

  it('refuses a date of another year', () => {
    let err = refusal(year2026("  - name: 元旦\n    from: '2027-01-01'\n    to: '2027-01-01'\n"));
    assert.match(err.message, /from 2027-01-01 is not in 2026/);
    assert.equal(err.data.value, '2027-01-01');
    err = refusal(year2026("  - name: 元旦\n    from: '2026-01-01'\n    to: '2026-01-01'\n    workdays: ['2025-11-30']\n"));
    assert.match(err.message, /workdays\[0\] 2025-11-30 is not in 2026/);
  });

  it('takes an adjusted working day just across New Year', () => {
    const y = parseCalendarYear(year2026("  - name: 元旦\n    from: '2026-01-01'\n    to: '2026-01-01'\n    workdays: ['2025-12-27']\n"), '2026.yaml');
    assert.deepEqual(y.workdays, ['2025-12-27']);
  });

  it('refuses a day that is both a holiday and an adjusted working day', () => {
    const err = refusal(year2026(
      "  - name: 劳动节\n    from: '2026-05-01'\n    to: '2026-05-05'\n    workdays: ['2026-05-09']\n" +
      "  - name: 端午节\n    from: '2026-05-08'\n    to: '2026-05-10'\n"));
    assert.match(err.message, /holiday 劳动节: workdays\[0\] 2026-05-09 is also a day off of holiday 端午节/);
    assert.equal(err.data.value, '2026-05-09');
  });

  it('refuses overlapping holidays and a workday given twice', () => {
    let err = refusal(year2026(
      "  - name: 中秋节\n    from: '2026-09-25'\n    to: '2026-10-02'\n" +
      "  - name: 国庆节\n    from: '2026-10-01'\n    to: '2026-10-07'\n"));
    assert.match(err.message, /holiday 国庆节: from 2026-10-01 overlaps holiday 中秋节 on 2026-10-01/);
    err = refusal(year2026(
      "  - name: 中秋节\n    from: '2026-09-25'\n    to: '2026-09-27'\n    workdays: ['2026-09-20']\n" +
      "  - name: 国庆节\n    from: '2026-10-01'\n    to: '2026-10-07'\n    workdays: ['2026-09-20']\n"));
    assert.match(err.message, /2026-09-20 is already an adjusted working day of holiday 中秋节/);
  });

  it('refuses a date that does not exist', () => {
    const err = refusal(year2026("  - name: 春节\n    from: '2026-02-15'\n    to: '2026-02-30'\n"));
    assert.match(err.message, /2026-02-30 is not a real date/);
    assert.equal(err.data.value, '2026-02-30');
  });

  it('loads every <year>.yaml of a folder and nothing else', () => {
    const dir = tempDir({
      '2026.yaml': fs.readFileSync(path.join(DEFAULT_CALENDAR_DIR, '2026.yaml'), 'utf8'),
      '2027.yaml': "year: 2027\nsource: t\nholidays:\n  - { name: 元旦, from: '2027-01-01', to: '2027-01-01' }\n",
      'draft.yaml': 'not: a calendar\n',
      'README.md': '# calendars\n',
    });
    const { years, files } = loadCalendarDir(dir);
    assert.deepEqual(years.map((y) => y.year), [2026, 2027]);
    assert.deepEqual(files.map((f) => path.basename(f)), ['2026.yaml', '2027.yaml']);
  });

  it('refuses a file whose name says another year', () => {
    const dir = tempDir({ '2027.yaml': year2026("  - name: 元旦\n    from: '2026-01-01'\n    to: '2026-01-01'\n") });
    assert.throws(() => loadCalendarDir(dir), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /2027\.yaml: year 2026 in a file named 2027\.yaml/);
      assert.equal(err.data.value, 2026);
      return true;
    });
  });

  it('refuses a day off in one file that another works', () => {
    const dir = tempDir({
      '2026.yaml': year2026("  - name: 跨年\n    from: '2026-12-26'\n    to: '2026-12-27'\n"),
      '2027.yaml': "year: 2027\nsource: t\nholidays:\n  - { name: 元旦, from: '2027-01-01', to: '2027-01-01', workdays: ['2026-12-26'] }\n",
    });
    assert.throws(() => loadCalendarDir(dir), /2027\.yaml: adjusted working day 2026-12-26 is a day off in .*2026\.yaml/);
  });

  it('refuses a folder that is not there', () => {
    assert.throws(() => loadCalendarDir(path.join(os.tmpdir(), 'no-such-calendar-folder')), ConfigError);
  });
});
