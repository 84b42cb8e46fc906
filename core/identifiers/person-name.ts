// Personal and officer names as department systems type them. Names of ethnic-minority and
// foreign citizens separate their parts with a middle dot (U+00B7, the form the public security
// household register uses); input methods produce several look-alikes for it.

import { Normalised, accept, refuse } from './result';

const MAX_LENGTH = 100;
const SPACES = /[ \u00A0\u3000]+/g;
// Look-alikes that can only be meant as the separator (bullet, katakana middle dots,
// hyphenation point, bullet and dot operators).
const DOT_LOOK_ALIKES = / ?[\u00B7\u2022\u30FB\uFF65\u2027\u2219\u22C5] ?/gu;
// A full stop is only a separator between Chinese characters ("阿依古丽．买买提").
const STOP_BETWEEN_HAN = /(?<=\p{Script=Han}) ?[.\uFF0E] ?(?=\p{Script=Han})/gu;
// Control and invisible format characters (zero-width, bidi overrides) have no place in a name.
const CONTROL = /[\p{Cc}\p{Cf}]/u;
const LONE_SURROGATE = /\p{Cs}/u;

export function normaliseName(input: string): Normalised {
  const name = input
    .trim()
    .replace(SPACES, ' ')
    .replace(DOT_LOOK_ALIKES, '\u00B7')
    .replace(STOP_BETWEEN_HAN, '\u00B7');
  if (name === '') return refuse('empty', '为空', 'no name given');

  const control = CONTROL.exec(name);
  if (control) {
    const hex = control[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return refuse('control-character', '含控制字符', `U+${hex} at position ${control.index + 1}`);
  }
  // U+FFFD is what a decoder leaves where the bytes were in another encoding than declared.
  const replacement = name.indexOf('\uFFFD');
  if (replacement !== -1) {
    return refuse('encoding', '含无法识别的字符', `U+FFFD at position ${replacement + 1}: the text was decoded with the wrong encoding`);
  }
  if (LONE_SURROGATE.test(name)) {
    return refuse('encoding', '含无法识别的字符', 'lone UTF-16 surrogate');
  }
  if ([...name].length > MAX_LENGTH) {
    return refuse('length', '长度错误', `longer than ${MAX_LENGTH} characters`);
  }
  return accept(name);
}
