import type { CaseView } from '../../contracts/types';
import { maskIdNumber, maskPhone } from '../../core/identifiers/mask';
import type { StoredCase } from './case-store';

/** The supervisor's view; ID number and mobile masked unless the caller may see personal data. */
export function toCaseView(stored: StoredCase, personalData: boolean): CaseView {
  const p = stored.projection;
  const a = p.applicant;
  return {
    supervisionCode: p.supervisionCode,
    department: p.department,
    item: p.item,
    applicant: {
      kind: a.kind,
      name: a.name,
      idType: a.idType,
      idNumber: personalData ? a.idNumber : maskIdNumber(a.idNumber),
      mobile: a.mobile ? (personalData ? a.mobile : maskPhone(a.mobile)) : null,
    },
    status: p.status,
    light: p.light,
    deadline: p.deadline,
    paused: p.paused,
    violations: p.violations,
    references: stored.references,
    timeline: stored.timeline.map((e) => ({
      eventId: e.eventId,
      status: e.status,
      time: e.time,
      system: e.system,
      sourceCode: e.sourceStatus.code,
      sourceLabel: e.sourceStatus.label,
      remark: e.remark,
      provenance: e.provenance,
    })),
  };
}

/** What anyone may see (办事群众随时查询): no applicant, no officer, no remark. */
export function toPublicView(stored: StoredCase) {
  const p = stored.projection;
  return {
    supervisionCode: p.supervisionCode,
    department: { code: p.department.code, name: p.department.name },
    item: p.item,
    status: p.status,
    // The applicant is told the date the department promised (the status page shows it); while
    // paused, the deadline as if the pause ended now.
    deadline: p.deadline,
    paused: p.paused,
    timeline: stored.timeline.map((e) => ({ status: e.status, time: e.time })),
  };
}
