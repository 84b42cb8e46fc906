import type { CaseEvent } from '../../contracts/types';
import { eventId } from '../../adapters/kit/mapping/event-id';

/** A canonical tax-bureau event as its mapping would give it, for tests that feed the case store directly. */
export function taxEvent(key: string, localCaseId: string, status: CaseEvent['data']['status'], time: string, supervisionCode: string | null = null): CaseEvent {
  return {
    specversion: '1.0', id: eventId('tax-bureau', [key]), source: 'urn:hub:system:tax-bureau', type: 'gov.case.status.v1', time, datacontenttype: 'application/json',
    data: {
      department: { code: '11130100MB0194826G', name: '国家税务总局石家庄市税务局' }, item: { code: '130100-SW-0001', name: '增值税一般纳税人登记' },
      localCaseId, system: 'tax-bureau', status, statusTime: time, sourceStatus: { code: status, label: null },
      applicant: { kind: 'ORGANISATION', name: '石家庄恒泰商贸有限公司', idType: 'USCC', idNumber: '91130100MA0CK3L52K', mobile: null },
      officer: null, remark: null, supervisionCode, provenance: { adapter: 'tax-bureau', rawMessageId: 'raw-1', record: 0, profileVersion: 'test' },
    },
  };
}

export const VEHICLE_OFFICE = { code: '11130100000400113E', name: '石家庄市公安局交通管理局车辆管理所' };
export const VEHICLE_HALLS = [
  { code: '111301000004001219', name: '石家庄市公安局交通管理局车辆管理一所' },
  { code: '11130100000400105K', name: '石家庄市公安局交通管理局车辆管理二所' },
];

/** A canonical vehicle-office event (机动车注册登记, promised 1 working day), reported by one of its halls or by the office itself. */
export function vehicleEvent(key: string, localCaseId: string, status: CaseEvent['data']['status'], time: string, hall: { code: string; name: string } | null = VEHICLE_HALLS[0]): CaseEvent {
  const e = taxEvent(key, localCaseId, status, time);
  return {
    ...e, id: eventId('vehicle-office', [key]), source: 'urn:hub:system:vehicle-office',
    data: {
      ...e.data, department: { ...VEHICLE_OFFICE, ...(hall ? { hall } : {}) }, item: { code: '130100-GA-0001', name: '机动车注册登记' }, system: 'vehicle-office',
      applicant: { kind: 'PERSON', name: '张伟', idType: 'CITIZEN_ID', idNumber: '130102197512086233', mobile: '13831100425' },
      provenance: { ...e.data.provenance, adapter: 'vehicle-office' },
    },
  };
}
