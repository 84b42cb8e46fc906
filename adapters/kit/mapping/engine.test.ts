import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { MappingProfile, withAttributes, withLabel } from './engine';
import { readBatchFile, IndexedRecord } from '../xml/batch-file';
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

  it('refuses a record whose rule condition fails, as when its `from` fails, rather than throwing', async () => {
    // A condition that fails at run time (here a function that does not exist) made mapRecord
    // throw: the message it came in was answered "try again later", and failed again on every retry.
    const p = MappingProfile.fromText('x.yaml', minimal().replace('localCaseId: { from: no }', `localCaseId:
    - when: "$noSuchFunction(kind)"
      from: "'OLD-' & no"
    - from: no`), shared);
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    const r = await p.mapRecord({ ...base, kind: 'old' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(!r.ok, JSON.stringify(r));
    assert.deepEqual({ field: r.failure.field, rule: r.failure.rule }, { field: 'localCaseId', rule: 'expression' });
    assert.match(r.failure.reason, /condition/);
  });

  it('refuses a record whose expression gives a function (a regex, a lambda) rather than throwing', async () => {
    // `from: "/[a-z]+/"` loads, and gave every record a TypeError out of mapRecord: each message
    // was answered "try again later".
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    for (const expr of ['/[a-z]+/', 'function($x) { $x }']) {
      const p = MappingProfile.fromText('x.yaml', minimal().replace('localCaseId: { from: no }', `localCaseId: { from: ${JSON.stringify(expr)} }`), shared);
      const r = await p.mapRecord(base, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!r.ok, `${expr}: ${JSON.stringify(r)}`);
      assert.deepEqual({ field: r.failure.field, rule: r.failure.rule }, { field: 'localCaseId', rule: 'expression' }, expr);
    }
  });

  it('refuses text that PostgreSQL cannot store (a NUL, an unpaired surrogate) in any field, naming the field', async () => {
    // JSON carries both (\u0000, \ud800). Mapped into an event they made the store refuse the whole
    // message's transaction: the department was answered 503 for that batch for ever.
    const p = MappingProfile.fromText('x.yaml', minimal(), shared);
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    for (const [no, rule] of [['4\u00002', 'control-character'], ['4\ud8002', 'encoding'], ['\udc0042', 'encoding'], ['42\ud83d', 'encoding']]) {
      const r = await p.mapRecord({ ...base, no }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!r.ok, JSON.stringify(no));
      assert.deepEqual({ field: r.failure.field, rule: r.failure.rule }, { field: 'no', rule }, JSON.stringify(no));
    }
    // A surrogate pair is a character like any other.
    const pair = await p.mapRecord({ ...base, no: '4\ud83d\ude002' }, { rawMessageId: 'm', recordIndex: 0 });
    assert.ok(pair.ok && pair.event.data.localCaseId === '4\ud83d\ude002', JSON.stringify(pair));
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

  describe('times', () => {
    const base = { id: '1', no: '42', st: 'A', it: 'X', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };
    const timeRule = (rule: string) => MappingProfile.fromText('x.yaml', minimal().replace('statusTime: { from: t, normalise: localTime }', `statusTime: ${rule}`), shared);

    it('reads a zone-less ISO 8601 time in the zone the profile names, Beijing by default', async () => {
      const beijing = await timeRule('{ from: t, normalise: localTime, format: iso8601 }').mapRecord({ ...base, t: '2026-11-24T10:20:31' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(beijing.ok && beijing.event.data.statusTime === '2026-11-24T10:20:31+08:00', JSON.stringify(beijing));
      const utc = await timeRule('{ from: t, normalise: localTime, format: iso8601, zone: UTC }').mapRecord({ ...base, t: '2026-11-24T10:20:31' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(utc.ok && utc.event.data.statusTime === '2026-11-24T18:20:31+08:00', JSON.stringify(utc));
    });

    it('reads the department\'s own pattern, and refuses a time against it, quoting the value as received and the label once', async () => {
      const p = timeRule('{ from: t, normalise: localTime, format: "yyyy/M/d H:mm", label: 状态时间 }');
      const ok = await p.mapRecord({ ...base, t: '2026/11/4 9:05' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(ok.ok && ok.event.data.statusTime === '2026-11-04T09:05:00+08:00', JSON.stringify(ok));
      const bad = await p.mapRecord({ ...base, t: '2026-11-04 09:05:00 ' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!bad.ok);
      assert.deepEqual({ field: bad.failure.field, value: bad.failure.value, rule: bad.failure.rule }, { field: 't', value: '2026-11-04 09:05:00 ', rule: 'format' });
      assert.equal(bad.failure.reason, '状态时间格式错误，应为 yyyy/M/d H:mm (t: "2026-11-04 09:05:00" does not match yyyy/M/d H:mm)');
      assert.doesNotMatch(bad.failure.reason, /时间时间/);
    });

    it('refuses, when the profile loads, a time option without its normaliser and a pattern it cannot read', () => {
      assert.throws(() => timeRule('{ from: t, format: iso8601 }'), /fields\.statusTime: `format` is an option of a normaliser: add `normalise: localTime`/);
      assert.throws(() => timeRule('{ from: t, normalise: localTime, format: "yyyy/M/d" }'), (e: unknown) => e instanceof ConfigError && /fields\.statusTime: normaliser localTime: time pattern "yyyy\/M\/d" has no hour, minute/.test(e.message));
      assert.throws(() => timeRule('{ from: t, normalise: localTime, zone: Asia/Beijing }'), /unknown time zone/);
      assert.throws(() => timeRule('{ from: t, normalise: localTime, legacy: false }'), /normaliser localTime takes no option legacy/);
    });
  });

  describe('constants, keys and identifiers', () => {
    const base = { id: '1', no: '42', st: 'A', it: 'X', t: '2026-11-24 09:00:00', name: '石家庄恒泰商贸有限公司', code: '91130100MA0CK3L52K' };

    it('sets a constant with `value`, through a table like any value', async () => {
      const p = MappingProfile.fromText('x.yaml', minimal().replace('applicantIdType: { value: USCC }', 'applicantIdType: { value: E, table: idTypes }').replace('tables:', 'tables:\n  idTypes: { E: USCC, A: CITIZEN_ID }'), shared);
      const r = await p.mapRecord(base, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(r.ok && r.event.data.applicant.idType === 'USCC' && r.event.data.applicant.kind === 'ORGANISATION', JSON.stringify(r));
      const bad = await p.mapRecord({ ...base, code: '91130100MA0CK3L52A' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!bad.ok && bad.failure.rule === 'check-character' && bad.failure.field === 'code');
    });

    it('names the field of the event key that is missing, with its label when a rule reads it', async () => {
      const p = MappingProfile.fromText('x.yaml', minimal().replace('eventKey: [id]', 'eventKey: [id, no]').replace('localCaseId: { from: no }', 'localCaseId: { from: no, label: 受理编号 }'), shared);
      const { id: _id, ...noId } = base;
      const a = await p.mapRecord(noId, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!a.ok);
      assert.deepEqual({ field: a.failure.field, rule: a.failure.rule, reason: a.failure.reason }, { field: 'id', rule: 'required', reason: '记录标识 id 缺失 (id, a field of the event key, is empty)' });
      const b = await p.mapRecord({ ...base, no: ' ' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!b.ok);
      assert.deepEqual({ field: b.failure.field, value: b.failure.value, reason: b.failure.reason }, { field: 'no', value: ' ', reason: '受理编号缺失 (no, a field of the event key, is empty)' });
    });

    it('refuses a 15-digit citizen ID where the profile says legacy: false (market regulation), and upgrades it elsewhere', async () => {
      const person = { eventId: 'e-1', caseNo: 'SJ1', itemCode: 'SCJG-SP-001', status: 'ACCEPTED', statusTime: '2026-11-24T09:12:44+08:00', applicant: { type: 'PERSON', name: '王建国', idNumber: '130102850312041' } };
      const market = await profile().mapRecord(person, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(!market.ok);
      assert.deepEqual({ field: market.failure.field, rule: market.failure.rule, reason: market.failure.reason },
        { field: 'applicant.idNumber', rule: 'legacy', reason: '身份证号码为15位旧号码，应为18位 (applicant.idNumber: the 15-digit legacy form is not accepted here; the 18-digit form is required)' });
      const eighteen = await profile().mapRecord({ ...person, applicant: { ...person.applicant, idNumber: '130102198503120412' } }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(eighteen.ok && eighteen.event.data.applicant.idNumber === '130102198503120412');
      const lenient = MappingProfile.fromText('x.yaml', minimal().replace('applicantIdType: { value: USCC }', 'applicantIdType: { value: CITIZEN_ID }'), shared);
      const upgraded = await lenient.mapRecord({ ...base, code: '130102850312041' }, { rawMessageId: 'm', recordIndex: 0 });
      assert.ok(upgraded.ok && upgraded.event.data.applicant.idNumber === '130102198503120412', JSON.stringify(upgraded));
      assert.throws(() => MappingProfile.fromText('x.yaml', minimal().replace('applicantName: { from: name }', 'applicantName: { from: name, legacy: false }'), shared), /fields\.applicantName: `legacy` is an option of a normaliser: add `normalise: citizenId`/);
    });
  });

  describe('XML attributes of a record', () => {
    const xml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>
<Batch batchNo="B7">
  <Record applyNo="YC-1" status="A"><item code="X"/><t>2026-11-24 09:00:00</t><name>石家庄恒泰商贸有限公司</name><code>91130100MA0CK3L52K</code></Record>
  <Record applyNo="YC-2" status="A" no="attr"><no>element</no><item code="X"/><t>2026-11-24 09:00:00</t><name>石家庄恒泰商贸有限公司</name><code>91130100MA0CK3L52K</code></Record>
</Batch>`);
    const read = async () => {
      const records: IndexedRecord[] = [];
      let batch: Record<string, string> = {};
      await readBatchFile(xml, { root: 'Batch', record: 'Record', encodings: ['UTF-8'], fallbackEncoding: 'UTF-8', maxBytes: 1 << 20 }, { onRecords: (r, b) => { records.push(...r); batch = { ...b }; } });
      return { records: records.map((r) => r.record), batch };
    };
    const attrProfile = (localCaseId: string, key = '"@applyNo"') => MappingProfile.fromText('x.yaml', minimal()
      .replace('eventKey: [id]', `eventKey: [${key}]`)
      .replace('localCaseId: { from: no }', `localCaseId: { from: ${localCaseId} }`)
      .replace('status: { from: st, table: status }', 'status: { from: "@status", table: status }')
      .replace('item: { from: it, table: items }', 'item: { from: "item.@code", table: items }'), shared);

    it('reads them as `@name`, `@_name` or a bare name the record has no element for, without backticks', async () => {
      const { records, batch } = await read();
      for (const from of ['"@applyNo"', '"@_applyNo"', 'applyNo']) {
        const r = await attrProfile(from).mapRecord(records[0], { rawMessageId: 'm', recordIndex: 0, batch });
        assert.ok(r.ok, `${from}: ${JSON.stringify(r)}`);
        assert.equal(r.event.data.localCaseId, 'YC-1', from);
        assert.equal(r.event.data.status, 'ACCEPTED');
        assert.equal(r.event.data.item.code, '130100-SC-0001');
      }
      // The batch's attributes, by either spelling.
      for (const from of ['"$batch.batchNo & @applyNo"', '$batch.batchNo', '"$batch.@batchNo"']) {
        const r = await attrProfile(from).mapRecord(records[0], { rawMessageId: 'm', recordIndex: 0, batch });
        assert.ok(r.ok && r.event.data.localCaseId.startsWith('B7'), `${from}: ${JSON.stringify(r)}`);
      }
    });

    it('prefers an element to an attribute of the same name unless `@` says otherwise', async () => {
      const { records, batch } = await read();
      const element = await attrProfile('no').mapRecord(records[1], { rawMessageId: 'm', recordIndex: 1, batch });
      const attribute = await attrProfile('"@no"').mapRecord(records[1], { rawMessageId: 'm', recordIndex: 1, batch });
      assert.ok(element.ok && element.event.data.localCaseId === 'element');
      assert.ok(attribute.ok && attribute.event.data.localCaseId === 'attr');
    });

    it('gives event ids by the attribute key, and names a missing attribute as the department does', async () => {
      const { records, batch } = await read();
      const a = await attrProfile('"@applyNo"', 'applyNo').mapRecord(records[0], { rawMessageId: 'm', recordIndex: 0, batch });
      const b = await attrProfile('"@applyNo"', '"@applyNo"').mapRecord(records[0], { rawMessageId: 'x', recordIndex: 5, batch });
      assert.ok(a.ok && b.ok && a.event.id === b.event.id);
      const { ['@_applyNo']: _gone, ...noKey } = records[0] as Record<string, unknown>;
      const missing = await attrProfile('"@applyNo"').mapRecord(noKey, { rawMessageId: 'm', recordIndex: 0, batch });
      assert.ok(!missing.ok);
      assert.equal(missing.failure.field, 'applyNo');
      assert.match(missing.failure.reason, /applyNo/);
    });
  });

  describe('withAttributes', () => {
    it('writes `@name` in an expression as JSONata reads the attribute, and leaves everything else alone', () => {
      assert.equal(withAttributes("@status = 'A' ? @applyNo : item.@code"), "`@_status` = 'A' ? `@_applyNo` : item.`@_code`");
      assert.equal(withAttributes('$batch.@batchNo & @_applyNo'), '$batch.batchNo & `@_applyNo`');
      assert.equal(withAttributes(`'@a' & "say \\"@b\\"" & \`@_c\` /* @d */ & Account@$acc.x`), `'@a' & "say \\"@b\\"" & \`@_c\` /* @d */ & Account@$acc.x`);
    });
  });

  describe('withLabel', () => {
    it('composes label and message without a doubled word', () => {
      assert.equal(withLabel('状态时间', '时间格式错误'), '状态时间格式错误');
      assert.equal(withLabel('身份证号码', '号码格式错误'), '身份证号码格式错误');
      assert.equal(withLabel('纳税人识别号', '校验位错误'), '纳税人识别号校验位错误');
      // One character alone may be chance: kept.
      assert.equal(withLabel('账号', '号码格式错误'), '账号号码格式错误');
    });

    it('starts with the label, ends with the message, and never repeats two characters where they meet', () => {
      const word = fc.string({ unit: fc.constantFrom(...'状态时间号码格式错误日期'), minLength: 1, maxLength: 6 });
      fc.assert(
        fc.property(word, word, (label, message) => {
          const text = withLabel(label, message);
          assert.ok(text.startsWith(label) && message.endsWith(text.slice(label.length)));
          const overlap = label.length + message.length - text.length;
          assert.equal(label.slice(label.length - overlap) + text.slice(label.length), overlap ? message : text.slice(label.length));
          for (let n = 2; n <= Math.min(label.length, message.length); n++) {
            if (label.endsWith(message.slice(0, n))) assert.ok(overlap >= n, `${label} + ${message}`);
          }
        }),
      );
    });
  });
});
