// Fuzz target: the name normaliser. The input is the text a department sent. A refusal with one of
// the normaliser's rules is clean; a name it accepts must be trimmed, non-empty, at most 100
// characters, free of control and invisible format characters, replacement characters and lone
// surrogates, and normalise to itself (a name stored once is found again by the same spelling).

import { normaliseName } from '../../../core/identifiers/person-name';
import { holds } from '../invariant';

const RULES = new Set(['empty', 'control-character', 'encoding', 'length']);

export function fuzz(data: Buffer): void {
  // As text decoded leniently (lone surrogates and U+FFFD included) and as UTF-16 code units, so
  // that what a JSON \uD800 escape gives the normaliser is tried as well.
  for (const input of [data.toString('utf8'), data.length % 2 ? null : data.toString('utf16le')]) {
    if (input === null) continue;
    const r = normaliseName(input);
    if (!r.ok) {
      holds(RULES.has(r.rule) && r.message !== '', 'a refusal with an unknown rule or no message', r);
      continue;
    }
    const name = r.value;
    holds(name !== '' && name === name.trim(), 'an accepted name is empty or not trimmed', name);
    holds([...name].length <= 100, 'an accepted name is longer than 100 characters', name.length);
    holds(!/[\p{Cc}\p{Cf}\p{Cs}\uFFFD]/u.test(name), 'an accepted name holds a control, format, replacement or surrogate character', name);
    const again = normaliseName(name);
    holds(again.ok && again.value === name, 'an accepted name does not normalise to itself', { input, name, again });
  }
}
