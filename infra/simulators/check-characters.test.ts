import assert from 'node:assert/strict';
import { citizenIdCheckDigit } from '../../core/identifiers/citizen-id';
import { usccCheckChar } from '../../core/identifiers/uscc';
import { CREDIT_CODE_CHARS, citizenIdCheck, creditCodeCheck } from './check-characters';
import { Random } from './random';

// The simulators' check characters and the hub's are two implementations of one rule: the
// standards' own examples pin each, and the cross-checks make a bug in either one visible.
describe('simulators: check characters', () => {
  it('gives the check digit of the example in GB 11643', () => {
    assert.equal(citizenIdCheck('11010519491231002'), 'X');
  });

  it('gives the check character of the example in GB 32100', () => {
    assert.equal(creditCodeCheck('91350100M000100Y4'), '3');
  });

  it('agrees with the hub on every citizen ID check value, X and 0 included', () => {
    const rng = new Random('citizen-id');
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const body = rng.digits(17);
      const ours = citizenIdCheck(body);
      assert.equal(ours, citizenIdCheckDigit(body), body);
      seen.add(ours);
    }
    assert.equal(seen.size, 11, `check values seen: ${[...seen].sort().join('')}`);
  });

  it('agrees with the hub on every credit code check character, 0 from a remainder of 0 included', () => {
    const rng = new Random('credit-code');
    const seen = new Set<string>();
    for (let i = 0; i < 8000; i++) {
      let body = '';
      for (let j = 0; j < 17; j++) body += rng.pick([...CREDIT_CODE_CHARS]);
      const ours = creditCodeCheck(body);
      assert.equal(ours, usccCheckChar(body), body);
      seen.add(ours);
    }
    assert.equal(seen.size, 31);
  });

  it('refuses a body it cannot check', () => {
    assert.throws(() => citizenIdCheck('1101051949123100'), RangeError);
    assert.throws(() => creditCodeCheck('91350100M000100YI'), /position 17/);
  });
});
