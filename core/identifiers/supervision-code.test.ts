import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { MOD31_ALPHABET } from './mod31';
import { issueSupervisionCode, parseSupervisionCode, randomSupervisionPart, supervisionCodeCheckChar } from './supervision-code';

const randomPart = fc.string({ unit: fc.constantFrom(...MOD31_ALPHABET), minLength: 9, maxLength: 9 });
const region = fc.stringMatching(/^\d{6}$/);
const firstSight = fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true });

describe('supervision code (统一服务监管码)', () => {
  it('is region + Beijing date of first sight + random part + check character', () => {
    const code = issueSupervisionCode('130100', '2026-11-24 09:31:05', () => 'ABCDEFGH1');
    assert.equal(code, `13010020261124ABCDEFGH1${supervisionCodeCheckChar('13010020261124ABCDEFGH1')}`);
    assert.equal(code.length, 24);
  });

  it('dates the code by the Beijing day, not the UTC one', () => {
    const late = new Date('2026-11-24T16:30:00Z'); // 00:30 on the 25th in Beijing
    assert.equal(issueSupervisionCode('130100', late, () => '000000000').slice(6, 14), '20261125');
    assert.equal(issueSupervisionCode('130100', '2026-11-24T01:12:44Z', () => '000000000').slice(6, 14), '20261124');
    assert.equal(issueSupervisionCode('130100', '20261124235959', () => '000000000').slice(6, 14), '20261124');
  });

  it('computes the check like GB 32100 over 23 characters', () => {
    // All-zero body: weighted sum 0, check = alphabet[(31 − 0) mod 31] = '0'.
    assert.equal(supervisionCodeCheckChar('0'.repeat(23)), '0');
    // A 1 in position 22 alone weighs 3^22 mod 31 = 14, so the check is alphabet[31 − 14] = 'H'.
    assert.equal(supervisionCodeCheckChar(`${'0'.repeat(22)}1`), 'H');
    assert.throws(() => supervisionCodeCheckChar('0'.repeat(24)), RangeError);
  });

  it('draws 9 characters of the alphabet from the CSPRNG', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const part = randomSupervisionPart();
      assert.match(part, /^[0-9ABCDEFGHJKLMNPQRTUWXY]{9}$/);
      seen.add(part);
    }
    assert.equal(seen.size, 200);
    assert.match(issueSupervisionCode('130100', new Date()), /^130100\d{8}[0-9A-HJ-NPQRTUWXY]{10}$/);
  });

  it('refuses to issue with a bad region, time or random part', () => {
    assert.throws(() => issueSupervisionCode('13010', new Date()), /region code must be 6 digits/);
    assert.throws(() => issueSupervisionCode('130100', new Date(NaN)), RangeError);
    assert.throws(() => issueSupervisionCode('130100', '2026-02-30 00:00:00'), RangeError);
    assert.throws(() => issueSupervisionCode('130100', new Date(), () => 'ABCDEFGHI'), /random part/);
    assert.throws(() => issueSupervisionCode('130100', new Date(), () => 'ABCDEFGH'), /random part/);
  });

  describe('parseSupervisionCode', () => {
    const code = issueSupervisionCode('130100', '2026-11-24 09:31:05', () => 'K3L52KQ7B');

    it('reads a valid code into its parts', () => {
      assert.deepEqual(parseSupervisionCode(code), { ok: true, value: { region: '130100', date: '20261124', code } });
    });

    it('tolerates surrounding spaces, lower case and full-width forms', () => {
      const wide = code.replace(/[0-9A-Z]/g, (ch) => String.fromCharCode(ch.charCodeAt(0) + 0xfee0));
      for (const typed of [` ${code}\u3000`, code.toLowerCase(), wide]) {
        assert.deepEqual(parseSupervisionCode(typed), { ok: true, value: { region: '130100', date: '20261124', code } }, typed);
      }
    });

    it('refuses a malformed code with rule format', () => {
      const cases = [
        code.slice(0, 23), // too short
        `${code}0`, // too long
        `${code.slice(0, 20)}O${code.slice(21)}`, // O is not in the alphabet
        `13010A${code.slice(6)}`, // region not digits
        `13010020261131${code.slice(14)}`, // 31 November
        `1301002026AB24${code.slice(14)}`, // date not digits
        '',
      ];
      for (const bad of cases) {
        const r = parseSupervisionCode(bad);
        assert.equal(!r.ok && r.rule, 'format', bad);
        assert.equal(!r.ok && r.message, '格式错误');
      }
    });

    it('refuses a wrong check character with rule check-character', () => {
      const expected = code[23];
      const wrong = expected === '0' ? '1' : '0';
      assert.deepEqual(parseSupervisionCode(code.slice(0, 23) + wrong), {
        ok: false,
        rule: 'check-character',
        message: '校验位错误',
        detail: `expected check character ${expected}, got ${wrong}`,
      });
    });
  });

  describe('properties', () => {
    it('every issued code parses back to its region and date', () => {
      fc.assert(
        fc.property(region, firstSight, randomPart, (r, when, part) => {
          const code = issueSupervisionCode(r, when, () => part);
          const parsed = parseSupervisionCode(code);
          assert.ok(parsed.ok);
          assert.equal(parsed.value.region, r);
          assert.equal(parsed.value.code, code);
          assert.equal(parsed.value.code.slice(14, 23), part);
        }),
      );
    });

    it('any single-character change is detected', () => {
      fc.assert(
        fc.property(region, firstSight, randomPart, fc.integer({ min: 0, max: 23 }), fc.constantFrom(...MOD31_ALPHABET), (r, when, part, at, ch) => {
          const code = issueSupervisionCode(r, when, () => part);
          fc.pre(code[at] !== ch);
          const changed = code.slice(0, at) + ch + code.slice(at + 1);
          assert.equal(parseSupervisionCode(changed).ok, false);
        }),
      );
    });

    it('a change to the random part or the check character is caught by the check', () => {
      fc.assert(
        fc.property(region, firstSight, randomPart, fc.integer({ min: 14, max: 23 }), fc.constantFrom(...MOD31_ALPHABET), (r, when, part, at, ch) => {
          const code = issueSupervisionCode(r, when, () => part);
          fc.pre(code[at] !== ch);
          const r2 = parseSupervisionCode(code.slice(0, at) + ch + code.slice(at + 1));
          assert.equal(!r2.ok && r2.rule, 'check-character');
        }),
      );
    });
  });
});
