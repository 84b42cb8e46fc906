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
