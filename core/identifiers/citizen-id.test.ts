import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { beijingYmd } from './calendar-date';
import { citizenIdCheckDigit, normaliseCitizenId } from './citizen-id';

const NOW = new Date('2026-11-24T12:00:00+08:00');

function toFullWidth(s: string): string {
  return s.replace(/[0-9Xx]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));
}

// A syntactically valid 17-digit body: region, a birth date in range, a sequence number.
const body17 = fc
  .tuple(
    fc.integer({ min: 0, max: 999_999 }),
    fc.date({ min: new Date('1900-01-01T00:00:00+08:00'), max: NOW, noInvalidDate: true }),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(([region, birth, seq]) => `${String(region).padStart(6, '0')}${beijingYmd(birth)}${String(seq).padStart(3, '0')}`);

describe('citizen ID (GB 11643)', () => {
  describe('citizenIdCheckDigit', () => {
    it('computes the ISO 7064 MOD 11-2 check of the sample numbers', () => {
      assert.equal(citizenIdCheckDigit('13010219850312041'), '2');
      assert.equal(citizenIdCheckDigit('13010519780624128'), '3');
      assert.equal(citizenIdCheckDigit('13010419921107352'), '7');
    });

    it('gives X when the weighted sum is 2 mod 11', () => {
      // 11010519491231002X is the example number printed in GB 11643-1999.
      assert.equal(citizenIdCheckDigit('11010519491231002'), 'X');
    });

    it('throws on a body that is not 17 digits', () => {
      assert.throws(() => citizenIdCheckDigit('1301021985031204'), RangeError);
      assert.throws(() => citizenIdCheckDigit('1301021985031204A'), RangeError);
    });
  });

  describe('normaliseCitizenId', () => {
    it('accepts the valid sample numbers unchanged', () => {
      assert.deepEqual(normaliseCitizenId('130102198503120412', NOW), { ok: true, value: '130102198503120412' });
      assert.deepEqual(normaliseCitizenId('130105197806241283', NOW), { ok: true, value: '130105197806241283' });
    });

    it('folds full-width digits to ASCII (vehicle office sample 03)', () => {
      assert.deepEqual(normaliseCitizenId('１３０１０４１９９２１１０７３５２７', NOW), { ok: true, value: '130104199211073527' });
    });

    it('trims, removes inner ASCII and full-width spaces, and reads a lower-case x as X', () => {
      assert.deepEqual(normaliseCitizenId(' 110105 19491231\u3000002x ', NOW), { ok: true, value: '11010519491231002X' });
      assert.deepEqual(normaliseCitizenId('11010519491231002ｘ', NOW), { ok: true, value: '11010519491231002X' });
      assert.deepEqual(normaliseCitizenId('11010519491231002Ｘ', NOW), { ok: true, value: '11010519491231002X' });
    });

    it('upgrades the 15-digit legacy form and says so in a warning', () => {
      const result = normaliseCitizenId('130102850312041', NOW);
      assert.deepEqual(result, { ok: true, value: '130102198503120412', warnings: ['15位号码已升级为18位'] });
    });

    it('refuses a wrong check digit, naming the expected one', () => {
      assert.deepEqual(normaliseCitizenId('130102198503120413', NOW), {
        ok: false,
        rule: 'check-character',
        message: '校验位错误',
        detail: 'expected check character 2, got 3',
      });
      const r = normaliseCitizenId('13010519780624128X', NOW);
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.rule, 'check-character');
    });

    it('refuses impossible or out-of-range birth dates', () => {
      const impossible = '13010219850230041';
      const r1 = normaliseCitizenId(impossible + citizenIdCheckDigit(impossible), NOW);
      assert.equal(!r1.ok && r1.rule, 'date');
      assert.equal(!r1.ok && r1.message, '出生日期无效');

      const before1900 = '13010218991231041';
      const r2 = normaliseCitizenId(before1900 + citizenIdCheckDigit(before1900), NOW);
      assert.equal(!r2.ok && r2.rule, 'date');

      const tomorrow = '13010220261125041';
      const r3 = normaliseCitizenId(tomorrow + citizenIdCheckDigit(tomorrow), NOW);
      assert.equal(!r3.ok && r3.rule, 'date');
      const today = '13010220261124041';
      assert.equal(normaliseCitizenId(today + citizenIdCheckDigit(today), NOW).ok, true);

      // 15-digit form: 850230 is 1985-02-30.
      const r4 = normaliseCitizenId('130102850230041', NOW);
      assert.equal(!r4.ok && r4.rule, 'date');
    });

    it('accepts 29 February only in leap years', () => {
      const leap = '13010220000229041';
      assert.equal(normaliseCitizenId(leap + citizenIdCheckDigit(leap), NOW).ok, true);
      const century = '13010219000229041';
      assert.equal(!normaliseCitizenId(century + citizenIdCheckDigit(century), NOW).ok, true);
    });

    it('refuses empty input, wrong length, stray characters and a misplaced X', () => {
      assert.equal((normaliseCitizenId('   ') as { rule: string }).rule, 'empty');
      assert.deepEqual(normaliseCitizenId('1301021985031204', NOW), {
        ok: false,
        rule: 'length',
        message: '长度错误',
        detail: 'expected 18 characters (or the 15-digit legacy form), got 16',
      });
      assert.equal((normaliseCitizenId('13010219850312041-2', NOW) as { rule: string }).rule, 'charset');
      assert.equal((normaliseCitizenId('13010219850312X412', NOW) as { rule: string }).rule, 'charset');
      assert.equal((normaliseCitizenId('13010285031204X', NOW) as { rule: string }).rule, 'charset');
    });

    it('refuses the 15-digit form where the field does not allow it, and only that form', () => {
      assert.deepEqual(normaliseCitizenId('130102850312041', NOW, { legacy: false }), {
        ok: false,
        rule: 'legacy',
        message: '为15位旧号码，应为18位',
        detail: 'the 15-digit legacy form is not accepted here; the 18-digit form is required',
      });
      assert.deepEqual(normaliseCitizenId('130102198503120412', NOW, { legacy: false }), { ok: true, value: '130102198503120412' });
      assert.equal((normaliseCitizenId('1301028503120', NOW, { legacy: false }) as { rule: string }).rule, 'length');
      assert.deepEqual(normaliseCitizenId('130102850312041', NOW, { legacy: true }), normaliseCitizenId('130102850312041', NOW));
    });

    it('does not name the field in its messages', () => {
      for (const bad of ['', 'abc', '123', '130102198503120413', '130102198502300412']) {
        const r = normaliseCitizenId(bad, NOW);
        assert.equal(r.ok, false);
        assert.doesNotMatch(!r.ok ? r.message : '', /身份/);
      }
    });
  });

  describe('properties', () => {
    it('accepts any valid body followed by its computed check character', () => {
      fc.assert(
        fc.property(body17, (body) => {
          const id = body + citizenIdCheckDigit(body);
          assert.deepEqual(normaliseCitizenId(id, NOW), { ok: true, value: id });
        }),
      );
    });

    it('refuses the number when its check character is changed', () => {
      fc.assert(
        fc.property(body17, fc.constantFrom(...'0123456789X'), (body, other) => {
          const check = citizenIdCheckDigit(body);
          fc.pre(other !== check);
          const r = normaliseCitizenId(body + other, NOW);
          assert.equal(r.ok, false);
          assert.equal(!r.ok && r.rule, 'check-character');
        }),
      );
    });

    it('normalises a full-width, spaced, lower-case variant to the same value', () => {
      fc.assert(
        fc.property(body17, fc.boolean(), fc.integer({ min: 1, max: 17 }), (body, lower, cut) => {
          const id = body + citizenIdCheckDigit(body);
          const typed = toFullWidth(lower ? id.toLowerCase() : id);
          const spaced = `${typed.slice(0, cut)}\u3000${typed.slice(cut)}`;
          assert.deepEqual(normaliseCitizenId(spaced, NOW), { ok: true, value: id });
        }),
      );
    });

    it('upgrades any valid 15-digit number to the 18-digit number with the same fields', () => {
      fc.assert(
        fc.property(body17.filter((b) => b.slice(6, 8) === '19'), (body) => {
          const legacy = body.slice(0, 6) + body.slice(8);
          const r = normaliseCitizenId(legacy, NOW);
          assert.equal(r.ok && r.value, body + citizenIdCheckDigit(body));
        }),
      );
    });

    it('with legacy refused, refuses every 15-digit number and reads every 18-digit one as before', () => {
      fc.assert(
        fc.property(body17.filter((b) => b.slice(6, 8) === '19'), fc.boolean(), (body, typedWide) => {
          const legacy = body.slice(0, 6) + body.slice(8);
          const r = normaliseCitizenId(typedWide ? toFullWidth(legacy) : legacy, NOW, { legacy: false });
          assert.equal(!r.ok && r.rule, 'legacy');
          const id = body + citizenIdCheckDigit(body);
          assert.deepEqual(normaliseCitizenId(id, NOW, { legacy: false }), normaliseCitizenId(id, NOW));
        }),
      );
    });
  });
});
