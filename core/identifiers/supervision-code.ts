// 统一服务监管码 (DESIGN, "Supervision code"): 24 characters — region code (6 digits), date of
// first sight yyyyMMdd in Beijing time, 9 random characters and a check character computed like
// the unified social credit code's (GB 32100 MOD 31, weights 3^i mod 31). As 3 has order 30
// modulo 31, the 23 weights are distinct and non-zero, so any single wrong character is caught.

import { randomInt } from 'node:crypto';
import { isRealDate } from './calendar-date';
import { toHalfWidth } from './half-width';
import { beijingDate } from './local-time';
import { MOD31_ALPHABET, isMod31Char, mod31CheckChar } from './mod31';
import { Normalised, accept, refuse } from './result';

export const SUPERVISION_CODE_LENGTH = 24;
const RANDOM_LENGTH = 9;
const REGION = /^\d{6}$/;

export type SupervisionCode = { region: string; date: string; code: string };

/** 9 characters from the MOD 31 alphabet, from the operating system's CSPRNG. */
export function randomSupervisionPart(): string {
  let part = '';
  for (let i = 0; i < RANDOM_LENGTH; i++) part += MOD31_ALPHABET[randomInt(MOD31_ALPHABET.length)];
  return part;
}

/** The check character (24th) for the first 23 characters. */
export function supervisionCodeCheckChar(first23: string): string {
  if (first23.length !== SUPERVISION_CODE_LENGTH - 1) {
    throw new RangeError(`supervision code body must be ${SUPERVISION_CODE_LENGTH - 1} characters, got ${first23.length}`);
  }
  return mod31CheckChar(first23);
}

/**
 * Issues a new code. `firstSight` is when the hub first saw the case (a Date, or a time in any
 * notation `normaliseLocalTime` reads); `random` replaces the CSPRNG in tests. Throws on a bad
 * region, time or random part: those are programming errors, not department input.
 */
export function issueSupervisionCode(region: string, firstSight: Date | string, random: () => string = randomSupervisionPart): string {
  if (!REGION.test(region)) throw new RangeError(`region code must be 6 digits, got ${JSON.stringify(region)}`);
  const date = beijingDate(firstSight);
  const part = random();
  if (part.length !== RANDOM_LENGTH || ![...part].every(isMod31Char)) {
    throw new RangeError(`random part must be ${RANDOM_LENGTH} characters of ${MOD31_ALPHABET}, got ${JSON.stringify(part)}`);
  }
  const body = region + date + part;
  return body + supervisionCodeCheckChar(body);
}

/**
 * Reads a code a department or a user sends (trimmed, full-width folded, upper-cased). A
 * malformed code (length, characters, date) is refused with rule `format`; a well-formed one
 * whose check character does not match with `check-character`.
 */
export function parseSupervisionCode(input: string): Normalised<SupervisionCode> {
  const code = toHalfWidth(input).trim().toUpperCase();
  if (code.length !== SUPERVISION_CODE_LENGTH) {
    return refuse('format', '格式错误', `expected ${SUPERVISION_CODE_LENGTH} characters, got ${code.length}`);
  }
  const bad = [...code].findIndex((ch) => !isMod31Char(ch));
  if (bad !== -1) {
    return refuse('format', '格式错误', `character ${JSON.stringify(code[bad])} at position ${bad + 1} is not in ${MOD31_ALPHABET}`);
  }
  const region = code.slice(0, 6);
  const date = code.slice(6, 14);
  if (!REGION.test(region)) return refuse('format', '格式错误', `region code ${region} is not 6 digits`);
  if (!/^\d{8}$/.test(date) || !isRealDate(Number(date.slice(0, 4)), Number(date.slice(4, 6)), Number(date.slice(6, 8)))) {
    return refuse('format', '格式错误', `date ${date} is not a calendar date yyyyMMdd`);
  }
  const expected = supervisionCodeCheckChar(code.slice(0, 23));
  if (code[23] !== expected) {
    return refuse('check-character', '校验位错误', `expected check character ${expected}, got ${code[23]}`);
  }
  return accept({ region, date, code });
}
