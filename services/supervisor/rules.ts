// The supervision rules of DESIGN.md "Supervision rules": a case's light, deadline and pause from
// its whole timeline, its item's limits and the working-day calendar. Days are Beijing days
// (working-calendar.ts day numbers) of each entry's status time; "today" is the day of `now`.
//
// Pauses. SUPPLEMENT_REQUESTED opens a pause that the next SUPPLEMENTED closes, SUSPENDED one that
// the next RESUMED closes; a closing status with no open pause of its kind is ignored, and a second
// opening while one of its kind is open opens nothing. A pause opened on day p and closed on day r
// covers the working days in (p, r]; one still open covers (p, today], or (p, stop] once the clock
// stopped ("as if the pause ended now"). A clock counts only covered days after its start and up to
// its stop, each day once however many pauses cover it. `paused`: some pause is open at the end of
// the timeline.
//
// Intake (行政许可法 art. 32). Starts at the first SUBMITTED (day s) and ends at the first later
// entry that is not SUBMITTED, SUPPLEMENT_REQUESTED, SUPPLEMENTED, SUSPENDED or RESUMED (day e).
// Deadline day I = intakeDays working days after s plus the paused working days. Open: RED after
// I, YELLOW on I. Ended: RED when e > I (a late acceptance stays RED), else nothing.
//
// Processing. Starts at the first ACCEPTED (day a; not counted) and stops at the first later entry
// that is decided or final (day c). Deadline day D = promisedDays + paused working days after a
// (0: a itself). elapsed(t) = working days in (a, min(t, c)] not covered by a pause. Running: RED
// after D; YELLOW on D or once promisedDays > 0 and elapsed ≥ yellowAt × promisedDays. Stopped: RED
// when c > D (completed late stays RED), else GREEN; onTime = c ≤ D, workingDays = elapsed(c).
//
// While a pause is open the deadline grows with today and elapsed is frozen, so on working days the
// light stands still. On a day off it would not: paused on the deadline day, D is the last working
// day, and a Saturday after it would read RED, the Monday YELLOW again. The light of a paused case
// is therefore read on the first working day from today (and from its last entry): it does not
// move until an event arrives. The deadline stays as if the pause ended today.
//
// Violations (violations.ts): NO_ACCEPTANCE and REOPENED make the case RED, REPEATED_SUPPLEMENT at
// least YELLOW. The light is the most severe of intake, processing and violations, GREEN when none
// applies; without limits (an item not in the catalogue) only the violations are computed.
//
// nextChangeAt: for a fixed timeline a light changes only at the start of a day, and only on the
// intake deadline day or the day after, the first day elapsed reaches the YELLOW share, D or the
// day after; the light is evaluated on those days in order and the first that differs is the
// answer. None when the light is RED (it never clears) or a pause is open (it stands still).

import type { CanonicalStatus } from '../../contracts/types';
import { STATUS_CLASSES } from '../../core/kernel/constants';
import { dayOf, endOfDay, startOfDay } from '../../core/calendar/working-calendar';
import type { WorkingCalendar } from '../../core/calendar/working-calendar';
import { findViolations } from './violations';
import type { TimelineEntry, Violation } from './violations';

export type Light = 'GREEN' | 'YELLOW' | 'RED';

/** An item's limits as the supervision rules read them (the catalogue, with the configuration's overrides). */
export interface ItemLimits {
  /** 承诺时限: working days from acceptance to completion; 0 = handled on the spot (即办件). */
  promisedDays: number;
  /** Working days within which a submitted case must be accepted or refused. */
  intakeDays: number;
  /** YELLOW once this fraction of the promised days has elapsed (default 0.8). */
  yellowAt: number;
}

export interface SupervisionInput {
  /** The case's whole timeline, in orderTimeline's order (status time, then arrival). */
  timeline: readonly TimelineEntry[];
  /** null: the item is not in the catalogue; no light or deadline is computed, violations are. */
  limits: ItemLimits | null;
  now: Date;
}

/** What the supervision rules say of a case at `now`. */
export interface Supervision {
  light: Light | null;
  /** The end (23:59:59 +08:00) of the deadline day; null before acceptance or without limits. While paused, as if the pause ended now. */
  deadline: Date | null;
  paused: boolean;
  violations: Violation[];
  /** The next instant after `now` at which the light changes with no new event; null when it never will. */
  nextChangeAt: Date | null;
  /** Beijing day (working-calendar day number) of the first acceptance; null when none. */
  acceptedDay: number | null;
  /** Beijing day on which the processing clock stopped (first decided or final status after acceptance); null while running. */
  stoppedDay: number | null;
  /** Whether the clock stopped by the deadline; null while running or without acceptance. */
  onTime: boolean | null;
  /** Working days from acceptance to the stop, paused working days excluded; null while running or without acceptance. */
  workingDays: number | null;
}

export type { CanonicalStatus, WorkingCalendar };

// Severities: 0 GREEN (or nothing applies), 1 YELLOW, 2 RED.
const LIGHTS: readonly Light[] = ['GREEN', 'YELLOW', 'RED'];
const YELLOW = 1;
const RED = 2;

const INTAKE_GOES_ON: ReadonlySet<CanonicalStatus> = new Set(['SUBMITTED', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'SUSPENDED', 'RESUMED']);
const STOPS: ReadonlySet<CanonicalStatus> = new Set([...STATUS_CLASSES.decided, ...STATUS_CLASSES.final]);
// Pause kinds: 0 supplement (补正), 1 suspension (中止).
const OPENS: Partial<Record<CanonicalStatus, number>> = { SUPPLEMENT_REQUESTED: 0, SUSPENDED: 1 };
const CLOSES: Partial<Record<CanonicalStatus, number>> = { SUPPLEMENTED: 0, RESUMED: 1 };

interface Clock {
  start: number;
  /** null while running. */
  stop: number | null;
}

interface Pause {
  from: number;
  /** null while open. */
  to: number | null;
}

/** What the timeline says, read once. */
interface Facts {
  calendar: WorkingCalendar;
  limits: ItemLimits;
  intake: Clock | null;
  processing: Clock | null;
  /** In the order they opened, so their days ascend. */
  pauses: Pause[];
  paused: boolean;
  lastDay: number;
  /** The severity the violations set. */
  floor: number;
}

/**
 * A clock's light by day, for the pauses as they stand on the day it was read: RED after
 * `deadline`, YELLOW from `yellowFrom` (≤ deadline), GREEN before; `fixed` once the clock stopped.
 */
interface Profile {
  deadline: number;
  yellowFrom: number;
  fixed: number | null;
  /** The days its pauses cover: flat pairs lo, hi, each the days (lo, hi]. */
  covered: number[];
}

const severityOf = (p: Profile, day: number): number => p.fixed ?? (day > p.deadline ? RED : day >= p.yellowFrom ? YELLOW : 0);

/** What the supervision rules say of a case at `now` (the header gives the rules); pure. */
export function computeSupervision(input: SupervisionInput, calendar: WorkingCalendar): Supervision {
  const { timeline, limits, now } = input;
  const violations = findViolations(timeline);
  if (!limits) {
    return { light: null, deadline: null, paused: false, violations, nextChangeAt: null, acceptedDay: null, stoppedDay: null, onTime: null, workingDays: null };
  }
  const f = readTimeline(timeline, limits, calendar, violations);
  const today = dayOf(now);
  // A paused case is read on the first working day from today and from its last entry (see the header).
  let readOn = today;
  if (f.paused) {
    readOn = Math.max(today, f.lastDay);
    while (!calendar.isWorkingDay(readOn)) readOn++;
  }
  const intake = f.intake && intakeProfile(f, f.intake, readOn);
  const processing = f.processing && processingProfile(f, f.processing, readOn);
  const severityOn = (day: number): number => Math.max(f.floor, intake ? severityOf(intake, day) : 0, processing ? severityOf(processing, day) : 0);
  const severity = severityOn(readOn);

  let deadline: Date | null = null;
  let onTime: boolean | null = null;
  let workingDays: number | null = null;
  const p = f.processing;
  if (p && processing) {
    // While paused, the deadline is as if the pause ended today.
    const deadlineDay = readOn === today || p.stop !== null ? processing.deadline : processingProfile(f, p, today).deadline;
    deadline = endOfDay(deadlineDay);
    if (p.stop !== null) {
      onTime = p.stop <= deadlineDay;
      workingDays = calendar.workingDaysBetween(p.start, p.stop) - coveredWorkingDays(calendar, processing.covered, p.stop);
    }
  }

  // With no pause open, each running clock's profile holds for every later day, so the light
  // can change only where one of them turns; RED never clears.
  let nextChangeAt: Date | null = null;
  if (!f.paused && severity < RED) {
    const candidates: number[] = [];
    for (const clock of [intake, processing]) if (clock && clock.fixed === null) candidates.push(clock.yellowFrom, clock.deadline, clock.deadline + 1);
    candidates.sort((x, y) => x - y);
    for (const day of candidates) {
      if (day > today && severityOn(day) !== severity) {
        nextChangeAt = startOfDay(day);
        break;
      }
    }
  }
  return {
    light: LIGHTS[severity],
    deadline,
    paused: f.paused,
    violations,
    nextChangeAt,
    acceptedDay: p ? p.start : null,
    stoppedDay: p ? p.stop : null,
    onTime,
    workingDays,
  };
}

function readTimeline(timeline: readonly TimelineEntry[], limits: ItemLimits, calendar: WorkingCalendar, violations: readonly Violation[]): Facts {
  let intake: Clock | null = null;
  let processing: Clock | null = null;
  const pauses: Pause[] = [];
  const open: (Pause | null)[] = [null, null];
  let lastDay = 0;
  for (const e of timeline) {
    const day = dayOf(Date.parse(e.time));
    lastDay = day;
    const s = e.status;
    if (intake) {
      if (intake.stop === null && !INTAKE_GOES_ON.has(s)) intake.stop = day;
    } else if (s === 'SUBMITTED') intake = { start: day, stop: null };
    if (processing) {
      if (processing.stop === null && STOPS.has(s)) processing.stop = day;
    } else if (s === 'ACCEPTED') processing = { start: day, stop: null };
    const opens = OPENS[s];
    if (opens !== undefined && !open[opens]) {
      const pause: Pause = { from: day, to: null };
      open[opens] = pause;
      pauses.push(pause);
    }
    const closes = CLOSES[s];
    if (closes !== undefined && open[closes]) {
      open[closes]!.to = day;
      open[closes] = null;
    }
  }
  let floor = 0;
  for (const v of violations) floor = Math.max(floor, v.code === 'REPEATED_SUPPLEMENT' ? YELLOW : RED);
  return { calendar, limits, intake, processing, pauses, paused: open[0] !== null || open[1] !== null, lastDay, floor };
}

/**
 * The days a clock's pauses cover, merged: only days after its start and, once it stopped, up to
 * its stop; an open pause runs to the stop, or to `day` while the clock runs.
 */
function coveredDays(pauses: readonly Pause[], clock: Clock, day: number): number[] {
  const openEnd = clock.stop ?? day;
  const clip = clock.stop ?? Infinity;
  const out: number[] = [];
  for (const p of pauses) {
    const lo = Math.max(p.from, clock.start);
    const hi = Math.min(p.to ?? openEnd, clip);
    if (hi <= lo) continue;
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]) {
      if (hi > out[n - 1]) out[n - 1] = hi;
    } else out.push(lo, hi);
  }
  return out;
}

/** Working days of `covered` up to and including `upTo`. */
function coveredWorkingDays(calendar: WorkingCalendar, covered: readonly number[], upTo: number): number {
  let n = 0;
  for (let i = 0; i < covered.length && covered[i] < upTo; i += 2) n += calendar.workingDaysBetween(covered[i], Math.min(covered[i + 1], upTo));
  return n;
}

function intakeProfile(f: Facts, clock: Clock, day: number): Profile {
  const covered = coveredDays(f.pauses, clock, day);
  const deadline = f.calendar.addWorkingDays(clock.start, f.limits.intakeDays + coveredWorkingDays(f.calendar, covered, Infinity));
  // Once ended, only a late end counts ("intake overdue").
  const fixed = clock.stop === null ? null : clock.stop > deadline ? RED : 0;
  return { deadline, yellowFrom: deadline, fixed, covered };
}

function processingProfile(f: Facts, clock: Clock, day: number): Profile {
  const { calendar, limits } = f;
  const covered = coveredDays(f.pauses, clock, day);
  const deadline = calendar.addWorkingDays(clock.start, limits.promisedDays + coveredWorkingDays(calendar, covered, Infinity));
  if (clock.stop !== null) return { deadline, yellowFrom: deadline, fixed: clock.stop > deadline ? RED : 0, covered };
  // The first day on which elapsed working days reach the YELLOW share, if before the deadline day.
  let yellowFrom = deadline;
  const share = limits.yellowAt * limits.promisedDays;
  if (limits.promisedDays > 0 && share <= 0) yellowFrom = -Infinity;
  else if (limits.promisedDays > 0) {
    let elapsed = 0;
    let i = 0;
    for (let d = clock.start + 1; d < deadline; d++) {
      while (i < covered.length && covered[i + 1] < d) i += 2;
      if (i < covered.length && d > covered[i]) {
        d = covered[i + 1]; // skip the paused days
        continue;
      }
      if (calendar.isWorkingDay(d) && ++elapsed >= share) {
        yellowFrom = d;
        break;
      }
    }
  }
  return { deadline, yellowFrom, fixed: null, covered };
}
