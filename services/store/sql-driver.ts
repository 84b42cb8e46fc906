import { CopyJson } from '../../core/ports/copy-text';

export type { SqlExecutor, SqlDriver } from '../../core/ports/sql';
export { copyField, CopyJson, copyJsonBytes, copyBytes } from '../../core/ports/copy-text';

/**
 * A parameter holding JSON text, for `$n::json`. The embedded store sends it as bytes (the binary
 * form of json is its UTF-8 text): PGlite would otherwise measure and encode a string of a whole
 * chunk's rows character by character in JavaScript, twice.
 */
export class JsonParam {
  constructor(readonly text: string) {}
}

/** JSON text as a `$n::json` parameter. */
export function jsonParam(text: string): JsonParam {
  return new JsonParam(text);
}

/**
 * Shown every statement the store's code sends through a driver (query and insertRows; not the
 * transactions' BEGIN and COMMIT, nor migration scripts), before it runs, with its parameters as sent
 * and a way to run another statement on the same connection (inside the same transaction, so that
 * locks and rows are as the statement will see them): what inspects the plans of the statements the
 * hub issues.
 */
export type StatementObserver = (
  statement: { sql: string; params: readonly unknown[] },
  sameConnection: (sql: string, params: readonly unknown[]) => Promise<{ rows: any[] }>,
) => Promise<void>;

/** PostgreSQL error codes after which a transaction may simply be run again. */
export const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

/**
 * Unique constraints whose violation means a concurrent transaction stored the same thing first
 * (the same event, the same open dead letter): run again, the transaction sees it and answers a
 * duplicate instead.
 */
export const RETRYABLE_UNIQUE = new Set(['events_pkey', 'dead_letters_open_event']);

function retryable(err: unknown): boolean {
  const { code, constraint } = err as { code?: string; constraint?: string };
  return !!code && (RETRYABLE_SQLSTATES.has(code) || (code === '23505' && !!constraint && RETRYABLE_UNIQUE.has(constraint)));
}

export async function withTransactionRetry<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      if (i >= attempts || !retryable(err)) throw err;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 20));
    }
  }
}

/**
 * Rows (values in column order) as one JSON array of objects keyed by column name: the input of
 * `json_populate_recordset(NULL::<table>, $1::json)`, which types each value by the table's own row
 * type. Dates go in as ISO 8601, null and undefined as null.
 */
export function rowsAsJson(columns: readonly string[], rows: readonly (readonly unknown[])[]): JsonParam {
  return jsonParam(JSON.stringify(rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < columns.length; i++) {
      const v = row[i];
      o[columns[i]] = v instanceof CopyJson ? v.value() : v ?? null;
    }
    return o;
  })));
}

/** Table and column names go into SQL text: only plain identifiers are allowed. */
export function checkIdentifiers(table: string, columns: readonly string[]): void {
  for (const name of [table, ...columns]) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain SQL identifier: ${name}`);
  }
}
