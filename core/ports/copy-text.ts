/** PostgreSQL COPY text: the form in which rows reach the store by its fastest path. */

/** A value as a field of PostgreSQL's COPY text format. */
export function copyField(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : s;
}

/**
 * JSON text already in COPY text form: UTF-8 bytes, backslashes doubled (JSON text has no raw tab,
 * newline or carriage return to escape). Prepared where the work is cheaper than on the thread
 * that holds the store (a file's mapping worker), and given to insertRows as a field's value.
 */
export class CopyJson {
  constructor(readonly bytes: Uint8Array) {}

  /** The JSON value, for a driver that does not take COPY text. */
  value(): unknown {
    return JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('utf8').replace(/\\\\/g, '\\'));
  }
}

/** JSON text as the bytes of a CopyJson. */
export function copyJsonBytes(jsonText: string): Buffer {
  return Buffer.from(jsonText.includes('\\') ? jsonText.replace(/\\/g, '\\\\') : jsonText, 'utf8');
}

/**
 * Rows as the body of `COPY … FROM STDIN` in text format, as UTF-8 bytes. A CopyJson field's bytes
 * are copied as they are; every other field is encoded by copyField.
 */
export function copyBytes(rows: readonly (readonly unknown[])[]): Buffer {
  // Written straight into one buffer, grown when a write might not fit: a chunk's COPY of events
  // is thousands of rows, and a string and a buffer per row were most of what its encoding cost.
  let out = Buffer.allocUnsafe(1 << 16);
  let at = 0;
  const room = (n: number) => {
    if (at + n <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + n));
    out.copy(bigger, 0, 0, at);
    out = bigger;
  };
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v instanceof CopyJson) {
        room(v.bytes.byteLength + 2);
        if (i) out[at++] = 0x09;
        out.set(v.bytes, at);
        at += v.bytes.byteLength;
      } else {
        const text = copyField(v);
        // A UTF-16 code unit takes at most 3 bytes of UTF-8.
        room(text.length * 3 + 2);
        if (i) out[at++] = 0x09;
        at += out.write(text, at, 'utf8');
      }
    }
    room(1);
    out[at++] = 0x0a;
  }
  return out.subarray(0, at);
}
