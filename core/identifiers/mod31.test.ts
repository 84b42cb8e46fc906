import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { MOD31_ALPHABET, isMod31Char, mod31CheckChar } from './mod31';

describe('MOD 31 check (GB 32100)', () => {
  it('has the 31-character alphabet without I, O, Z, S, V', () => {
    assert.equal(MOD31_ALPHABET.length, 31);
    assert.equal(new Set(MOD31_ALPHABET).size, 31);
    for (const ch of 'IOZSV') assert.equal(isMod31Char(ch), false);
    assert.equal(isMod31Char('a'), false);
  });

  it('uses the weights of GB 32100 table 2 (3^i mod 31) for the first 17 positions', () => {
    const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    // A body with value 1 at position i alone has weighted sum weights[i].
    weights.forEach((w, i) => {
      const body = '0'.repeat(i) + '1' + '0'.repeat(16 - i);
      assert.equal(mod31CheckChar(body), MOD31_ALPHABET[(31 - w) % 31], `position ${i}`);
    });
  });

  it('gives 0 for an all-zero body (check = (31 − 0) mod 31)', () => {
    assert.equal(mod31CheckChar('0'.repeat(23)), '0');
  });

  it('throws on a character outside the alphabet, naming it', () => {
    assert.throws(() => mod31CheckChar('91130100MA0CK3L5O'), /"O" at position 17/);
  });

  it('makes the weighted body sum plus the check value 0 mod 31, for any length', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...MOD31_ALPHABET), maxLength: 40 }), (body) => {
        let sum = MOD31_ALPHABET.indexOf(mod31CheckChar(body));
        let w = 1;
        for (const ch of body) {
          sum += MOD31_ALPHABET.indexOf(ch) * w;
          w = (w * 3) % 31;
        }
        assert.equal(sum % 31, 0);
      }),
    );
  });
});
