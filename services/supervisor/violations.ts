import type { CanonicalStatus } from '../../contracts/types';
import { STATUS_CLASSES } from '../../core/kernel/constants';

/** One entry of a case's timeline as the rules see it, already ordered by status time. */
export interface TimelineEntry {
  eventId: string;
  status: CanonicalStatus;
  time: string;
}

export interface Violation {
  code: 'NO_ACCEPTANCE' | 'REOPENED' | 'REPEATED_SUPPLEMENT';
  eventId: string;
  reason: string;
}

/** The reason each violation is listed with (DESIGN.md "Reasons"): one fixed string per code, Chinese first. */
export const VIOLATION_REASONS: Readonly<Record<Violation['code'], string>> = {
  NO_ACCEPTANCE: '未受理即办结 (completed with no acceptance on record)',
  REOPENED: '办结后又有办理活动 (activity after the final status)',
  REPEATED_SUPPLEMENT: '多次要求补正，未一次性告知 (a second supplement request: missing materials not asked for at once)',
};

const DECIDED: ReadonlySet<CanonicalStatus> = new Set(STATUS_CLASSES.decided);
const FINAL: ReadonlySet<CanonicalStatus> = new Set(STATUS_CLASSES.final);
// After COMPLETED the licence or plates may still be handed over: not a reopening.
const ALLOWED_AFTER: Partial<Record<CanonicalStatus, ReadonlySet<CanonicalStatus>>> = {
  COMPLETED: new Set(['DELIVERED']),
};
const allowedAfter = (final: CanonicalStatus, next: CanonicalStatus): boolean => ALLOWED_AFTER[final]?.has(next) ?? false;

/**
 * Procedure violations of DESIGN.md "Supervision rules", computed from the whole timeline so that
 * late and out-of-order events give the same answer as events in order.
 */
export function findViolations(timeline: readonly TimelineEntry[]): Violation[] {
  const out: Violation[] = [];
  let accepted = false;
  let supplements = 0;
  let finalStatus: CanonicalStatus | null = null;
  let noAcceptanceFlagged = false;
  for (const e of timeline) {
    if (finalStatus && !allowedAfter(finalStatus, e.status)) {
      out.push({ code: 'REOPENED', eventId: e.eventId, reason: VIOLATION_REASONS.REOPENED });
    }
    if (e.status === 'ACCEPTED') accepted = true;
    if (DECIDED.has(e.status) && !accepted && !noAcceptanceFlagged) {
      // 体外循环: handled outside the system, the acceptance never recorded.
      out.push({ code: 'NO_ACCEPTANCE', eventId: e.eventId, reason: VIOLATION_REASONS.NO_ACCEPTANCE });
      noAcceptanceFlagged = true;
    }
    if (e.status === 'SUPPLEMENT_REQUESTED' && ++supplements === 2) {
      // 一次性告知: all missing materials must be asked for at once.
      out.push({ code: 'REPEATED_SUPPLEMENT', eventId: e.eventId, reason: VIOLATION_REASONS.REPEATED_SUPPLEMENT });
    }
    if (!finalStatus) {
      if (FINAL.has(e.status)) finalStatus = e.status;
    } else if (allowedAfter(finalStatus, e.status)) {
      finalStatus = e.status;
    }
  }
  return out;
}
