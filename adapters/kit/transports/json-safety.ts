// Reading JSON that a department sent: never nested deeper than any department message needs.
// Shared by every transport that takes JSON (the REST webhook).
//
// JSON.parse reads any depth, but the hub writes what it read back out with JSON.stringify, which
// recurses: the answer echoes each event's id, a refused event is kept whole as a dead letter. An
// event nested a few thousand levels deep (a body of some 10 kB) exhausted the stack after the
// message was stored, and the message was answered "try again later", on every retry.

/** Deeper nesting than any department message needs; as deep as the XML the hub takes (MAX_ELEMENT_DEPTH). */
export const MAX_JSON_DEPTH = 64;

/**
 * How deep the arrays and objects of JSON text nest, read from its UTF-8 bytes without parsing
 * them (brackets inside strings do not count). Counting stops once it passes `limit`. Text that
 * is not JSON gives a number too; the parser refuses it anyway.
 */
export function jsonDepth(bytes: Uint8Array, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === 0x5c) i++; // a backslash escapes the next byte: \" does not end the string
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
  return deepest;
}
