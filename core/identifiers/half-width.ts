// Department clerks type with Chinese input methods, which produce full-width forms
// (U+FF01–U+FF5E, and U+3000 for space). Identifiers are ASCII, so they are folded back.

const FULL_WIDTH = /[\uFF01-\uFF5E\u3000]/g;

export function toHalfWidth(input: string): string {
  return input.replace(FULL_WIDTH, (ch) => (ch === '\u3000' ? ' ' : String.fromCharCode(ch.charCodeAt(0) - 0xfee0)));
}
