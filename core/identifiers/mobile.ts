// Chinese phone numbers. Mobiles are 11 digits starting 13–19 (MIIT numbering plan); landlines
// are a trunk 0, an area code and a 7–8 digit subscriber number, 10–12 digits in all.

import { toHalfWidth } from './half-width';
import { Normalised, accept, refuse } from './result';

export type Phone = { number: string; mobile: boolean };

const MOBILE = /^1[3-9]\d{9}$/;
const LANDLINE = /^0[1-9]\d{8,10}$/;
// Separators clerks type between digit groups: spaces, dashes of every width, parentheses.
const SEPARATORS = /[\s\-\u2010-\u2015\u2212()]/g;

/** Normalises a phone number to digits only and says whether it is a mobile. */
export function normalisePhone(input: string): Normalised<Phone> {
  let digits = toHalfWidth(input).replace(SEPARATORS, '');
  if (digits === '') return refuse('empty', '为空', 'no phone number given');

  let international = false;
  if (digits.startsWith('+86')) {
    digits = digits.slice(3);
    international = true;
  } else if (digits.startsWith('0086')) {
    digits = digits.slice(4);
    international = true;
  }
  const bad = /\D/.exec(digits);
  if (bad) {
    return refuse('charset', '含非法字符', `character ${JSON.stringify(bad[0])}; only digits, +86 and separators are allowed`);
  }
  // The international form drops the landline trunk 0 (+86 311 ... is 0311 ...).
  if (international && /^[2-9]/.test(digits)) digits = `0${digits}`;

  if (MOBILE.test(digits)) return accept({ number: digits, mobile: true });
  if (LANDLINE.test(digits)) return accept({ number: digits, mobile: false });
  if (digits.startsWith('1') && digits.length !== 11) {
    return refuse('length', '长度错误', `a mobile number has 11 digits, got ${digits.length}`);
  }
  return refuse('format', '号码格式错误', `${digits.length} digits starting ${digits.slice(0, 2)} are neither a mobile (1[3-9] + 9 digits) nor a landline (0 + area code + number)`);
}

/** Like {@link normalisePhone}, but only a mobile is accepted (an SMS can reach it). */
export function normaliseMobile(input: string): Normalised {
  const phone = normalisePhone(input);
  if (!phone.ok) return phone;
  if (!phone.value.mobile) {
    return refuse('not-mobile', '不是手机号码', `${phone.value.number.length}-digit landline number`);
  }
  return accept(phone.value.number, phone.warnings);
}
