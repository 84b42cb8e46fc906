import assert from 'node:assert/strict';
import type { CaseEvent } from '../../contracts/types';
import { openStore, Store } from '../store/open-store';
import { eventId } from '../../adapters/kit/mapping/event-id';
import { issueSupervisionCode } from './supervision-code';
import { STORES, testDataDir } from '../../test/support/hub';
import { createTestDatabase } from '../../test/support/servers';

function event(key: string, localCaseId: string, status: CaseEvent['data']['status'], time: string, supervisionCode: string | null = null): CaseEvent {
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

for (const kind of STORES) {
  describe(`case store: a batch applied as a set gives the results of applying it event by event (${kind} store)`, function () {
    this.timeout(60_000);
    let store: Store;
    let dropDb: (() => Promise<void>) | null = null;
    before(async () => {
      const db = kind === 'postgres' ? await createTestDatabase() : null;
      dropDb = db ? () => db.drop() : null;
      store = await openStore({ store: db ? db.url : 'embedded', dataDir: testDataDir('case-store'), region: '130100' });
    });
    after(async () => { await store?.close(); await dropDb?.(); });

    it('accepts, finds or issues codes, refuses a contradicting code, answers repeats as duplicates, and projects each case once', async () => {
      const carried = issueSupervisionCode('130100', new Date());
      const other = issueSupervisionCode('130100', new Date());
      const batch = [
        event('a1', 'SX-A', 'SUBMITTED', '2026-11-24T09:00:00+08:00'),
        event('a2', 'SX-A', 'ACCEPTED', '2026-11-24T10:00:00+08:00', other), // contradicts the code SX-A just got
        event('a1', 'SX-A', 'SUBMITTED', '2026-11-24T09:00:00+08:00'), // the same event again in the batch
        event('b1', 'SX-B', 'COMPLETED', '2026-11-24T11:00:00+08:00', carried),
        event('b2', 'SX-B', 'SUBMITTED', '2026-11-24T08:00:00+08:00'), // late: ordered by status time
        event('a3', 'SX-A', 'ACCEPTED', '2026-11-24T09:30:00+08:00'),
      ];
      const first = await store.cases.apply(batch, { receivedAt: new Date() });
      assert.deepEqual(first.map((r) => r.result), ['accepted', 'rejected', 'duplicate', 'accepted', 'accepted', 'accepted']);
      const codeA = (first[0] as { supervisionCode: string }).supervisionCode;
      assert.notEqual(codeA, other);
      assert.equal((first[1] as { field: string; rule: string }).rule, 'conflict');
      assert.equal((first[2] as { supervisionCode: string }).supervisionCode, codeA);
      assert.equal((first[3] as { supervisionCode: string }).supervisionCode, carried);
      assert.equal((first[4] as { supervisionCode: string }).supervisionCode, carried);
      assert.equal((first[5] as { supervisionCode: string }).supervisionCode, codeA);

      const a = await store.cases.get(codeA);
      assert.equal(a!.projection.status, 'ACCEPTED');
      assert.equal(a!.projection.eventCount, 2);
      const b = await store.cases.get(carried);
      assert.deepEqual(b!.timeline.map((e) => e.event.data.status), ['SUBMITTED', 'COMPLETED']);
      assert.equal(b!.projection.status, 'COMPLETED');
      assert.deepEqual(b!.projection.violations.map((v) => v.code), ['NO_ACCEPTANCE']);

      const again = await store.cases.apply(batch, { receivedAt: new Date() });
      assert.deepEqual(again.map((r) => r.result), ['duplicate', 'rejected', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
      assert.equal(await store.cases.countEvents(), 4);

      // An event arriving later, out of order, in a batch of its own: the projection reads the earlier events back.
      const late = await store.cases.apply([event('a0', 'SX-A', 'SUBMITTED', '2026-11-24T08:30:00+08:00')], { receivedAt: new Date() });
      assert.equal(late[0].result, 'accepted');
      const a2 = await store.cases.get(codeA);
      assert.equal(a2!.projection.status, 'ACCEPTED');
      assert.equal(a2!.projection.eventCount, 3);
      assert.deepEqual(a2!.projection.applicant, batch[0].data.applicant);
    });
  });
}
