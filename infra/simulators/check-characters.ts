// The check characters a department system puts on the identifiers it issues, written here from
// the standards and not taken from the hub's normalisers: a simulator that shared the hub's code
// would agree with any bug in it, and its tests could not catch one.

/**
 * GB 11643-1999 §8.2, ISO 7064 MOD 11-2: the i-th digit (i = 1…17 from the left) is weighted
 * 2^(18−i) mod 11; the check value is (12 − Σ mod 11) mod 11, written `X` when it is 10.
 */
export function citizenIdCheck(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError(`citizen ID body must be 17 digits, got ${JSON.stringify(first17)}`);
  let sum = 0;
  for (let i = 1; i <= 17; i++) sum += Number(first17[i - 1]) * (2 ** (18 - i) % 11);
  const check = (12 - (sum % 11)) % 11;
  return check === 10 ? 'X' : String(check);
}

/** GB 32100-2015 table 1: the code's 31 characters and their values 0…30 (no I, O, Z, S, V). */
export const CREDIT_CODE_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';

/** GB 32100-2015 §4.2, the weights of characters 1…17 as the standard tabulates them. */
const CREDIT_CODE_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** GB 32100-2015 §4.2: C18 = 31 − (Σ Ci×Wi mod 31), and 0 when that is 31. */
export function creditCodeCheck(first17: string): string {
  if (first17.length !== 17) throw new RangeError(`credit code body must be 17 characters, got ${first17.length}`);
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const value = CREDIT_CODE_CHARS.indexOf(first17[i]);
    if (value < 0) throw new RangeError(`${JSON.stringify(first17[i])} at position ${i + 1} is not a credit code character`);
    sum += value * CREDIT_CODE_WEIGHTS[i];
  }
  const check = 31 - (sum % 31);
  return CREDIT_CODE_CHARS[check === 31 ? 0 : check];
}
