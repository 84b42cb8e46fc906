import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { parse } from 'yaml';
import { MOD31_ALPHABET } from './mod31';
import { normaliseUscc, usccCheckChar } from './uscc';

// Every organ and hall code of the registry, read from it: a department added there is checked
// here without this test being edited.
const registry = parse(readFileSync(path.resolve(__dirname, '../../../contracts/registry.yaml'), 'utf8')) as {
  departments: { code: string; name: string; halls?: { code: string; name: string }[] }[];
};
const REGISTRY_CODES = registry.departments.flatMap((d) => [d, ...(d.halls ?? [])]).map((o) => ({ code: String(o.code), name: o.name }));
// Applicant codes of the departments' samples.
const SAMPLE_CODES = ['91130100MA0CK3L52K', '91130102MA0D8E1F7B', '91130100MA0FGH8J4Q'];

const body17 = fc.string({ unit: fc.constantFrom(...MOD31_ALPHABET), minLength: 17, maxLength: 17 });

describe('unified social credit code (GB 32100)', () => {
  describe('usccCheckChar', () => {
    it('computes the check character of every registry and sample code', () => {
      assert.ok(REGISTRY_CODES.length > 0, 'the registry lists departments');
      for (const code of [...REGISTRY_CODES.map((o) => o.code), ...SAMPLE_CODES]) {
        assert.equal(usccCheckChar(code.slice(0, 17)), code[17], code);
      }
    });

    it('throws on a body of the wrong length or outside the alphabet', () => {
      assert.throws(() => usccCheckChar('91130100MA0CK3L5'), RangeError);
      assert.throws(() => usccCheckChar('91130100MA0CK3L5O'), RangeError);
    });
  });

  describe('normaliseUscc', () => {
    it('accepts every organ and hall code in contracts/registry.yaml, each once', () => {
      for (const { code, name } of REGISTRY_CODES) assert.deepEqual(normaliseUscc(code), { ok: true, value: code }, `${name} ${code}`);
      const codes = REGISTRY_CODES.map((o) => o.code);
      assert.equal(new Set(codes).size, codes.length, `a code listed twice: ${codes.join(', ')}`);
    });

    it('refuses a registry code with one character changed (the registry check is not vacuous)', () => {
      const { code } = REGISTRY_CODES[0];
      const changed = code.slice(0, 17) + (code[17] === '0' ? '1' : '0');
      assert.equal((normaliseUscc(changed) as { rule: string }).rule, 'check-character');
    });

    it('accepts the sample applicants 91130100MA0CK3L52K and 91130102MA0D8E1F7B', () => {
      assert.deepEqual(normaliseUscc('91130100MA0CK3L52K'), { ok: true, value: '91130100MA0CK3L52K' });
      assert.deepEqual(normaliseUscc('91130102MA0D8E1F7B'), { ok: true, value: '91130102MA0D8E1F7B' });
    });

    it('refuses the deliberately invalid tax-bureau record 4, naming the expected Q', () => {
      assert.deepEqual(normaliseUscc('91130100MA0FGH8J4A'), {
        ok: false,
        rule: 'check-character',
        message: '校验位错误',
        detail: 'expected check character Q, got A',
      });
      assert.deepEqual(normaliseUscc('91130100MA0FGH8J4Q'), { ok: true, value: '91130100MA0FGH8J4Q' });
    });

    it('trims, folds full-width characters and upper-cases', () => {
      assert.deepEqual(normaliseUscc('  91130100ma0ck3l52k\u3000'), { ok: true, value: '91130100MA0CK3L52K' });
      assert.deepEqual(normaliseUscc('９１１３０１００ＭＡ０ＣＫ３Ｌ５２Ｋ'), { ok: true, value: '91130100MA0CK3L52K' });
    });

    it('refuses letters GB 32100 leaves out, wrong lengths and empty input', () => {
      for (const letter of 'IOZSV') {
        const r = normaliseUscc(`91130100MA0CK3L5${letter}K`);
        assert.equal(!r.ok && r.rule, 'charset', letter);
        assert.equal(!r.ok && r.message, '含非法字符');
      }
      assert.deepEqual(normaliseUscc('91130100MA0CK3L52'), {
        ok: false,
        rule: 'length',
        message: '长度错误',
        detail: 'expected 18 characters, got 17',
      });
      assert.equal((normaliseUscc('91130100MA0CK3L52K0') as { rule: string }).rule, 'length');
      assert.equal((normaliseUscc('9113 0100MA0CK3L52K') as { rule: string }).rule, 'charset');
      assert.equal((normaliseUscc('') as { rule: string }).rule, 'empty');
    });
  });

  describe('properties', () => {
    it('accepts any body followed by its check character', () => {
      fc.assert(
        fc.property(body17, (body) => {
          const code = body + usccCheckChar(body);
          assert.deepEqual(normaliseUscc(code.toLowerCase()), { ok: true, value: code });
        }),
      );
    });

    it('detects any single-character substitution', () => {
      fc.assert(
        fc.property(body17, fc.integer({ min: 0, max: 17 }), fc.constantFrom(...MOD31_ALPHABET), (body, at, ch) => {
          const code = body + usccCheckChar(body);
          fc.pre(code[at] !== ch);
          const changed = code.slice(0, at) + ch + code.slice(at + 1);
          const r = normaliseUscc(changed);
          assert.equal(!r.ok && r.rule, 'check-character');
        }),
      );
    });
  });
});
