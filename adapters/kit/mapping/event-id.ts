import { hash as digest } from 'node:crypto';

// Fixed namespace of the hub's name-based event ids (RFC 4122 §4.3).
const NAMESPACE = Buffer.from('6f1d2c4e8b3a4f0e9d7c5b3a1e2f4d6c', 'hex');

/**
 * A deterministic event id: the same adapter and source key always give the same UUID (version 5),
 * so a re-sent report, record or event is recognised as a duplicate wherever it arrives.
 */
export function eventId(adapter: string, key: readonly string[]): string {
  // One-shot hashing: a file maps hundreds of thousands of records, and a Hash object per id cost more than the digest.
  const name = `${adapter}\u0000${key.join('\u0000')}`;
  const input = Buffer.allocUnsafe(NAMESPACE.length + Buffer.byteLength(name, 'utf8'));
  NAMESPACE.copy(input, 0);
  input.write(name, NAMESPACE.length, 'utf8');
  const hash = digest('sha1', input, 'buffer');
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
