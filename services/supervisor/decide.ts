import { STATUS_CLASSES } from '../../core/kernel/constants';
import { dateOfDay, dayOf, startOfDay, WorkingCalendar } from '../../core/calendar/working-calendar';
import type { CanonicalStatus } from '../../contracts/types';
import { computeSupervision, ItemLimits, Supervision } from './rules';
import type { NewAlert, StatsMark, SupervisedRow, SupervisedUpdate } from './supervision-store';
import { STAT_COLUMNS } from './supervision-store';

const FINAL: ReadonlySet<CanonicalStatus> = new Set(STATUS_CLASSES.final);
const COMPLETED: ReadonlySet<CanonicalStatus> = new Set(STATUS_CLASSES.completed);

/**
 * What a case counts for in the statistics, given what the rules say of it: received; in progress
 * until a final status; completed (COMPLETED, DELIVERED), on time or not; the working days from
 * acceptance to completion; its light and its violations. Counted on the acceptance date, or on the
 * date of first sight for a case never accepted.
 */
export function statsMark(row: Pick<SupervisedRow, 'department' | 'hall' | 'status' | 'timeline'>, s: Supervision): StatsMark | null {
  if (!row.timeline.length) return null;
  const day = s.acceptedDay ?? dayOf(new Date(row.timeline[0].time));
  const completed = COMPLETED.has(row.status);
  const timed = completed && s.workingDays !== null;
  const c: Record<(typeof STAT_COLUMNS)[number], number> = {
    received: 1,
    in_progress: FINAL.has(row.status) ? 0 : 1,
    completed: completed ? 1 : 0,
    on_time: completed && s.onTime === true ? 1 : 0,
    timed: timed ? 1 : 0,
    working_days: timed ? s.workingDays! : 0,
    green: s.light === 'GREEN' ? 1 : 0,
    yellow: s.light === 'YELLOW' ? 1 : 0,
    red: s.light === 'RED' ? 1 : 0,
    violations: s.violations.length,
  };
  return { department: row.department, hall: row.hall, day: dateOfDay(day), counts: STAT_COLUMNS.map((k) => c[k]) };
}

/**
 * The supervisor's decision on one case row at `now`: its new supervision values (null when they
 * are what the row holds) and the alerts the change raises. A light that changes to YELLOW or RED is
 * an alert (a new case's first light only when it is not GREEN); a change to GREEN is not. Every
 * violation not on the row before is an alert, once: a row recomputed again finds it there.
 */
export function decideCase(row: SupervisedRow, limits: ItemLimits | null, calendar: WorkingCalendar, now: Date): { update: SupervisedUpdate | null; alerts: NewAlert[]; supervision: Supervision } {
  const s = computeSupervision({ timeline: row.timeline, limits, now }, calendar);
  const mark = statsMark(row, s);
  // A paused case's light stands still, but its deadline is shown as if the pause ended today: it is
  // recomputed at the start of every day the pause lasts.
  const due = s.nextChangeAt ?? (s.paused && s.deadline ? startOfDay(dayOf(now) + 1) : null);
  const update: SupervisedUpdate = {
    code: row.code, light: s.light, deadline: s.deadline, paused: s.paused, violations: s.violations, lightDueAt: due, mark,
  };
  const same = row.light === s.light
    && row.deadlineMs === (s.deadline?.getTime() ?? null)
    && row.paused === s.paused
    && row.dueMs === (due?.getTime() ?? null)
    && sameViolations(row.violations, s.violations)
    && sameMark(row.mark, mark);
  const alerts: NewAlert[] = [];
  const base = { supervisionCode: row.code, department: row.department, hallCode: row.hall?.code ?? null, at: now };
  if (s.light !== row.light && (s.light === 'YELLOW' || s.light === 'RED')) {
    alerts.push({ ...base, kind: 'LIGHT_CHANGED', level: s.light, from: row.light, to: s.light });
  }
  const known = new Set(row.violations.map((v) => `${v.code}\u0000${v.eventId}`));
  for (const v of s.violations) {
    if (known.has(`${v.code}\u0000${v.eventId}`)) continue;
    alerts.push({ ...base, kind: 'VIOLATION', level: v.code === 'REPEATED_SUPPLEMENT' ? 'YELLOW' : 'RED', violation: { code: v.code, reason: v.reason, eventId: v.eventId } });
  }
  return { update: same ? null : update, alerts, supervision: s };
}

// Rows come back from jsonb, whose objects keep no key order: compared field by field.
function sameViolations(a: readonly Supervision['violations'][number][], b: readonly Supervision['violations'][number][]): boolean {
  return a.length === b.length && a.every((v, i) => v.code === b[i].code && v.eventId === b[i].eventId && v.reason === b[i].reason);
}

function sameMark(a: StatsMark | null, b: StatsMark | null): boolean {
  if (!a || !b) return a === b;
  return a.day === b.day && a.department.code === b.department.code && a.department.name === b.department.name
    && (a.hall?.code ?? null) === (b.hall?.code ?? null) && (a.hall?.name ?? null) === (b.hall?.name ?? null)
    && a.counts.length === b.counts.length && a.counts.every((n, i) => n === b.counts[i]);
}
