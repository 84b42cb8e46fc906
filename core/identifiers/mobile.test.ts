import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { normaliseMobile, normalisePhone } from './mobile';

const mobile = fc
  .tuple(fc.integer({ min: 3, max: 9 }), fc.integer({ min: 0, max: 999_999_999 }))
  .map(([second, rest]) => `1${second}${String(rest).padStart(9, '0')}`);

describe('phone numbers', () => {
  describe('normalisePhone', () => {
    it('reads the sample mobiles as the 11 digits', () => {
      for (const typed of ['138 3311 0425', '+86-138-3311-0425', '0086 13833110425', '(+86) 138-3311-0425', '１３８３３１１０４２５']) {
        assert.deepEqual(normalisePhone(typed), { ok: true, value: { number: '13833110425', mobile: true } }, typed);
      }
      assert.deepEqual(normalisePhone('15931100786'), { ok: true, value: { number: '15931100786', mobile: true } });
      assert.deepEqual(normalisePhone('13703210099'), { ok: true, value: { number: '13703210099', mobile: true } });
    });

    it('keeps landlines as digits only, not mobile', () => {
      assert.deepEqual(normalisePhone('0311-86688001'), { ok: true, value: { number: '031186688001', mobile: false } });
      assert.deepEqual(normalisePhone('(0311) 8551 2345'), { ok: true, value: { number: '031185512345', mobile: false } });
      assert.deepEqual(normalisePhone('010-12345678'), { ok: true, value: { number: '01012345678', mobile: false } });
      // The international form drops the trunk 0.
      assert.deepEqual(normalisePhone('+86 311 86688001'), { ok: true, value: { number: '031186688001', mobile: false } });
    });

    it('refuses garbage with a reason', () => {
      assert.deepEqual(normalisePhone('138-3311-042'), {
        ok: false,
        rule: 'length',
        message: '长度错误',
        detail: 'a mobile number has 11 digits, got 10',
      });
      assert.equal((normalisePhone('无') as { rule: string }).rule, 'charset');
      assert.equal((normalisePhone('138 3311 0425 ext 12') as { rule: string }).rule, 'charset');
      assert.equal((normalisePhone('12345678901') as { rule: string }).rule, 'format');
      assert.equal((normalisePhone('86688001') as { rule: string }).rule, 'format');
      assert.equal((normalisePhone('0311') as { rule: string }).rule, 'format');
      assert.equal((normalisePhone('  ') as { rule: string }).rule, 'empty');
      assert.equal((normalisePhone('+86') as { rule: string }).rule, 'format');
    });
  });

  describe('normaliseMobile', () => {
    it('accepts mobiles as the bare 11 digits', () => {
      assert.deepEqual(normaliseMobile('+86-138-3311-0425'), { ok: true, value: '13833110425' });
    });

    it('refuses a landline with rule not-mobile', () => {
      assert.deepEqual(normaliseMobile('0311-86688001'), {
        ok: false,
        rule: 'not-mobile',
        message: '不是手机号码',
        detail: '12-digit landline number',
      });
    });

    it('passes on the refusal of something that is no phone number at all', () => {
      assert.equal((normaliseMobile('abc') as { rule: string }).rule, 'charset');
    });
  });

  describe('properties', () => {
    it('reads any mobile the same however it is grouped and prefixed', () => {
      fc.assert(
        fc.property(
          mobile,
          fc.constantFrom('', '+86', '0086', '+86 ', '(+86)'),
          fc.constantFrom(' ', '-', '', '\u3000'),
          fc.boolean(),
          (n, prefix, sep, wide) => {
            let typed = `${prefix}${n.slice(0, 3)}${sep}${n.slice(3, 7)}${sep}${n.slice(7)}`;
            if (wide) typed = typed.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
            assert.deepEqual(normaliseMobile(typed), { ok: true, value: n });
          },
        ),
      );
    });

    it('answers digits only for whatever it accepts', () => {
      fc.assert(
        fc.property(fc.string({ unit: fc.constantFrom(...'0123456789 -+()８'), maxLength: 20 }), (s) => {
          const r = normalisePhone(s);
          if (r.ok) assert.match(r.value.number, /^\d{10,12}$/);
        }),
      );
    });
  });
});
