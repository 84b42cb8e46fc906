import type { CaseEvent, Applicant, CanonicalStatus } from '../../contracts/types';
import type { Violation } from '../supervisor/violations';

import type { ProjectedEvent } from '../../core/ports/event-row';
export type { ProjectedEvent };

export interface StoredEvent<E extends ProjectedEvent = CaseEvent> {
  event: E;
  seq: number;
}

export interface CaseProjection {
  supervisionCode: string;
  department: { code: string; name: string; hall?: { code: string; name: string } };
  item: { code: string; name: string };
  status: CanonicalStatus;
  statusTime: string;
  applicant: Applicant;
  // The supervisor's (services/supervisor/): what the row holds, or their values before it ran.
  light: 'GREEN' | 'YELLOW' | 'RED' | null;
  deadline: string | null;
  paused: boolean;
  violations: Violation[];
  eventCount: number;
}

/** Orders a timeline by status time; events with the same time keep the order they arrived in. */
export function orderTimeline<E extends ProjectedEvent>(events: readonly StoredEvent<E>[]): StoredEvent<E>[] {
  // Each time parsed once, not in every comparison: cases are projected by the thousand per batch.
  return events
    .map((e) => ({ e, t: Date.parse(e.event.data.statusTime) }))
    .sort((a, b) => a.t - b.t || a.e.seq - b.e.seq)
    .map(({ e }) => e);
}

/** The case as the whole timeline describes it: the latest status by status time wins. */
export function projectCase(supervisionCode: string, events: readonly StoredEvent<ProjectedEvent>[]): CaseProjection {
  if (events.length === 0) throw new Error(`case ${supervisionCode} has no events`);
  return projectOrdered(supervisionCode, orderTimeline(events));
}

/** As projectCase, for a timeline already in orderTimeline's order. */
export function projectOrdered(supervisionCode: string, timeline: readonly StoredEvent<ProjectedEvent>[]): CaseProjection {
  const last = timeline[timeline.length - 1].event;
  // The hall and the applicant as the most recent report gives them; a report without a hall
  // does not erase one an earlier report named.
  const hall = [...timeline].reverse().find((e) => e.event.data.department.hall)?.event.data.department.hall;
  return {
    supervisionCode,
    department: { code: last.data.department.code, name: last.data.department.name, ...(hall ? { hall } : {}) },
    item: last.data.item,
    status: last.data.status,
    statusTime: last.data.statusTime,
    applicant: last.data.applicant,
    // Not the case store's: the supervisor computes them from the timeline, after the events are applied.
    light: null,
    deadline: null,
    paused: false,
    violations: [],
    eventCount: timeline.length,
  };
}
