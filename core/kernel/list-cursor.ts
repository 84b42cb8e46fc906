import { Errors } from 'moleculer';

/**
 * The cursor of a newest-first list (cases, files): the last row's time and key, opaque to the
 * caller. The list goes on after that row.
 */
export interface ListCursor {
  time: string;
  key: string;
}

export function encodeCursor(c: ListCursor): string {
  return Buffer.from(JSON.stringify({ t: c.time, c: c.key })).toString('base64url');
}

/** The cursor a list gave out; anything else answers 400. */
export function decodeCursor(cursor: string): ListCursor {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof v?.t === 'string' && typeof v?.c === 'string' && !Number.isNaN(Date.parse(v.t))) return { time: v.t, key: v.c };
  } catch {
    // not base64 JSON: refused below
  }
  throw new Errors.MoleculerClientError('cursor is not one this API gave out', 400, 'bad-cursor', { field: 'cursor', value: cursor });
}
