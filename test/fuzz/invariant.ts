// How a fuzz target says that an input broke the hub. A target catches the hub's own clean
// refusals (its error classes and answers with a rule or a reason) and returns; anything it lets
// escape is a failure: an InvariantBroken for a promise the hub does not keep, or whatever the hub
// threw (a TypeError, a RangeError from our code) as it is.

/** An input made the hub break a promise it makes (its answer, its log, what it hands the store). */
export class InvariantBroken extends Error {
  constructor(message: string, readonly detail?: unknown) {
    super(detail === undefined ? message : `${message}: ${shown(detail)}`);
    this.name = 'InvariantBroken';
  }
}

/** Throws InvariantBroken unless `condition` holds. */
export function holds(condition: unknown, message: string, detail?: unknown): asserts condition {
  if (!condition) throw new InvariantBroken(message, detail);
}

/** A value as a failure report shows it: JSON, cut short. */
export function shown(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text;
}

// A UTF-16 unit of a surrogate pair with no partner.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why PostgreSQL would refuse a value the hub stores as jsonb or text, or null. Both stores
 * (PGlite and the server) refuse a NUL character in text and in jsonb (`\u0000`), and an unpaired
 * surrogate in jsonb ("invalid input syntax for type json"); a message whose records the store
 * cannot take is answered "try again later" for ever.
 */
export function unstorable(value: unknown, at = '$', seen: Set<unknown> = new Set()): string | null {
  if (typeof value === 'string') {
    if (value.includes('\u0000')) return `${at} holds a NUL character, which PostgreSQL refuses in text and jsonb`;
    if (LONE_SURROGATE.test(value)) return `${at} holds an unpaired UTF-16 surrogate, which PostgreSQL refuses in jsonb`;
    return null;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return null;
  seen.add(value);
  if (ArrayBuffer.isView(value)) return null;
  for (const [k, v] of Object.entries(value)) {
    const key = unstorable(k, `${at} (a key)`, seen);
    if (key) return key;
    const inner = unstorable(v, `${at}.${k}`, seen);
    if (inner) return inner;
  }
  return null;
}
