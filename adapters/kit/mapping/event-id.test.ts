import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { eventId } from './event-id';

/** RFC 4122 §4.3 name-based UUID (version 5) of the hub's namespace, written out step by step. */
function uuidV5(adapter: string, key: readonly string[]): string {
  const sha = createHash('sha1').update(Buffer.from('6f1d2c4e8b3a4f0e9d7c5b3a1e2f4d6c', 'hex')).update(`${adapter}\u0000${key.join('\u0000')}`, 'utf8').digest();
  sha[6] = (sha[6] & 0x0f) | 0x50;
  sha[8] = (sha[8] & 0x3f) | 0x80;
  const h = sha.subarray(0, 16).toString('hex');
  return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join('-');
}

describe('event ids', () => {
  it('keeps the ids stores already hold: the same adapter and key give the same UUID as before', () => {
    // Ids of events already stored must not change, or every re-sent record would be applied again.
    assert.equal(eventId('tax-bureau', ['SX-1', '01', '20261124090000']), 'cde9fc53-c560-59e9-96f1-1206e1248482');
    assert.equal(eventId('车管所', ['粤A·12345', '办结']), '5f61b1d8-492a-57c8-b801-8b3506a78ba9');
  });

  it('is the version 5 UUID of adapter and key for any text, Chinese and astral characters included', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 4 }), (adapter, key) => {
      const id = eventId(adapter, key);
      assert.equal(id, uuidV5(adapter, key));
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }), { numRuns: 500 });
  });
});
