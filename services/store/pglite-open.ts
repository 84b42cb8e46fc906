import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';

/** The embedded PostgreSQL in dir, with the hub's settings (the embedded store's thread; the bench's store ceiling). */
export async function openPglite(dir: string): Promise<PGlite> {
  fs.mkdirSync(dir, { recursive: true });
  // Timestamps and int8 as text, as the PostgreSQL driver returns them: one SQL layer above both.
  const asText = (v: string) => v;
  return PGlite.create(dir, { parsers: { 1184: asText, 1114: asText, 20: asText }, startParams: [...PGlite.defaultStartParams, ...START_SETTINGS.flatMap((s) => ['-c', s])] });
}

/**
 * Settings of the embedded PostgreSQL beyond PGlite's own. It runs as a single backend that writes
 * its WAL itself: new WAL segments are not zero-filled first (that doubled the bytes a large file
 * wrote to the WAL).
 */
const START_SETTINGS = ['wal_init_zero=off'];

// PGlite serialises a json parameter with JSON.stringify unless told otherwise: bytes given for one
// are JSON text already, and go as they are (in binary format).
const JSON_OID = 114;
export const SENT_AS_IS = { serializers: { [JSON_OID]: (v: unknown) => v } } as any;
