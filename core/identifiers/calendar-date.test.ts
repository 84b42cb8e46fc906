import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { beijingParts, beijingYmd, daysInMonth, epochMs, isLeapYear, isRealDate } from './calendar-date';

describe('calendar dates', () => {
  it('knows the Gregorian leap years', () => {
    assert.equal(isLeapYear(2024), true);
    assert.equal(isLeapYear(2026), false);
    assert.equal(isLeapYear(1900), false);
    assert.equal(isLeapYear(2000), true);
    assert.equal(daysInMonth(2024, 2), 29);
    assert.equal(daysInMonth(2026, 2), 28);
  });

  it('tells real dates from impossible ones', () => {
    assert.equal(isRealDate(2026, 11, 30), true);
    assert.equal(isRealDate(2026, 11, 31), false);
    assert.equal(isRealDate(2026, 2, 29), false);
    assert.equal(isRealDate(2026, 13, 1), false);
    assert.equal(isRealDate(2026, 0, 1), false);
    assert.equal(isRealDate(2026, 1, 0), false);
  });

  it('gives the Beijing date of an instant (UTC+8, no daylight saving)', () => {
    assert.equal(beijingYmd(new Date('2026-11-24T15:59:59Z')), '20261124');
    assert.equal(beijingYmd(new Date('2026-11-24T16:00:00Z')), '20261125');
    assert.equal(beijingYmd(new Date('2026-12-31T16:00:00Z')), '20270101');
  });

  it('round-trips wall-clock fields through an instant', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('9999-01-01T00:00:00Z'), noInvalidDate: true }), (d) => {
        const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
        assert.equal(epochMs(beijingParts(whole), 480), whole.getTime());
      }),
    );
  });
});
