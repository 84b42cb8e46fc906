// Citizen identity number (公民身份号码), GB 11643-1999: 6-digit region code, 8-digit birth date
// yyyyMMdd, 3-digit sequence, and a check character per ISO 7064 MOD 11-2.

import { beijingYmd, isRealDate } from './calendar-date';
import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

// GB 11643 §8.2: weight of position i (from 1, left to right) is 2^(18−i) mod 11.
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';
const EARLIEST_BIRTH = '19000101';

/** The check character (`0`–`9` or `X`) for the first 17 digits of an 18-character number. */
export function citizenIdCheckDigit(first17: string): string {
  if (!/^\d{17}$/.test(first17)) {
    throw new RangeError(`citizen ID body must be 17 digits, got ${JSON.stringify(first17)}`);
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i];
  return CHECK[sum % 11];
}

export interface CitizenIdOptions {
  /**
   * Whether the 15-digit form (issued before 1999) is taken and upgraded; default true. A
   * department whose SPEC allows the 18-digit form only refuses it (DESIGN, "Legacy IDs").
   */
  legacy?: boolean;
}

/**
 * Normalises a citizen ID number to its 18-character form: full-width digits and `X`, inner
 * spaces and a lower-case `x` are tolerated; a 15-digit number (issued before 1999) is upgraded by
 * inserting `19` after the region code and appending the check digit (GB 11643 annex), unless
 * `options.legacy` is false. The birth date must be a real day from 1900-01-01 to today (Beijing);
 * `now` exists for tests.
 */
export function normaliseCitizenId(input: string, now: Date = new Date(), options: CitizenIdOptions = {}): Normalised {
  const id = toHalfWidth(input).replace(/\s+/g, '').toUpperCase();
  if (id === '') return refuse('empty', '为空', 'no citizen ID number given');

  const bad = /[^0-9X]/.exec(id);
  if (bad) {
    return refuse('charset', '含非法字符', `character ${JSON.stringify(bad[0])} at position ${bad.index + 1}; only digits and a final X are allowed`);
  }
  if (id.length !== 18 && id.length !== 15) {
    return refuse('length', '长度错误', `expected 18 characters (or the 15-digit legacy form), got ${id.length}`);
  }
  const x = id.indexOf('X');
  if (x !== -1 && x !== 17) {
    return refuse('charset', '含非法字符', `X at position ${x + 1}; X is only allowed as the 18th (check) character`);
  }

  const legacy = id.length === 15;
  if (legacy && options.legacy === false) {
    return refuse('legacy', '为15位旧号码，应为18位', 'the 15-digit legacy form is not accepted here; the 18-digit form is required');
  }
  const body = legacy ? `${id.slice(0, 6)}19${id.slice(6)}` : id.slice(0, 17);
  const birth = body.slice(6, 14);
  const birthRefusal = checkBirthDate(birth, beijingYmd(now));
  if (birthRefusal) return birthRefusal;

  const expected = citizenIdCheckDigit(body);
  if (legacy) return accept(body + expected, ['15位号码已升级为18位']);
  if (id[17] !== expected) {
    return refuse('check-character', '校验位错误', `expected check character ${expected}, got ${id[17]}`);
  }
  return accept(id);
}

function checkBirthDate(ymd: string, today: string): Normalised<never> | undefined {
  const year = Number(ymd.slice(0, 4));
  const month = Number(ymd.slice(4, 6));
  const day = Number(ymd.slice(6, 8));
  if (!isRealDate(year, month, day)) {
    return refuse('date', '出生日期无效', `birth date ${ymd} is not a calendar date`);
  }
  // Fixed-width yyyyMMdd strings compare in date order.
  if (ymd < EARLIEST_BIRTH || ymd > today) {
    return refuse('date', '出生日期无效', `birth date ${ymd} is outside ${EARLIEST_BIRTH}–${today}`);
  }
  return undefined;
}
