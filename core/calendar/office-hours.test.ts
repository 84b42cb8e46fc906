import assert from 'node:assert/strict';
import { isOfficeHours } from './office-hours';
import { WorkingCalendar } from './working-calendar';

describe('office hours', () => {
  // 2026-10-01 (Thursday) is National Day; 2026-09-28 (Monday) an ordinary working day;
  // 2026-10-10 (Saturday) an adjusted working day in this calendar.
  const calendar = new WorkingCalendar([{ year: 2026, holidays: ['2026-10-01'], workdays: ['2026-10-10'] }]);
  const day = { from: '09:00', to: '17:00', days: 'working' as const };

  it('are open from `from` up to, not including, `to`, Beijing time, on a working day', () => {
    assert.equal(isOfficeHours(new Date('2026-09-28T08:59:59+08:00'), day, calendar), false);
    assert.equal(isOfficeHours(new Date('2026-09-28T09:00:00+08:00'), day, calendar), true);
    assert.equal(isOfficeHours(new Date('2026-09-28T16:59:59+08:00'), day, calendar), true);
    assert.equal(isOfficeHours(new Date('2026-09-28T17:00:00+08:00'), day, calendar), false);
    // 01:30 UTC is 09:30 in Beijing.
    assert.equal(isOfficeHours(new Date('2026-09-28T01:30:00Z'), day, calendar), true);
  });

  it('are closed on public holidays and weekends, and open on adjusted working days', () => {
    assert.equal(isOfficeHours(new Date('2026-10-01T10:00:00+08:00'), day, calendar), false);
    assert.equal(isOfficeHours(new Date('2026-10-04T10:00:00+08:00'), day, calendar), false);
    assert.equal(isOfficeHours(new Date('2026-10-10T10:00:00+08:00'), day, calendar), true);
  });

  it('can cover every hour of every day', () => {
    const always = { from: '00:00', to: '24:00', days: 'all' as const };
    for (const t of ['2026-10-01T00:00:00+08:00', '2026-10-04T23:59:59+08:00', '2026-09-28T12:00:00+08:00']) {
      assert.equal(isOfficeHours(new Date(t), always, calendar), true, t);
    }
  });
});
