import fs from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import configSchema from '../../core/kernel/config.schema.json';

/**
 * The embedded store's page cache (shared_buffers) when its opener gives none: the configuration's
 * default (storeCacheMb), read from its schema. PGlite's own is PostgreSQL's, 128 MB, which the
 * process then holds for as long as it runs; pages beyond the cache are read from the files through
 * the operating system's cache, as a PostgreSQL server reads them.
 */
export const DEFAULT_CACHE_MB: number = configSchema.properties.storeCacheMb.default;

/** The embedded PostgreSQL in dir, with the hub's settings (the embedded store's thread; the bench's store ceiling). */
export async function openPglite(dir: string, opts: { cacheMb?: number } = {}): Promise<PGlite> {
  fs.mkdirSync(dir, { recursive: true });
  // Timestamps and int8 as text, as the PostgreSQL driver returns them: one SQL layer above both.
  const asText = (v: string) => v;
  const settings = [...START_SETTINGS, `shared_buffers=${opts.cacheMb ?? DEFAULT_CACHE_MB}MB`];
  return PGlite.create(dir, { parsers: { 1184: asText, 1114: asText, 20: asText }, startParams: [...PGlite.defaultStartParams, ...settings.flatMap((s) => ['-c', s])] });
}

/**
 * Settings of the embedded PostgreSQL beyond PGlite's own. It runs as a single backend that writes
 * its WAL itself: new WAL segments are not zero-filled first (that doubled the bytes a large file
 * wrote to the WAL). Its statistics target is 30 (PostgreSQL's default is 100): ANALYZE samples 300
 * rows per unit of it, and the 9,000 rows instead of 30,000 are memory PGlite's WebAssembly memory
 * keeps once touched (about 20 MB less at the peak under load) and time the store's one backend
 * serves nothing else; 30 common values and 30 histogram buckets per column still cover the case
 * list's statuses, lights and departments.
 */
const START_SETTINGS = ['wal_init_zero=off', 'default_statistics_target=30'];

// PGlite serialises a json parameter with JSON.stringify unless told otherwise: bytes given for one
// are JSON text already, and go as they are (in binary format).
const JSON_OID = 114;
export const SENT_AS_IS = { serializers: { [JSON_OID]: (v: unknown) => v } } as any;
