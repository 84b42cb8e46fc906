/**
 * The one thing that differs between the embedded store (PGlite, PostgreSQL in-process) and the
 * cluster store (a PostgreSQL server): how SQL reaches the database. Everything above this port is
 * one SQL implementation.
 */
export interface SqlExecutor {
  /** Runs one parameterised statement ($1, $2…). */
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  /**
   * Appends rows to a table by the fastest path the database offers (COPY on the embedded store,
   * where parsing parameters is most of the cost of an insert). Values are in column order; objects
   * go in as JSON, null as NULL. No conflict handling: the caller knows the rows are new (it holds
   * the locks that make this so).
   */
  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void>;
}

export interface SqlDriver extends SqlExecutor {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs fn in one transaction: committed when fn resolves, rolled back when it throws. Retries
   * the whole function on deadlock or serialisation failure, so fn must be safe to run again.
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements, without parameters (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

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

/** A value as a field of PostgreSQL's COPY text format. */
export function copyField(v: unknown): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r')) : s;
}

/**
 * JSON text already in COPY text form: UTF-8 bytes, backslashes doubled (JSON text has no raw tab,
 * newline or carriage return to escape). Prepared where the work is cheaper than on the thread
 * that holds the store (a file's mapping worker), and given to insertRows as a field's value.
 */
export class CopyJson {
  constructor(readonly bytes: Uint8Array) {}

  /** The JSON value, for a driver that does not take COPY text. */
  value(): unknown {
    return JSON.parse(Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('utf8').replace(/\\\\/g, '\\'));
  }
}

/** JSON text as the bytes of a CopyJson. */
export function copyJsonBytes(jsonText: string): Buffer {
  return Buffer.from(jsonText.includes('\\') ? jsonText.replace(/\\/g, '\\\\') : jsonText, 'utf8');
}

/**
 * Rows as the body of `COPY … FROM STDIN` in text format, as UTF-8 bytes. A CopyJson field's bytes
 * are copied as they are; every other field is encoded by copyField.
 */
export function copyBytes(rows: readonly (readonly unknown[])[]): Buffer {
  // Written straight into one buffer, grown when a write might not fit: a chunk's COPY of events
  // is thousands of rows, and a string and a buffer per row were most of what its encoding cost.
  let out = Buffer.allocUnsafe(1 << 16);
  let at = 0;
  const room = (n: number) => {
    if (at + n <= out.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, at + n));
    out.copy(bigger, 0, 0, at);
    out = bigger;
  };
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v instanceof CopyJson) {
        room(v.bytes.byteLength + 2);
        if (i) out[at++] = 0x09;
        out.set(v.bytes, at);
        at += v.bytes.byteLength;
      } else {
        const text = copyField(v);
        // A UTF-16 code unit takes at most 3 bytes of UTF-8.
        room(text.length * 3 + 2);
        if (i) out[at++] = 0x09;
        at += out.write(text, at, 'utf8');
      }
    }
    room(1);
    out[at++] = 0x0a;
  }
  return out.subarray(0, at);
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
