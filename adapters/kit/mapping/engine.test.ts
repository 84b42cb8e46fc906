import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { MappingProfile } from './engine';
import { sharedTablesFor } from '../conformance';
import { MarketCaseStream } from '../../../infra/simulators/market-regulation';
import { ADAPTERS_DIR } from '../../../core/kernel/paths';
import { ConfigError } from '../../../core/kernel/errors';

const shared = sharedTablesFor();
const profile = () => MappingProfile.fromFile(path.join(ADAPTERS_DIR, 'market-regulation', 'mapping.yaml'), shared);

const minimal = (extra = '') => `
adapter: market-regulation
eventKey: [id]
fields:
  localCaseId: { from: no }
  status: { from: st, table: status }
  item: { from: it, table: items }
  statusTime: { from: t, normalise: localTime }
  applicantName: { from: name }
  applicantIdType: { value: USCC }
  applicantIdNumber: { from: code }
${extra}
tables:
  status: { A: ACCEPTED }
  items: { X: 130100-SC-0001 }
`;

describe('mapping engine', () => {
  it('is a pure step: the same record gives the same events with the same ids, and is left unchanged', async () => {
    const p = profile();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), async (seed, twice) => {
        const stream = new MarketCaseStream({ seed, clock: () => Date.parse('2026-11-24T01:00:00Z') });
        const record = stream.nextEvent();
        const copy = structuredClone(record);
        const a = await p.mapRecord(record, { rawMessageId: 'm-1', recordIndex: 3 });
        const b = await (twice ? p : profile()).mapRecord(structuredClone(record), { rawMessageId: 'm-1', recordIndex: 3 });
        assert.deepEqual(a, b);
        assert.deepEqual(record, copy);
        assert.ok(a.ok, JSON.stringify(a));
        // The id depends on the source's own key only: another delivery of the record is a duplicate.
        const other = await p.mapRecord(record, { rawMessageId: 'm-2', recordIndex: 0 });
        assert.ok(other.ok && a.ok && other.event.id === a.event.id);
      }),
      { numRuns: 60 },
    );
  });

  it('gives different records different event ids', async () => {
    const p = profile();
    const stream = new MarketCaseStream({ seed: 7 });
    const ids = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const r = await p.mapRecord(stream.nextEvent(), { rawMessageId: 'm', recordIndex: i });
      assert.ok(r.ok);
      ids.add(r.event.id);
    }
    assert.equal(ids.size, 300);
  });

  it('maps every event the market-regulation simulator makes, and refuses exactly the broken identifiers', async () => {
    const p = profile();
    const { withBadIdentifier } = await import('../../../infra/simulators/market-regulation');
    const { Random } = await import('../../../infra/simulators/random');
    const stream = new MarketCaseStream({ seed: 11 });
    const rng = new Random(5);
    for (let i = 0; i < 200; i++) {
      const e = stream.nextEvent();
      const ok = await p.mapRecord(e, { rawMessageId: 'm', recordIndex: i });
      assert.ok(ok.ok, JSON.stringify(ok));
      const bad = await p.mapRecord(withBadIdentifier(e, rng), { rawMessageId: 'm', recordIndex: i });
      assert.ok(!bad.ok && bad.failure.rule === 'check-character', JSON.stringify(bad));
      assert.equal(bad.ok ? '' : bad.failure.field, e.applicant.type === 'ENTERPRISE' ? 'applicant.creditCode' : 'applicant.idNumber');
    }
  });

  it('refuses a profile that maps to a status the hub does not know, or to an item outside the catalogue', () => {
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('A: ACCEPTED', 'A: OPENED'), shared), ConfigError);
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('X: 130100-SC-0001', 'X: 130100-SC-9999'), shared), /not in the catalogue/);
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('X: 130100-SC-0001', 'X: 130100-GA-0001'), shared), /belongs to/);
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('normalise: localTime', 'normalise: shoeSize'), shared), /unknown normaliser/);
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('from: no', 'from: "$$$("'), shared), /JSONata/);
    assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('table: status', 'table: statuses'), shared), /no table named statuses/);
    assert.doesNotThrow(() => MappingProfile.fromText('x.yaml', minimal(), shared));
  });

  it('reads JSONata expressions and batch attributes, and picks the first rule whose condition holds', async () => {
    const p = MappingProfile.fromText('x.yaml', minimal().replace('localCaseId: { from: no }', `localCaseId:
    - when: "kind = 'old'"
      from: "'OLD-' & no"
    - from: "$batch.prefix & no"`), shared);
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    const a = await p.mapRecord({ ...base, kind: 'old' }, { rawMessageId: 'm', recordIndex: 0, batch: { prefix: 'B-' } });
    const b = await p.mapRecord(base, { rawMessageId: 'm', recordIndex: 0, batch: { prefix: 'B-' } });
    assert.ok(a.ok && a.event.data.localCaseId === 'OLD-42');
    assert.ok(b.ok && b.event.data.localCaseId === 'B-42');
    assert.ok(b.ok && b.event.data.applicant.kind === 'ORGANISATION');
  });

  it('refuses a record whose expression fails, and one refused after an expression, as refusals, not errors', async () => {
    const p = MappingProfile.fromText('x.yaml', minimal().replace('localCaseId: { from: no }', 'localCaseId: { from: "$number(no) & \'\'" }'), shared);
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    const ok = await p.mapRecord(base, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(ok.ok && ok.event.data.localCaseId === '42');
    // The expression's own failure (a promise that rejects) is the record's refusal.
    const failing = await p.mapRecord({ ...base, no: 'forty-two' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!failing.ok);
    assert.equal(failing.failure.rule, 'expression');
    // A field checked after the expression was awaited is still refused with its own reason.
    const later = await p.mapRecord({ ...base, st: 'Z' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!later.ok && later.failure.rule === 'unknown-code' && later.failure.field === 'st');
  });

  it('names the adapter, the field and the value of every refusal', async () => {
    const p = MappingProfile.fromText('x.yaml', minimal(), shared);
    const r = await p.mapRecord({ id: '1', no: '42', st: 'Z', it: 'X', t: '2026-11-24 09:00:00', name: 'n', code: '91130100MA0CK3L52K' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!r.ok);
    assert.deepEqual({ adapter: r.failure.adapter, field: r.failure.field, value: r.failure.value, rule: r.failure.rule }, { adapter: 'market-regulation', field: 'st', value: 'Z', rule: 'unknown-code' });
    assert.match(r.failure.reason, /Z/);
    const missing = await p.mapRecord({ id: '1', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: 'n', code: '91130100MA0CK3L52K' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!missing.ok && missing.failure.rule === 'required' && missing.failure.field === 'no');
    const badTime = await p.mapRecord({ id: '1', no: '1', st: 'A', it: 'X', t: '2026-02-30 09:00:00', name: 'n', code: '91130100MA0CK3L52K' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!badTime.ok && badTime.failure.field === 't');
  });
});
