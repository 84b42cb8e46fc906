import assert from 'node:assert/strict';
import { normaliseCitizenId } from './citizen-id';
import { normaliseUscc } from './uscc';
import { normalisePhone } from './mobile';
import { normaliseName } from './person-name';
import { normaliseLocalTime } from './local-time';

// Every identifier, phone, name and time the departments handed over in their samples and
// registry, with what the hub must make of it (../shared/departments/*).
const CITIZEN_IDS: [string, string | null][] = [
  ['130102198503120412', '130102198503120412'], // vehicle office 01, 02
  ['１３０１０４１９９２１１０７３５２７', '130104199211073527'], // vehicle office 03: full-width digits
  ['130105197806241283', '130105197806241283'], // market regulation batch-01
  ['130102850312041', '130102198503120412'], // the 15-digit legacy form of the first one
  ['130105197806241284', null], // wrong check digit
];
const CREDIT_CODES: [string, boolean][] = [
  ['11130100000400113E', true], ['111301000004001219', true], ['11130100000400105K', true], // registry: vehicle office, halls
  ['11130100MB0194826G', true], ['11130100000500117D', true], ['111301000001000056', true], // registry: tax, market, approval
  ['91130100MA0CK3L52K', true], // tax records 1-2, market regulation
  ['91130102MA0D8E1F7B', true], // tax record 3
  ['91130100MA0FGH8J4A', false], // tax record 4: deliberately wrong check character
  ['91130100MA0FGH8J4Q', true], // … and its valid form
];
const PHONES: [string, string, boolean][] = [
  ['138 3311 0425', '13833110425', true], ['+86-138-3311-0425', '13833110425', true], ['15931100786', '15931100786', true],
  ['13831100425', '13831100425', true], ['15833321907', '15833321907', true], ['13703210099', '13703210099', true],
  ['0311-86688001', '031186688001', false], ['0311-85512345', '031185512345', false],
];

describe('department sample identifiers', () => {
  it('reads every sample citizen ID as the departments mean it', () => {
    for (const [input, want] of CITIZEN_IDS) {
      const r = normaliseCitizenId(input, new Date('2026-11-25T00:00:00+08:00'));
      if (want) assert.deepEqual(r.ok && r.value, want, input);
      else assert.equal(r.ok, false, input);
    }
  });

  it('checks every sample and registry credit code by its 18th character', () => {
    for (const [input, valid] of CREDIT_CODES) assert.equal(normaliseUscc(input).ok, valid, input);
    const bad = normaliseUscc('91130100MA0FGH8J4A');
    assert.ok(!bad.ok && bad.rule === 'check-character' && /Q/.test(bad.detail ?? ''));
  });

  it('tells the sample mobiles from the landlines', () => {
    for (const [input, number, mobile] of PHONES) {
      const r = normalisePhone(input);
      assert.ok(r.ok, input);
      assert.deepEqual(r.value, { number, mobile }, input);
    }
  });

  it('keeps the sample names exactly, middle dot included', () => {
    for (const n of ['王建国', '阿依古丽·买买提', '石家庄恒泰商贸有限公司', '石家庄市长安区福满园餐饮店', '刘芳']) {
      const r = normaliseName(n);
      assert.ok(r.ok && r.value === n, n);
    }
  });

  it('reads the three departments\' time formats as Beijing time', () => {
    assert.deepEqual(normaliseLocalTime('2026-11-24 09:31:05'), { ok: true, value: '2026-11-24T09:31:05+08:00' });
    assert.deepEqual(normaliseLocalTime('20261124091502'), { ok: true, value: '2026-11-24T09:15:02+08:00' });
    assert.deepEqual(normaliseLocalTime('2026-11-24T09:12:44+08:00'), { ok: true, value: '2026-11-24T09:12:44+08:00' });
  });
});
