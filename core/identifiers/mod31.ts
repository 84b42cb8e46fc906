// The MOD 31 check of GB 32100-2015 (unified social credit code). The supervision code uses the
// same computation over a longer body, so both call this one function.

/** GB 32100 alphabet: digits and capitals without I, O, Z, S, V (easily misread). */
export const MOD31_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';

const VALUE = new Map<string, number>([...MOD31_ALPHABET].map((ch, i) => [ch, i]));

export function isMod31Char(ch: string): boolean {
  return VALUE.has(ch);
}

/**
 * Check character for `body`: weight of position i (from 0) is 3^i mod 31, and the check is
 * alphabet[(31 − Σ value×weight mod 31) mod 31] (GB 32100-2015 §4, generalised to any length).
 * Throws on a character outside the alphabet: callers validate their input first.
 */
export function mod31CheckChar(body: string): string {
  let sum = 0;
  let weight = 1;
  for (let i = 0; i < body.length; i++) {
    const value = VALUE.get(body[i]);
    if (value === undefined) {
      throw new RangeError(`character ${JSON.stringify(body[i])} at position ${i + 1} is not in the MOD 31 alphabet`);
    }
    sum = (sum + value * weight) % 31;
    weight = (weight * 3) % 31;
  }
  return MOD31_ALPHABET[(31 - sum) % 31];
}
