// Office hours in Beijing time, over the working-day calendar: when a department that sends
// nothing is worth an alert (hub_working_hours, infra/prometheus/rules).

import { dayOf, WorkingCalendar } from './working-calendar';

const DAY_MS = 86_400_000;
const BEIJING_MS = 8 * 3_600_000;

/** From `from` (inclusive) to `to` (exclusive), HH:MM Beijing time (`to` may be 24:00), on working days or every day. */
export interface OfficeHours {
  from: string;
  to: string;
  days: 'working' | 'all';
}

function minuteOf(hhmm: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new RangeError(`not a time HH:MM: ${JSON.stringify(hhmm)}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** Whether an instant falls within the office hours (on a working day of the calendar, when they say so). */
export function isOfficeHours(at: Date, hours: OfficeHours, calendar: WorkingCalendar): boolean {
  if (hours.days === 'working' && !calendar.isWorkingDay(dayOf(at))) return false;
  const minute = Math.floor((((at.getTime() + BEIJING_MS) % DAY_MS) + DAY_MS) % DAY_MS / 60_000);
  return minute >= minuteOf(hours.from) && minute < minuteOf(hours.to);
}
