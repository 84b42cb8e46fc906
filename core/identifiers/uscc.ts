// Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters from the MOD 31
// alphabet, the last one a check character. Only that 18th character is checked: the
// organisation code embedded in characters 9–17 is deliberately not checked against GB 11714
// (the scope agreed with the departments).

import { MOD31_ALPHABET, isMod31Char, mod31CheckChar } from './mod31';
import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

/** The GB 32100 check character for the first 17 characters of a code. */
export function usccCheckChar(first17: string): string {
  if (first17.length !== 17) {
    throw new RangeError(`USCC body must be 17 characters, got ${first17.length}`);
  }
  return mod31CheckChar(first17);
}

/** Normalises a unified social credit code: trimmed, full-width folded to ASCII, upper-cased, checked. */
export function normaliseUscc(input: string): Normalised {
  const code = toHalfWidth(input).trim().toUpperCase();
  if (code === '') return refuse('empty', '为空', 'no unified social credit code given');

  for (let i = 0; i < code.length; i++) {
    if (!isMod31Char(code[i])) {
      return refuse('charset', '含非法字符', `character ${JSON.stringify(code[i])} at position ${i + 1} is not in the GB 32100 alphabet ${MOD31_ALPHABET}`);
    }
  }
  if (code.length !== 18) {
    return refuse('length', '长度错误', `expected 18 characters, got ${code.length}`);
  }
  const expected = usccCheckChar(code.slice(0, 17));
  if (code[17] !== expected) {
    return refuse('check-character', '校验位错误', `expected check character ${expected}, got ${code[17]}`);
  }
  return accept(code);
}
