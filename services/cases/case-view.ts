import type { CaseView } from '../../contracts/types';
import { maskIdNumber, maskPhone } from '../../core/identifiers/mask';
import type { CaseRow } from './case-store';

/** The supervisor's view; ID number and mobile masked unless the caller may see personal data. */
export function toCaseView(row: CaseRow, personalData: boolean): CaseView {
  const p = row.projection;
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
    references: row.references,
    timeline: row.timeline.map(({ event }) => ({
      eventId: event.id,
      status: event.data.status,
      time: event.data.statusTime,
      system: event.data.system,
      sourceCode: event.data.sourceStatus.code,
      sourceLabel: event.data.sourceStatus.label,
      remark: event.data.remark,
      provenance: { adapter: event.data.provenance.adapter, rawMessageId: event.data.provenance.rawMessageId, profileVersion: event.data.provenance.profileVersion },
    })),
  };
}

/** What anyone may see (办事群众随时查询): no applicant, no officer, no remark. */
export function toPublicView(row: CaseRow) {
  const p = row.projection;
  return {
    supervisionCode: p.supervisionCode,
    department: { code: p.department.code, name: p.department.name },
    item: p.item,
    status: p.status,
    timeline: row.timeline.map(({ event }) => ({ status: event.data.status, time: event.data.statusTime })),
  };
}
