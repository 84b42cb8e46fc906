import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CanonicalStatus } from '../../contracts/types';
import { CANONICAL_STATUSES } from '../../core/kernel/constants';
import { WorkingCalendar } from '../../core/calendar/working-calendar';
import { beijingIso } from '../../core/identifiers/local-time';
import { taxEvent } from '../../test/support/events';
import { orderTimeline } from '../cases/projection';
import { computeSupervision, ItemLimits, Light, Supervision } from './rules';
import { VIOLATION_REASONS } from './violations';
import type { TimelineEntry, Violation } from './violations';

/** The 2026 notice (国务院办公厅关于2026年部分节假日安排的通知), as departments/calendar.md lists it. */
function calendar2026(): WorkingCalendar {
  const span = (from: string, days: number): string[] => {
    const start = Date.parse(`${from}T00:00:00Z`);
    return Array.from({ length: days }, (_, i) => new Date(start + i * 86_400_000).toISOString().slice(0, 10));
  };
  const holidays = [
    ...span('2026-01-01', 3), // 元旦
    ...span('2026-02-15', 9), // 春节
    ...span('2026-04-04', 3), // 清明节
    ...span('2026-05-01', 5), // 劳动节
    ...span('2026-06-19', 3), // 端午节
    ...span('2026-09-25', 3), // 中秋节
    ...span('2026-10-01', 7), // 国庆节
  ];
  return new WorkingCalendar([{ year: 2026, holidays, workdays: ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'] }]);
}

const calendar = calendar2026();

// The catalogue's limits (departments/items.yaml), with the default YELLOW share.
const GA1: ItemLimits = { promisedDays: 1, intakeDays: 1, yellowAt: 0.8 }; // 130100-GA-0001 机动车注册登记
const GA4: ItemLimits = { promisedDays: 0, intakeDays: 1, yellowAt: 0.8 }; // 130100-GA-0004 补领、换领机动车号牌 (即办件)
const GA5: ItemLimits = { promisedDays: 10, intakeDays: 5, yellowAt: 0.8 }; // 130100-GA-0005 机动车驾驶证核发
const SW2: ItemLimits = { promisedDays: 3, intakeDays: 5, yellowAt: 0.8 }; // 130100-SW-0002 发票领用核定
const SC1: ItemLimits = { promisedDays: 8, intakeDays: 5, yellowAt: 0.8 }; // 130100-SC-0001 食品经营许可

/** A status at a time, and optionally the key its event id is made from (default: its position). */
type Ev = [CanonicalStatus, string] | [CanonicalStatus, string, string];

/** The timeline as the case store gives it: events in arrival order, ordered by orderTimeline. */
function timelineOf(events: readonly Ev[]): TimelineEntry[] {
  const stored = events.map(([status, time, key], i) => ({ event: taxEvent(key ?? `e${i}`, 'SX-1', status, time), seq: i }));
  return orderTimeline(stored).map(({ event }) => ({ eventId: event.id, status: event.data.status, time: event.data.statusTime }));
}

function supervise(limits: ItemLimits | null, events: readonly Ev[], now: string): Supervision {
  return computeSupervision({ timeline: timelineOf(events), limits, now: new Date(now) }, calendar);
}

interface Row {
  name: string;
  limits: ItemLimits | null;
  events: Ev[];
  now: string;
  light: Light | null;
  deadline: string | null;
  paused?: boolean;
  violations?: Violation['code'][];
  /** Checked when given (undefined: not checked). */
  nextChangeAt?: string | null;
  onTime?: boolean | null;
  workingDays?: number | null;
}

// Every expectation below is worked out by hand from the rules and the 2026 notice.
const ROWS: Row[] = [
  // The examples of departments/calendar.md.
  {
    name: 'accepted Fri 09-18 with 3 days: due Tue 09-22 (Sun 09-20 is an adjusted working day)',
    limits: SW2, events: [['ACCEPTED', '2026-09-18T10:00:00+08:00']], now: '2026-09-18T15:00:00+08:00',
    light: 'GREEN', deadline: '2026-09-22T23:59:59+08:00', nextChangeAt: '2026-09-22T00:00:00+08:00',
  },
  {
    name: 'accepted Thu 09-24 with 3 days: 中秋 09-25…27 not counted, due Wed 09-30',
    limits: SW2, events: [['SUBMITTED', '2026-09-23T09:00:00+08:00'], ['ACCEPTED', '2026-09-24T09:00:00+08:00']], now: '2026-09-24T17:00:00+08:00',
    light: 'GREEN', deadline: '2026-09-30T23:59:59+08:00', nextChangeAt: '2026-09-30T00:00:00+08:00',
  },
  {
    name: 'accepted Fri 02-13 with 1 day: due on the adjusted Saturday 02-14',
    limits: GA1, events: [['SUBMITTED', '2026-02-13T09:00:00+08:00'], ['ACCEPTED', '2026-02-13T09:30:00+08:00']], now: '2026-02-13T12:00:00+08:00',
    light: 'GREEN', deadline: '2026-02-14T23:59:59+08:00', nextChangeAt: '2026-02-14T00:00:00+08:00', onTime: null, workingDays: null,
  },
  {
    name: 'the same case on the adjusted Saturday 02-14: YELLOW on the deadline day',
    limits: GA1, events: [['SUBMITTED', '2026-02-13T09:00:00+08:00'], ['ACCEPTED', '2026-02-13T09:30:00+08:00']], now: '2026-02-14T10:00:00+08:00',
    light: 'YELLOW', deadline: '2026-02-14T23:59:59+08:00', nextChangeAt: '2026-02-15T00:00:00+08:00',
  },
  {
    name: 'the same case the day after its deadline (春节): RED',
    limits: GA1, events: [['SUBMITTED', '2026-02-13T09:00:00+08:00'], ['ACCEPTED', '2026-02-13T09:30:00+08:00']], now: '2026-02-15T08:00:00+08:00',
    light: 'RED', deadline: '2026-02-14T23:59:59+08:00', nextChangeAt: null,
  },
  {
    name: 'accepted Fri 02-27, before the adjusted Saturday 02-28, with 3 days: due Tue 03-03',
    limits: SW2, events: [['ACCEPTED', '2026-02-27T16:00:00+08:00']], now: '2026-02-28T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-03T23:59:59+08:00', nextChangeAt: '2026-03-03T00:00:00+08:00',
  },
  {
    name: '10 days across 春节: accepted Fri 02-13, due Thu 03-05, YELLOW from 03-03',
    limits: GA5, events: [['SUBMITTED', '2026-02-12T10:00:00+08:00'], ['ACCEPTED', '2026-02-13T10:00:00+08:00']], now: '2026-02-27T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-05T23:59:59+08:00', nextChangeAt: '2026-03-03T00:00:00+08:00',
  },
  // 80 % of 10 days, the deadline day, the day after.
  {
    name: '10 days, 7 elapsed: GREEN',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T10:00:00+08:00']], now: '2026-03-11T16:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-16T23:59:59+08:00', nextChangeAt: '2026-03-12T00:00:00+08:00',
  },
  {
    name: '10 days, 8 elapsed (80 %): YELLOW',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T10:00:00+08:00']], now: '2026-03-12T09:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-16T23:59:59+08:00', nextChangeAt: '2026-03-17T00:00:00+08:00',
  },
  {
    name: '10 days, on the deadline day: YELLOW',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T10:00:00+08:00']], now: '2026-03-16T20:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-16T23:59:59+08:00', nextChangeAt: '2026-03-17T00:00:00+08:00',
  },
  {
    name: '10 days, the day after the deadline: RED',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T10:00:00+08:00']], now: '2026-03-17T00:00:00+08:00',
    light: 'RED', deadline: '2026-03-16T23:59:59+08:00', nextChangeAt: null, onTime: null,
  },
  // 即办件 (promisedDays 0).
  {
    name: '即办件 on its acceptance day: YELLOW (the deadline day)',
    limits: GA4, events: [['ACCEPTED', '2026-03-04T09:00:00+08:00']], now: '2026-03-04T10:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-04T23:59:59+08:00', nextChangeAt: '2026-03-05T00:00:00+08:00',
  },
  {
    name: '即办件 completed the next day: RED',
    limits: GA4,
    events: [['SUBMITTED', '2026-03-04T09:00:00+08:00'], ['ACCEPTED', '2026-03-04T09:10:00+08:00'], ['COMPLETED', '2026-03-05T09:00:00+08:00']],
    now: '2026-03-05T10:00:00+08:00',
    light: 'RED', deadline: '2026-03-04T23:59:59+08:00', nextChangeAt: null, onTime: false, workingDays: 1,
  },
  {
    name: '即办件 accepted, completed and delivered the same day: GREEN',
    limits: GA4,
    events: [['ACCEPTED', '2026-03-04T09:00:00+08:00'], ['COMPLETED', '2026-03-04T09:20:00+08:00'], ['DELIVERED', '2026-03-04T09:40:00+08:00']],
    now: '2026-03-10T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-04T23:59:59+08:00', violations: [], nextChangeAt: null, onTime: true, workingDays: 0,
  },
  // Completion.
  {
    name: 'completed on time: the clock stops at APPROVED',
    limits: SC1,
    events: [
      ['SUBMITTED', '2026-06-01T09:00:00+08:00'], ['ACCEPTED', '2026-06-02T10:00:00+08:00'], ['UNDER_REVIEW', '2026-06-03T10:00:00+08:00'],
      ['APPROVED', '2026-06-09T15:00:00+08:00'], ['COMPLETED', '2026-06-10T11:00:00+08:00'],
    ],
    now: '2026-06-20T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-06-12T23:59:59+08:00', nextChangeAt: null, onTime: true, workingDays: 5,
  },
  {
    name: 'completed late (清明 04-04…06 not counted): stays RED',
    limits: SW2, events: [['ACCEPTED', '2026-04-01T09:00:00+08:00'], ['COMPLETED', '2026-04-08T10:00:00+08:00']], now: '2026-04-09T10:00:00+08:00',
    light: 'RED', deadline: '2026-04-07T23:59:59+08:00', nextChangeAt: null, onTime: false, workingDays: 4,
  },
  {
    name: 'completed on the deadline day: GREEN',
    limits: SW2, events: [['ACCEPTED', '2026-04-01T09:00:00+08:00'], ['COMPLETED', '2026-04-07T17:00:00+08:00']], now: '2026-04-07T18:00:00+08:00',
    light: 'GREEN', deadline: '2026-04-07T23:59:59+08:00', nextChangeAt: null, onTime: true, workingDays: 3,
  },
  {
    name: 'withdrawn in time: GREEN',
    limits: SC1,
    events: [['SUBMITTED', '2026-01-05T09:00:00+08:00'], ['ACCEPTED', '2026-01-06T09:00:00+08:00'], ['WITHDRAWN', '2026-01-08T16:00:00+08:00']],
    now: '2026-01-20T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-01-16T23:59:59+08:00', violations: [], nextChangeAt: null, onTime: true, workingDays: 2,
  },
  {
    name: 'events arriving out of order are read in status-time order',
    limits: SW2,
    events: [['COMPLETED', '2026-03-05T10:00:00+08:00'], ['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUBMITTED', '2026-03-02T08:00:00+08:00']],
    now: '2026-03-06T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-05T23:59:59+08:00', violations: [], nextChangeAt: null, onTime: true, workingDays: 3,
  },
  // Intake.
  {
    name: 'intake open before its last day: GREEN',
    limits: SW2, events: [['SUBMITTED', '2026-04-27T09:00:00+08:00']], now: '2026-05-06T12:00:00+08:00',
    light: 'GREEN', deadline: null, nextChangeAt: '2026-05-07T00:00:00+08:00', onTime: null, workingDays: null,
  },
  {
    name: 'intake on its 5th working day (劳动节 05-01…05 not counted): YELLOW',
    limits: SW2, events: [['SUBMITTED', '2026-04-27T09:00:00+08:00']], now: '2026-05-07T09:00:00+08:00',
    light: 'YELLOW', deadline: null, nextChangeAt: '2026-05-08T00:00:00+08:00',
  },
  {
    name: 'intake overdue: RED',
    limits: SW2, events: [['SUBMITTED', '2026-04-27T09:00:00+08:00']], now: '2026-05-08T09:00:00+08:00',
    light: 'RED', deadline: null, nextChangeAt: null,
  },
  {
    name: 'accepted after the intake limit: stays RED; due over the adjusted Saturday 05-09',
    limits: SW2, events: [['SUBMITTED', '2026-04-27T09:00:00+08:00'], ['ACCEPTED', '2026-05-08T10:00:00+08:00']], now: '2026-05-08T11:00:00+08:00',
    light: 'RED', deadline: '2026-05-12T23:59:59+08:00', nextChangeAt: null,
  },
  {
    name: 'intake of 1 day, submitted on a Friday: YELLOW on the Monday',
    limits: GA1, events: [['SUBMITTED', '2026-01-09T16:00:00+08:00']], now: '2026-01-12T09:00:00+08:00',
    light: 'YELLOW', deadline: null, nextChangeAt: '2026-01-13T00:00:00+08:00',
  },
  {
    name: 'submitted online on 元旦 01-03: an intake of 1 day ends on the adjusted Sunday 01-04',
    limits: GA1, events: [['SUBMITTED', '2026-01-03T10:00:00+08:00']], now: '2026-01-04T09:00:00+08:00',
    light: 'YELLOW', deadline: null, nextChangeAt: '2026-01-05T00:00:00+08:00',
  },
  {
    name: 'refused at intake in time: GREEN',
    limits: SW2, events: [['SUBMITTED', '2026-03-02T09:00:00+08:00'], ['REJECTED', '2026-03-04T09:00:00+08:00']], now: '2026-03-20T10:00:00+08:00',
    light: 'GREEN', deadline: null, nextChangeAt: null, onTime: null,
  },
  {
    name: 'refused at intake too late: RED',
    limits: GA1, events: [['SUBMITTED', '2026-03-06T16:00:00+08:00'], ['REJECTED', '2026-03-10T09:00:00+08:00']], now: '2026-03-10T10:00:00+08:00',
    light: 'RED', deadline: null, nextChangeAt: null,
  },
  {
    name: 'a supplement during intake moves the intake deadline (端午 06-19…21 not counted)',
    limits: SW2,
    events: [['SUBMITTED', '2026-06-15T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-06-16T09:00:00+08:00'], ['SUPPLEMENTED', '2026-06-23T09:00:00+08:00']],
    now: '2026-06-24T10:00:00+08:00',
    light: 'GREEN', deadline: null, paused: false, nextChangeAt: '2026-06-29T00:00:00+08:00',
  },
  {
    name: 'a supplement during intake still open: paused, GREEN',
    limits: SW2, events: [['SUBMITTED', '2026-06-15T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-06-16T09:00:00+08:00']], now: '2026-07-06T10:00:00+08:00',
    light: 'GREEN', deadline: null, paused: true, nextChangeAt: null,
  },
  // Pauses.
  {
    name: 'a supplement across 中秋, supplied Mon 09-28: the deadline moves to the adjusted Saturday 10-10',
    limits: SC1,
    events: [['ACCEPTED', '2026-09-21T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-09-24T10:00:00+08:00'], ['SUPPLEMENTED', '2026-09-28T09:00:00+08:00']],
    now: '2026-09-29T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-10-10T23:59:59+08:00', paused: false, nextChangeAt: '2026-10-09T00:00:00+08:00',
  },
  {
    name: 'a suspension inside a supplement pause across 国庆: each paused day counted once',
    limits: GA5,
    events: [
      ['ACCEPTED', '2026-09-28T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-09-29T10:00:00+08:00'], ['SUSPENDED', '2026-09-30T10:00:00+08:00'],
      ['RESUMED', '2026-10-08T09:00:00+08:00'], ['SUPPLEMENTED', '2026-10-09T09:00:00+08:00'],
    ],
    now: '2026-10-12T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-10-21T23:59:59+08:00', paused: false, violations: [], nextChangeAt: '2026-10-19T00:00:00+08:00',
  },
  {
    name: 'a supplement pause still open, 4 days on: deadline as if it ended now, GREEN',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-05T10:00:00+08:00']], now: '2026-03-09T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-18T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'the same pause 15 days on, past the first deadline: still GREEN, deadline as if it ended now',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-05T10:00:00+08:00']], now: '2026-03-20T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-31T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'suspended once YELLOW: YELLOW the next day',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-12T15:00:00+08:00']], now: '2026-03-13T09:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-17T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'suspended once YELLOW: still YELLOW five weeks on (清明 not counted)',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-12T15:00:00+08:00']], now: '2026-04-20T09:00:00+08:00',
    light: 'YELLOW', deadline: '2026-04-22T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'suspended on the deadline day, read on a Saturday: deadline as if resumed today, light as on working days',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-16T10:00:00+08:00']], now: '2026-03-21T10:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-20T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'suspended on the deadline day, read on the Monday after',
    limits: GA5, events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-16T10:00:00+08:00']], now: '2026-03-23T10:00:00+08:00',
    light: 'YELLOW', deadline: '2026-03-23T23:59:59+08:00', paused: true, nextChangeAt: null,
  },
  {
    name: 'a suspension from intake into processing counts for processing only after acceptance',
    limits: SW2,
    events: [
      ['SUBMITTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-03T09:00:00+08:00'], ['ACCEPTED', '2026-03-04T09:00:00+08:00'],
      ['RESUMED', '2026-03-06T09:00:00+08:00'],
    ],
    now: '2026-03-06T12:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-11T23:59:59+08:00', paused: false, nextChangeAt: '2026-03-11T00:00:00+08:00',
  },
  {
    name: 'a second SUSPENDED while suspended opens nothing; a RESUMED with nothing to resume is ignored',
    limits: SW2,
    events: [
      ['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-03T09:00:00+08:00'], ['SUSPENDED', '2026-03-04T09:00:00+08:00'],
      ['RESUMED', '2026-03-05T09:00:00+08:00'], ['RESUMED', '2026-03-06T09:00:00+08:00'],
    ],
    now: '2026-03-06T12:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-09T23:59:59+08:00', paused: false, nextChangeAt: '2026-03-09T00:00:00+08:00',
  },
  {
    name: 'completed while suspended: the open pause counts up to the completion',
    limits: SW2,
    events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-03T09:00:00+08:00'], ['COMPLETED', '2026-03-10T09:00:00+08:00']],
    now: '2026-03-20T10:00:00+08:00',
    light: 'GREEN', deadline: '2026-03-12T23:59:59+08:00', paused: true, nextChangeAt: null, onTime: true, workingDays: 1,
  },
  // Violations.
  {
    name: 'NO_ACCEPTANCE: completed on first sight',
    limits: SW2, events: [['COMPLETED', '2026-03-10T10:00:00+08:00']], now: '2026-03-10T11:00:00+08:00',
    light: 'RED', deadline: null, violations: ['NO_ACCEPTANCE'], nextChangeAt: null, onTime: null,
  },
  {
    name: 'NO_ACCEPTANCE: submitted, then approved and delivered with no acceptance',
    limits: SW2,
    events: [['SUBMITTED', '2026-03-09T09:00:00+08:00'], ['APPROVED', '2026-03-10T09:00:00+08:00'], ['DELIVERED', '2026-03-11T09:00:00+08:00']],
    now: '2026-03-11T10:00:00+08:00',
    light: 'RED', deadline: null, violations: ['NO_ACCEPTANCE'], nextChangeAt: null,
  },
  {
    name: 'REPEATED_SUPPLEMENT: YELLOW with a far deadline',
    limits: GA5,
    events: [
      ['ACCEPTED', '2026-06-01T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-06-02T10:00:00+08:00'], ['SUPPLEMENTED', '2026-06-03T10:00:00+08:00'],
      ['SUPPLEMENT_REQUESTED', '2026-06-04T10:00:00+08:00'], ['SUPPLEMENTED', '2026-06-05T10:00:00+08:00'],
    ],
    now: '2026-06-05T15:00:00+08:00',
    light: 'YELLOW', deadline: '2026-06-17T23:59:59+08:00', paused: false, violations: ['REPEATED_SUPPLEMENT'], nextChangeAt: '2026-06-18T00:00:00+08:00',
  },
  {
    name: 'REOPENED: activity after completion is RED',
    limits: SW2,
    events: [['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['COMPLETED', '2026-03-03T10:00:00+08:00'], ['UNDER_REVIEW', '2026-03-04T10:00:00+08:00']],
    now: '2026-03-04T12:00:00+08:00',
    light: 'RED', deadline: '2026-03-05T23:59:59+08:00', violations: ['REOPENED'], nextChangeAt: null, onTime: true, workingDays: 1,
  },
  {
    name: 'item not in the catalogue: no light, violations still listed',
    limits: null, events: [['COMPLETED', '2026-03-10T10:00:00+08:00']], now: '2026-03-10T11:00:00+08:00',
    light: null, deadline: null, paused: false, violations: ['NO_ACCEPTANCE'], nextChangeAt: null, onTime: null, workingDays: null,
  },
  {
    name: 'item not in the catalogue, a second supplement request open: no light, not paused',
    limits: null,
    events: [
      ['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-03T09:00:00+08:00'], ['SUPPLEMENTED', '2026-03-04T09:00:00+08:00'],
      ['SUPPLEMENT_REQUESTED', '2026-03-05T09:00:00+08:00'],
    ],
    now: '2026-03-06T10:00:00+08:00',
    light: null, deadline: null, paused: false, violations: ['REPEATED_SUPPLEMENT'], nextChangeAt: null,
  },
];

const iso = (d: Date | null): string | null => (d ? beijingIso(d) : null);

describe('supervision rules: lights, deadlines and pauses on the 2026 calendar', () => {
  it('has the table the rules are pinned by', () => {
    assert.ok(ROWS.length >= 30);
    assert.equal(new Set(ROWS.map((r) => r.name)).size, ROWS.length);
  });

  for (const row of ROWS) {
    it(row.name, () => {
      const s = supervise(row.limits, row.events, row.now);
      assert.equal(s.light, row.light, 'light');
      assert.equal(iso(s.deadline), row.deadline, 'deadline');
      assert.equal(s.paused, row.paused ?? false, 'paused');
      assert.deepEqual(s.violations.map((v) => v.code), row.violations ?? [], 'violations');
      if (row.nextChangeAt !== undefined) assert.equal(iso(s.nextChangeAt), row.nextChangeAt, 'nextChangeAt');
      if (row.onTime !== undefined) assert.equal(s.onTime, row.onTime, 'onTime');
      if (row.workingDays !== undefined) assert.equal(s.workingDays, row.workingDays, 'workingDays');
    });
  }

  it('lists each violation with its pinned reason, Chinese first', () => {
    assert.deepEqual(VIOLATION_REASONS, {
      NO_ACCEPTANCE: '未受理即办结 (completed with no acceptance on record)',
      REOPENED: '办结后又有办理活动 (activity after the final status)',
      REPEATED_SUPPLEMENT: '多次要求补正，未一次性告知 (a second supplement request: missing materials not asked for at once)',
    });
    const s = supervise(SW2, [
      ['APPROVED', '2026-03-02T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-03T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-04T09:00:00+08:00'],
      ['DENIED', '2026-03-05T09:00:00+08:00'], ['UNDER_REVIEW', '2026-03-06T09:00:00+08:00'],
    ], '2026-03-06T10:00:00+08:00');
    assert.deepEqual(s.violations.map((v) => [v.code, v.reason]), [
      ['NO_ACCEPTANCE', VIOLATION_REASONS.NO_ACCEPTANCE],
      ['REPEATED_SUPPLEMENT', VIOLATION_REASONS.REPEATED_SUPPLEMENT],
      ['REOPENED', VIOLATION_REASONS.REOPENED],
    ]);
  });

  it('records acceptance and stop days', () => {
    const s = supervise(SC1, [['ACCEPTED', '2026-01-06T09:00:00+08:00'], ['WITHDRAWN', '2026-01-08T16:00:00+08:00']], '2026-01-20T10:00:00+08:00');
    assert.equal(s.acceptedDay, Date.UTC(2026, 0, 6) / 86_400_000);
    assert.equal(s.stoppedDay, Date.UTC(2026, 0, 8) / 86_400_000);
    const running = supervise(SC1, [['ACCEPTED', '2026-01-06T09:00:00+08:00']], '2026-01-07T10:00:00+08:00');
    assert.equal(running.stoppedDay, null);
    assert.equal(running.onTime, null);
  });

  it('does not advance the light of a paused case, on working days and days off alike', () => {
    const cases: [Ev[], Light][] = [
      [[['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-12T15:00:00+08:00']], 'YELLOW'],
      [[['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-16T10:00:00+08:00']], 'YELLOW'],
      [[['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUPPLEMENT_REQUESTED', '2026-03-05T10:00:00+08:00']], 'GREEN'],
      [[['ACCEPTED', '2026-03-02T09:00:00+08:00'], ['SUSPENDED', '2026-03-18T10:00:00+08:00']], 'RED'],
    ];
    for (const [events, light] of cases) {
      let deadline = 0;
      for (let day = 0; day < 120; day++) {
        const now = new Date(Date.parse('2026-03-18T12:00:00+08:00') + day * 86_400_000);
        const s = computeSupervision({ timeline: timelineOf(events), limits: GA5, now }, calendar);
        assert.equal(s.light, light, `${events[1][1]} read on ${beijingIso(now)}`);
        assert.ok(s.deadline!.getTime() >= deadline, 'the deadline never moves back');
        deadline = s.deadline!.getTime();
      }
    }
  });
});

// Random timelines at distinct times within a few weeks of 2026: mostly the shape cases have
// (submitted, accepted, reviews and pauses, an end), some any statuses in any order.
const START_MIN = Date.parse('2026-01-01T00:00:00+08:00');
const START_MAX = Date.parse('2026-08-01T00:00:00+08:00');
const MINUTE = 60_000;
const DAY = 86_400_000;
const LIMITS = [GA1, GA4, GA5, SW2, SC1];
const MIDDLE: CanonicalStatus[] = ['UNDER_REVIEW', 'SUPPLEMENT_REQUESTED', 'SUPPLEMENTED', 'SUSPENDED', 'RESUMED'];
const ENDS: CanonicalStatus[] = ['APPROVED', 'DENIED', 'COMPLETED', 'DELIVERED', 'WITHDRAWN', 'REJECTED'];

const shapedStatuses = fc
  .tuple(fc.boolean(), fc.boolean(), fc.array(fc.constantFrom(...MIDDLE), { maxLength: 5 }), fc.option(fc.constantFrom(...ENDS), { freq: 2 }))
  .map(([submitted, accepted, middle, end]): CanonicalStatus[] => [
    ...(submitted ? ['SUBMITTED' as const] : []),
    ...(accepted ? ['ACCEPTED' as const] : []),
    ...middle,
    ...(end ? [end] : []),
  ]);
const anyStatuses = fc.array(fc.constantFrom(...CANONICAL_STATUSES), { maxLength: 10 });

const caseArb = fc.oneof({ weight: 3, arbitrary: shapedStatuses }, { weight: 1, arbitrary: anyStatuses }).chain((statuses) =>
  fc.record({
    start: fc.integer({ min: START_MIN, max: START_MAX }).map((ms) => ms - (ms % MINUTE)),
    minutes: fc.uniqueArray(fc.integer({ min: 0, max: 20 * 24 * 60 }), { minLength: statuses.length, maxLength: statuses.length }),
    limits: fc.option(fc.constantFrom(...LIMITS), { nil: null, freq: 8 }),
    nowMinutes: fc.integer({ min: 0, max: 40 * 24 * 60 }),
  }).map(({ minutes, ...rest }): Case => {
    const sorted = [...minutes].sort((x, y) => x - y);
    return { ...rest, events: statuses.map((status, i): [CanonicalStatus, number] => [status, sorted[i]]) };
  }),
);
type Case = { start: number; events: [CanonicalStatus, number][]; limits: ItemLimits | null; nowMinutes: number };

const eventsOf = (c: Case): Ev[] => c.events.map(([status, m], i) => [status, beijingIso(new Date(c.start + m * MINUTE)), `e${i}`]);
const at = (c: Case, now: Date): Supervision => computeSupervision({ timeline: timelineOf(eventsOf(c)), limits: c.limits, now }, calendar);
const SEVERITY: Record<Light, number> = { GREEN: 0, YELLOW: 1, RED: 2 };

describe('supervision rules: properties over random timelines', () => {
  it('gives the same supervision whatever order the events arrived in', () => {
    fc.assert(
      fc.property(caseArb, fc.array(fc.nat(), { minLength: 10, maxLength: 10 }), (c, keys) => {
        const events = eventsOf(c);
        const now = new Date(c.start + c.nowMinutes * MINUTE);
        const inTimeOrder = [...events].sort((x, y) => Date.parse(x[1]) - Date.parse(y[1]));
        const arrival = events.map((e, i) => ({ e, k: keys[i] })).sort((x, y) => x.k - y.k).map(({ e }) => e);
        const expected = computeSupervision({ timeline: timelineOf(inTimeOrder), limits: c.limits, now }, calendar);
        assert.deepEqual(computeSupervision({ timeline: timelineOf(arrival), limits: c.limits, now }, calendar), expected);
      }),
      { numRuns: 500 },
    );
  });

  it('changes the light exactly at nextChangeAt, and never when nextChangeAt is null', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const now = new Date(c.start + c.nowMinutes * MINUTE);
        const s = at(c, now);
        if (s.nextChangeAt) {
          assert.ok(s.nextChangeAt.getTime() > now.getTime());
          assert.notEqual(at(c, s.nextChangeAt).light, s.light, 'the light at nextChangeAt');
          assert.equal(at(c, new Date(s.nextChangeAt.getTime() - 1000)).light, s.light, 'the light a second before nextChangeAt');
        } else {
          for (const days of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) assert.equal(at(c, new Date(now.getTime() + days * DAY)).light, s.light, `${days} days on`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never turns a light back (RED never to GREEN) as time passes with no new event', () => {
    fc.assert(
      fc.property(caseArb, fc.array(fc.integer({ min: 0, max: 120 * 24 * 60 }), { minLength: 2, maxLength: 8 }), (c, offsets) => {
        let worst = -1;
        for (const m of [...offsets].sort((x, y) => x - y)) {
          const { light } = at(c, new Date(c.start + m * MINUTE));
          if (light === null) return;
          assert.ok(SEVERITY[light] >= worst, `${light} after a more severe light`);
          worst = SEVERITY[light];
        }
      }),
      { numRuns: 2000 },
    );
  });
});
