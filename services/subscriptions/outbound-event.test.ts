import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { CaseEvent, OutboundType } from '../../contracts/types';
import { validateOutboundEvent } from '../../contracts/validate';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataKeys } from '../../core/kernel/data-keys';
import { taxEvent, vehicleEvent } from '../../test/support/events';
import { alertChange, appliedChange, maskName, maskNumber, matches, OUTBOUND_TYPES } from './outbound-event';
import { retryAfterHeaderMs } from '../../core/kernel/http';

const retryAfter = (v: string | null) => retryAfterHeaderMs(v) ?? undefined;

const keys = DataKeys.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'outbound-event-')), 'data-keys.json'), { create: true });
const TYPES: OutboundType[] = Object.values(OUTBOUND_TYPES);
const STATUSES = ['SUBMITTED', 'ACCEPTED', 'COMPLETED', 'REJECTED'] as const;
const DEPARTMENTS = ['11130100000400113E', '11130100MB0194826G', '11130100000500117D'];

describe('a change as subscribers receive it', () => {
  it('never carries the applicant\'s name, ID number, mobile or landline, nor the officer\'s name, when masked (10,000 generated applicants)', () => {
    const chinese = fc.array(fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((c) => String.fromCharCode(c)), { minLength: 2, maxLength: 12 }).map((a) => a.join(''));
    const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((a) => a.join(''));
    fc.assert(fc.property(chinese, digits(17), fc.constantFrom('X', '0', '7'), digits(9), fc.option(digits(8), { nil: null }), fc.option(chinese, { nil: null }),
      (name, id17, check, mobile9, landline, officer) => {
        const e: CaseEvent = vehicleEvent('k', 'L-1', 'ACCEPTED', '2026-11-24T09:00:00+08:00');
        const idNumber = id17 + check;
        const mobile = `13${mobile9}`;
        const phone = landline === null ? null : `0311-${landline}`;
        e.data.applicant = { kind: 'PERSON', name, idType: 'CITIZEN_ID', idNumber, mobile, phone };
        e.data.officer = officer;
        e.data.remark = `回电 ${mobile}，证件 ${idNumber}`;
        const c = appliedChange({ ...e, subject: '130100202611240000000010' }, keys);
        const masked = JSON.stringify(c.masked);
        for (const v of [name, idNumber, mobile, ...(phone ? [phone, phone.replace('-', '')] : []), ...(officer ? [officer] : [])]) {
          assert.ok(!masked.includes(v), `${JSON.stringify(v)} in ${masked}`);
        }
        const clear = JSON.stringify(c.clear);
        assert.ok(clear.includes(name) && clear.includes(idNumber) && clear.includes(mobile), 'in clear for a subscription with personal data');
      }), { numRuns: 10_000 });
  });

  it('is a published OutboundEvent: an applied event with its id, the event\'s source and the case as subject', () => {
    const e = taxEvent('t1', 'SW-1', 'COMPLETED', '2026-11-24T10:00:00+08:00', '130100202611240000000010');
    const c = appliedChange(e, keys);
    assert.equal(validateOutboundEvent(c.clear), null);
    assert.equal(validateOutboundEvent(c.masked), null);
    assert.deepEqual([c.clear.id, c.clear.type, c.clear.subject, c.clear.source, c.clear.data.status], [e.id, OUTBOUND_TYPES.applied, '130100202611240000000010', 'urn:hub:system:tax-bureau', 'COMPLETED']);
    assert.equal(c.masked.data.applicant && (c.masked.data.applicant as { idNumber: string }).idNumber, '9113**********L52K');
    assert.throws(() => appliedChange(taxEvent('t2', 'SW-2', 'SUBMITTED', '2026-11-24T10:00:00+08:00'), keys), /no supervision code/);
  });

  it('describes a light change and a violation with the case\'s item and status, and none for a case the store does not hold', () => {
    const facts = { item: { code: '130100-SW-0001', name: '增值税一般纳税人登记' }, status: 'COMPLETED' as const };
    const light = alertChange({ id: '17', kind: 'LIGHT_CHANGED', level: 'RED', supervisionCode: '130100202611240000000010', department: { code: DEPARTMENTS[1], name: '税务局' }, from: 'YELLOW', to: 'RED', at: '2026-11-25T00:00:05+08:00' }, facts)!;
    assert.equal(validateOutboundEvent(light.clear), null);
    assert.deepEqual([light.id, light.type, light.clear.source, light.clear.data.light, light.clear.data.status], ['17', OUTBOUND_TYPES.light, 'urn:hub:supervisor', { from: 'YELLOW', to: 'RED' }, 'COMPLETED']);
    const violation = alertChange({ id: '18', kind: 'VIOLATION', level: 'RED', supervisionCode: '130100202611240000000010', department: { code: DEPARTMENTS[1], name: '税务局' }, violation: { code: 'NO_ACCEPTANCE', reason: '未受理即办结' }, at: '2026-11-25T00:00:05+08:00' }, facts)!;
    assert.equal(violation.type, OUTBOUND_TYPES.violation);
    assert.deepEqual(violation.clear.data.violation, { code: 'NO_ACCEPTANCE', reason: '未受理即办结' });
    assert.equal(alertChange({ id: '19', kind: 'VIOLATION', level: 'RED', supervisionCode: '130100202611240000000010', department: { code: DEPARTMENTS[1], name: '税务局' }, at: '2026-11-25T00:00:05+08:00' }, undefined), null);
  });

  it('masks a name to its first character, and a landline to its first three and last two digits', () => {
    assert.equal(maskName('刘芳'), '刘*');
    assert.equal(maskName('石家庄恒泰商贸有限公司'), '石********');
    assert.equal(maskNumber('0311-86688001'), '031*-******01');
  });
});

describe('a subscription\'s filter', () => {
  it('takes a change exactly when every list it gives holds the change\'s value (property)', () => {
    const subset = <T>(values: readonly T[]) => fc.option(fc.subarray([...values], { minLength: 0 }), { nil: undefined });
    fc.assert(fc.property(subset(DEPARTMENTS), subset(STATUSES), subset(TYPES), fc.constantFrom(...DEPARTMENTS), fc.constantFrom(...STATUSES), fc.constantFrom(...TYPES),
      (departments, statuses, types, department, status, type) => {
        const filter = { ...(departments ? { departments } : {}), ...(statuses ? { statuses: [...statuses] } : {}), ...(types ? { types } : {}) };
        const want = (!departments || departments.includes(department)) && (!statuses || statuses.includes(status)) && (!types || types.includes(type));
        assert.equal(matches(filter, { type, departmentCode: department, itemCode: '130100-GA-0001', status }), want);
      }), { numRuns: 2000 });
    assert.equal(matches({}, { type: OUTBOUND_TYPES.violation, departmentCode: DEPARTMENTS[0], itemCode: 'x', status: 'ACCEPTED' }), true, 'no filter takes every change');
    assert.equal(matches({ items: ['130100-SW-0001'] }, { type: OUTBOUND_TYPES.applied, departmentCode: DEPARTMENTS[0], itemCode: '130100-GA-0001', status: 'ACCEPTED' }), false);
  });
});

describe('Retry-After', () => {
  it('reads seconds or an HTTP date, and nothing else', () => {
    assert.equal(retryAfter('7'), 7000);
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    const ms = retryAfter(inTen)!;
    assert.ok(ms > 8000 && ms <= 10_000, String(ms));
    assert.equal(retryAfter('soon'), undefined);
    assert.equal(retryAfter(null), undefined);
    assert.equal(retryAfter('-3'), undefined);
  });
});
