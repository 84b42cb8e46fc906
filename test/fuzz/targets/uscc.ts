// Fuzz target: the unified social credit code normaliser (GB 32100). The input is the text a
// department sent. A refusal with one of the normaliser's rules is clean; a code it accepts must be
// 18 characters of the GB 32100 alphabet with the right check character, normalise to itself, and
// be caught if any one of its characters were wrong.

import { normaliseUscc, usccCheckChar } from '../../../core/identifiers/uscc';
import { MOD31_ALPHABET } from '../../../core/identifiers/mod31';
import { holds } from '../invariant';

const RULES = new Set(['empty', 'charset', 'length', 'check-character']);

export function fuzz(data: Buffer): void {
  const input = data.toString('utf8');
  const r = normaliseUscc(input);
  if (!r.ok) {
    holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
    return;
  }
  const code = r.value;
  holds(code.length === 18 && [...code].every((c) => MOD31_ALPHABET.includes(c)), 'an accepted code is not 18 characters of the GB 32100 alphabet', code);
  holds(usccCheckChar(code.slice(0, 17)) === code[17], 'an accepted code has a wrong check character', code);
  const again = normaliseUscc(code);
  holds(again.ok && again.value === code, 'an accepted code does not normalise to itself', { code, again });
  // One wrong character, chosen by the input, is refused (GB 32100's check catches any one).
  const at = data.length % 18;
  const other = MOD31_ALPHABET[(MOD31_ALPHABET.indexOf(code[at]) + 1 + (data[0] ?? 0) % 30) % 31];
  const typo = normaliseUscc(code.slice(0, at) + other + code.slice(at + 1));
  holds(!typo.ok && typo.rule === 'check-character', 'a code with one wrong character is accepted', { code, at, other });
}
