import assert from 'node:assert/strict';
import fc from 'fast-check';
import { copyBytes, copyField, copyJsonBytes, CopyJson } from './copy-text';

/** COPY text format, field by field: what copyBytes must give, as a string. */
function copyText(rows: readonly (readonly unknown[])[]): string {
  let out = '';
  for (const row of rows) out += row.map(copyField).join('\t') + '\n';
  return out;
}

describe('COPY text of rows', () => {
  it('is the same bytes whether JSON fields come prepared or as values, for rows of any text and any size', () => {
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.constantFrom('\\', '\\N', '\t', '\r\n', '经办\\人\t员', '😀'.repeat(50), '经'.repeat(30_000)));
    const json = fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 6 });
    const field = fc.oneof(text, fc.integer(), fc.constant(null), json.map((j) => ({ j })));
    // Up to a few hundred rows of up to a few KB: past the first buffer, and grown more than once.
    const rows = fc.array(fc.array(field, { minLength: 1, maxLength: 8 }), { maxLength: 300 });
    fc.assert(fc.property(rows, fc.integer({ min: 0, max: 2000 }), (given, pad) => {
      const big = 'x'.repeat(pad);
      const values = given.map((row) => row.map((v) => (v && typeof v === 'object' ? { ...v.j, big } : v)));
      const prepared = values.map((row) => row.map((v) => (v && typeof v === 'object' ? new CopyJson(copyJsonBytes(JSON.stringify(v))) : v)));
      assert.equal(copyBytes(prepared).toString('utf8'), copyText(values));
    }), { numRuns: 150 });
  });
});
