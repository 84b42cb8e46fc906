import type { SqlDriver } from '../store/sql-driver';
import { jsonParam } from '../store/sql-driver';
import type { DataKeys } from '../../core/kernel/data-keys';
import { sealedKeyId } from '../../core/kernel/data-keys';
import { openText, sealText } from '../../core/ports/sealed-data';

/** Contexts of the evaluations' sealed values (DataKeys.seal): a value sealed for one does not open as another. */
export const SEALED_EVALUATION = {
  comment: 'evaluation.comment',
  note: 'evaluation.follow-up-note',
  linkToken: 'evaluation-link.token',
  linkApplicant: 'evaluation-link.applicant',
} as const;

const underCurrent = (keys: DataKeys, v: unknown) => v === null || v === undefined || sealedKeyId(v) === keys.currentId;

/** One table's two sealed text columns, as `hub rekey` reads, reseals and writes them back (services/keys/rekey.ts). */
function twoSealedColumns(table: string, key: string, columns: readonly [{ name: string; context: string }, { name: string; context: string }]) {
  const [a, b] = columns;
  return {
    name: table,
    async read(db: SqlDriver, after: string, limit: number): Promise<{ key: string; values: unknown }[]> {
      const r = await db.query<{ k: string; v: string }>(
        `SELECT ${key} AS k, json_build_array(${a.name}, ${b.name})::text AS v FROM ${table} WHERE ${key} > $1 ORDER BY ${key} LIMIT $2`, [after, limit]);
      return r.rows.map((x) => ({ key: x.k, values: JSON.parse(x.v) }));
    },
    reseal(keys: DataKeys, values: unknown): unknown | null {
      const [va, vb] = values as [string | null, string | null];
      if (underCurrent(keys, va) && underCurrent(keys, vb)) return null;
      return [sealText(keys, openText(keys, va, a.context), a.context), sealText(keys, openText(keys, vb, b.context), b.context)];
    },
    /** Writes back only the rows still as they were read (compare-and-set): a row changed meanwhile waits for the next pass. */
    async write(db: SqlDriver, rows: { key: string; old: unknown; values: unknown }[]): Promise<number> {
      const r = await db.query<{ n: number }>(
        `WITH u AS (
           UPDATE ${table} SET ${a.name} = x.v->>0, ${b.name} = x.v->>1
           FROM json_to_recordset($1::json) AS x(k text, v jsonb, o jsonb)
           WHERE ${table}.${key} = x.k AND jsonb_build_array(${table}.${a.name}, ${table}.${b.name}) = x.o
           RETURNING 1)
         SELECT count(*)::int AS n FROM u`,
        [jsonParam(JSON.stringify(rows.map((w) => ({ k: w.key, v: w.values, o: w.old }))))]);
      return r.rows[0].n;
    },
  };
}

/**
 * The evaluations' sealed columns as `hub rekey` moves them to the current key (services/keys/rekey.ts
 * takes them among its tables): the links' tokens and applicants (a token resealed is the same
 * token: the applicant's SMS still opens the page), the applicants' comments and the departments'
 * follow-up notes.
 */
export const EVALUATIONS_SEALED = [
  twoSealedColumns('evaluation_links', 'token_hash', [{ name: 'token', context: SEALED_EVALUATION.linkToken }, { name: 'applicant', context: SEALED_EVALUATION.linkApplicant }]),
  twoSealedColumns('evaluations', 'id', [{ name: 'comment', context: SEALED_EVALUATION.comment }, { name: 'follow_up_note', context: SEALED_EVALUATION.note }]),
];
