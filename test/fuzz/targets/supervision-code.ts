// Fuzz target: reading a supervision code (统一服务监管码) as a department or a user sends it. The
// input is that text. A refusal with rule `format` or `check-character` is clean; a code it accepts
// must be 24 characters of region, date, random part and check character, read to itself, be the
// code the hub would issue for that region, date and random part, and be refused if any one of
// its characters were wrong.

import { parseSupervisionCode, issueSupervisionCode } from '../../../core/identifiers/supervision-code';
import { MOD31_ALPHABET } from '../../../core/identifiers/mod31';
import { toHalfWidth } from '../../../core/identifiers/half-width';
import { holds } from '../invariant';

export function fuzz(data: Buffer): void {
  const input = data.toString('utf8');
  const r = parseSupervisionCode(input);
  if (!r.ok) {
    holds((r.rule === 'format' || r.rule === 'check-character') && r.message !== '', 'a refusal with an unknown rule or no message', r);
    return;
  }
  const { code, region, date } = r.value;
  holds(code === toHalfWidth(input).trim().toUpperCase() && code.length === 24, 'an accepted code is not the input folded', { input, code });
  holds(code.startsWith(region + date), 'an accepted code\'s region and date are not its first characters', r.value);
  const again = parseSupervisionCode(code);
  holds(again.ok && again.value.code === code, 'an accepted code does not read to itself', again);
  // The hub issues codes dated from 1900 on (the times it reads start then); an older date is a
  // calendar date all the same, and parses.
  if (date >= '19000101') {
    const firstSight = `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T12:00:00+08:00`;
    const issued = issueSupervisionCode(region, firstSight, () => code.slice(14, 23));
    holds(issued === code, 'the hub would issue another code for the same region, date and random part', { code, issued });
  }
  // Any one wrong character is caught (the weights 3^i mod 31 are distinct and non-zero).
  const at = data.length % 24;
  const other = MOD31_ALPHABET[(MOD31_ALPHABET.indexOf(code[at]) + 1 + (data[0] ?? 0) % 30) % 31];
  const typo = parseSupervisionCode(code.slice(0, at) + other + code.slice(at + 1));
  holds(!typo.ok, 'a code with one wrong character is accepted', { code, at, other });
}
