import type { SqlDriver, SqlExecutor } from '../store/sql-driver';
import { jsonParam } from '../store/sql-driver';
import type { DataKeys } from '../../core/kernel/data-keys';
import { sealedBytesKeyId, sealedKeyId } from '../../core/kernel/data-keys';
import { isSealedApplicant, openApplicant, openText, sealApplicant, sealText, SEALED, StoredApplicant } from '../../core/ports/sealed-data';
import { EVALUATIONS_SEALED } from '../evaluations/sealed-columns';
import { JOBS_SEALED } from '../store/job-queue';
import { SUBSCRIPTIONS_SEALED } from '../subscriptions/subscription-store';

/** Where a rekey stands, table by table. */
export interface RekeyProgress {
  keyId: string;
  state: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
  /** Passes over every table: the last one found nothing left under another key. */
  passes: number;
  tables: Record<string, { total: number; scanned: number; resealed: number }>;
}

/**
 * One table's sealed columns: read a batch in key order, reseal under the current key what is not
 * already under it (or not sealed yet: rows stored before sealing), and write each row back only
 * if it is still what was read (compare-and-set, no lock held across the batch). A row changed
 * meanwhile is left for the next pass.
 */
interface SealedTable {
  name: string;
  /** The batch after `after`, as [key, stored values as text or json]. */
  read(db: SqlDriver, after: string, limit: number): Promise<{ key: string; values: unknown }[]>;
  /** The values resealed, or null when they are under the current key already. */
  reseal(keys: DataKeys, values: unknown): unknown | null;
  /** Writes the rows whose stored values are still `old`; answers how many were written. */
  write(db: SqlDriver, rows: { key: string; old: unknown; values: unknown }[]): Promise<number>;
}

/** Runs an UPDATE and answers how many rows it changed. */
async function updated(db: SqlExecutor, sql: string, params: unknown[]): Promise<number> {
  const r = await db.query<{ n: number }>(`WITH u AS (${sql} RETURNING 1) SELECT count(*)::int AS n FROM u`, params);
  return r.rows[0].n;
}

const underCurrent = (keys: DataKeys, v: unknown) => v === null || v === undefined || sealedKeyId(v) === keys.currentId;

const TABLES: SealedTable[] = [
  {
    name: 'inbox',
    async read(db, after, limit) {
      const r = await db.query<{ id: string; body: Uint8Array }>('SELECT id, body FROM inbox WHERE id > $1 ORDER BY id LIMIT $2', [after, limit]);
      return r.rows.map((x) => ({ key: x.id, values: Buffer.from(x.body) }));
    },
    reseal(keys, body) {
      const b = body as Buffer;
      if (sealedBytesKeyId(b) === keys.currentId) return null;
      return keys.sealBytes(keys.openBytes(b, SEALED.inbox), SEALED.inbox);
    },
    async write(db, rows) {
      return updated(db,
        `UPDATE inbox SET body = decode(x.b, 'base64') FROM json_to_recordset($1::json) AS x(id text, b text, o text)
         WHERE inbox.id = x.id AND inbox.body = decode(x.o, 'base64')`,
        [jsonParam(JSON.stringify(rows.map((w) => ({ id: w.key, b: (w.values as Buffer).toString('base64'), o: (w.old as Buffer).toString('base64') }))))]);
    },
  },
  {
    name: 'events',
    async read(db, after, limit) {
      const r = await db.query<{ id: string; v: string }>(
        `SELECT id, json_build_array(body->'data'->'applicant', body->'data'->'officer', body->'data'->'remark')::text AS v
         FROM events WHERE id > $1 ORDER BY id LIMIT $2`, [after, limit]);
      return r.rows.map((x) => ({ key: x.id, values: JSON.parse(x.v) }));
    },
    reseal(keys, values) {
      const [a, officer, remark] = values as [StoredApplicant, string | null, string | null];
      if (isSealedApplicant(a) && sealedKeyId(a.sealed) === keys.currentId && underCurrent(keys, officer) && underCurrent(keys, remark)) return null;
      return [
        sealApplicant(keys, openApplicant(keys, a)),
        sealText(keys, openText(keys, officer, SEALED.officer), SEALED.officer),
        sealText(keys, openText(keys, remark, SEALED.remark), SEALED.remark),
      ];
    },
    async write(db, rows) {
      return updated(db,
        `UPDATE events SET body = jsonb_set(jsonb_set(jsonb_set(body::jsonb, '{data,applicant}', x.v->0), '{data,officer}', x.v->1), '{data,remark}', x.v->2)::json
         FROM json_to_recordset($1::json) AS x(id text, v jsonb, o jsonb)
         WHERE events.id = x.id AND jsonb_build_array(events.body->'data'->'applicant', events.body->'data'->'officer', events.body->'data'->'remark') = x.o`,
        [jsonParam(JSON.stringify(rows.map((w) => ({ id: w.key, v: w.values, o: w.old }))))]);
    },
  },
  {
    name: 'cases',
    async read(db, after, limit) {
      const r = await db.query<{ c: string; a: string }>(
        'SELECT supervision_code AS c, applicant::text AS a FROM cases WHERE supervision_code > $1 ORDER BY supervision_code LIMIT $2', [after, limit]);
      return r.rows.map((x) => ({ key: x.c, values: JSON.parse(x.a) }));
    },
    reseal(keys, a) {
      const s = a as StoredApplicant;
      if (isSealedApplicant(s) && sealedKeyId(s.sealed) === keys.currentId) return null;
      return sealApplicant(keys, openApplicant(keys, s));
    },
    async write(db, rows) {
      return db.transaction(async (tx) => {
        // The case's look-up entry under the new key, in the same transaction as the row.
        await tx.query(
          `INSERT INTO case_applicant_keys (id_key, supervision_code)
           SELECT x.k, x.c FROM json_to_recordset($1::json) AS x(k text, c text) ORDER BY x.k, x.c ON CONFLICT DO NOTHING`,
          [jsonParam(JSON.stringify(rows.map((w) => ({ k: (w.values as { idKey: string }).idKey, c: w.key }))))]);
        return updated(tx,
          `UPDATE cases SET applicant = x.a FROM json_to_recordset($1::json) AS x(c text, a json, o jsonb)
           WHERE cases.supervision_code = x.c AND cases.applicant::jsonb = x.o`,
          [jsonParam(JSON.stringify(rows.map((w) => ({ c: w.key, a: w.values, o: w.old }))))]);
        });
    },
  },
  {
    name: 'dead_letters',
    async read(db, after, limit) {
      const r = await db.query<{ id: string; v: string }>(
        'SELECT id, json_build_array(record, reason, value)::text AS v FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2', [after, limit]);
      return r.rows.map((x) => ({ key: x.id, values: JSON.parse(x.v) }));
    },
    reseal(keys, values) {
      const [record, reason, value] = values as [unknown, string, string | null];
      if (sealedKeyId(record) === keys.currentId && underCurrent(keys, reason) && underCurrent(keys, value)) return null;
      const plainRecord = sealedKeyId(record) !== null ? JSON.parse(keys.open(record as string, SEALED.deadLetterRecord)) : record;
      return [
        keys.seal(JSON.stringify(plainRecord ?? null), SEALED.deadLetterRecord),
        sealText(keys, openText(keys, reason, SEALED.deadLetterValue), SEALED.deadLetterValue),
        sealText(keys, openText(keys, value, SEALED.deadLetterValue), SEALED.deadLetterValue),
      ];
    },
    async write(db, rows) {
      return updated(db,
        `UPDATE dead_letters SET record = x.v->0, reason = x.v->>1, value = x.v->>2
         FROM json_to_recordset($1::json) AS x(id text, v jsonb, o jsonb)
         WHERE dead_letters.id = x.id AND jsonb_build_array(dead_letters.record, dead_letters.reason, dead_letters.value) = x.o`,
        [jsonParam(JSON.stringify(rows.map((w) => ({ id: w.key, v: w.values, o: w.old }))))]);
    },
  },
  // The evaluation links, the applicants' comments and the departments' follow-up notes (services/evaluations/).
  ...EVALUATIONS_SEALED,
  // The payloads of jobs not yet done (services/store/job-queue.ts): the SMS notifier's mobiles.
  JOBS_SEALED,
  // The signing secrets of the subscriptions created through the API (services/subscriptions/).
  SUBSCRIPTIONS_SEALED,
];

/** The tables whose columns hold sealed personal data. */
export const SEALED_TABLES = TABLES.map((t) => t.name);

/**
 * Sealed values kept outside the store (the job queue's payloads in Redis, with HUB_QUEUE), moved
 * in each pass as the tables are, and shown in the progress under `name`.
 */
export interface ElsewhereSealed {
  name: string;
  reseal(): Promise<{ scanned: number; resealed: number; changed: number }>;
}

/**
 * Moves every sealed value of the store (and those `elsewhere`) to the current key (and seals values stored before
 * sealing), in batches, while the hub runs: passes over every table until one finds nothing left,
 * then forgets the older keys in the store (data_keys and the look-up entries under them).
 */
export async function rekeyStore(db: SqlDriver, keys: DataKeys, opts: { batch?: number; maxPasses?: number; onProgress?: (p: RekeyProgress) => void; signal?: AbortSignal; elsewhere?: ElsewhereSealed } = {}): Promise<RekeyProgress> {
  const batch = opts.batch ?? 500;
  const progress: RekeyProgress = { keyId: keys.currentId, state: 'running', startedAt: new Date().toISOString(), finishedAt: null, error: null, passes: 0, tables: {} };
  const report = () => opts.onProgress?.(structuredClone(progress));
  try {
    for (const t of TABLES) {
      const r = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${t.name}`);
      progress.tables[t.name] = { total: Number(r.rows[0].n), scanned: 0, resealed: 0 };
    }
    report();
    for (let pass = 1; pass <= (opts.maxPasses ?? 10); pass++) {
      progress.passes = pass;
      let resealed = 0;
      for (const t of TABLES) {
        const stats = progress.tables[t.name];
        if (pass > 1) stats.scanned = 0;
        let after = '';
        for (;;) {
          if (opts.signal?.aborted) throw new Error('the rekey was stopped');
          const rows = await t.read(db, after, batch);
          if (!rows.length) break;
          after = rows[rows.length - 1].key;
          const writes: { key: string; old: unknown; values: unknown }[] = [];
          for (const row of rows) {
            const values = t.reseal(keys, row.values);
            if (values !== null) writes.push({ key: row.key, old: row.values, values });
          }
          const n = writes.length ? await t.write(db, writes) : 0;
          stats.scanned += rows.length;
          stats.resealed += n;
          resealed += writes.length;
          stats.total = Math.max(stats.total, stats.scanned);
          report();
        }
      }
      const elsewhere = opts.elsewhere;
      if (elsewhere) {
        if (opts.signal?.aborted) throw new Error('the rekey was stopped');
        const r = await elsewhere.reseal();
        const stats = (progress.tables[elsewhere.name] ??= { total: 0, scanned: 0, resealed: 0 });
        stats.scanned = r.scanned;
        stats.total = Math.max(stats.total, r.scanned);
        stats.resealed += r.resealed;
        // A value resealed here, or one that changed before it could be: another pass looks again.
        resealed += r.resealed + r.changed;
        report();
      }
      // A pass that found nothing to reseal: every value is under the current key.
      if (!resealed) {
        await db.query('DELETE FROM case_applicant_keys WHERE id_key NOT LIKE $1', [`${keys.currentId}.%`]);
        await db.query('DELETE FROM data_keys WHERE id <> $1', [keys.currentId]);
        progress.state = 'done';
        progress.finishedAt = new Date().toISOString();
        report();
        return progress;
      }
    }
    throw new Error(`values under older keys were still being written after ${opts.maxPasses ?? 10} passes: does every node have the new key file?`);
  } catch (err) {
    progress.state = 'failed';
    progress.error = (err as Error).message;
    progress.finishedAt = new Date().toISOString();
    report();
    return progress;
  }
}
