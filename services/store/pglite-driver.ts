import fs from 'node:fs';
import { PGlite, Transaction } from '@electric-sql/pglite';
import { SqlDriver, SqlExecutor, withTransactionRetry, copyBytes, checkIdentifiers, JsonParam, StatementObserver } from './sql-driver';

/** The embedded store: a real PostgreSQL compiled to WebAssembly, its files under the data folder. */
export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private constructor(private readonly db: PGlite, private readonly observe?: StatementObserver) {}

  static async open(dir: string, observe?: StatementObserver): Promise<PgliteDriver> {
    return new PgliteDriver(await openPglite(dir), observe);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    if (this.observe) await this.show(this.db, sql, params);
    const res = await this.db.query<T>(sql, asSent(params), SENT_AS_IS);
    return { rows: res.rows };
  }

  async insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    if (this.observe && rows.length) await this.show(this.db, copyStatement(table, columns), []);
    return copyInto(this.db, table, columns, rows);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return withTransactionRetry(() =>
      this.db.transaction(async (tx) =>
        fn({
          query: async <R>(sql: string, params: unknown[] = []) => {
            await turn();
            if (this.observe) await this.show(tx, sql, params);
            return { rows: (await tx.query<R>(sql, asSent(params), SENT_AS_IS)).rows };
          },
          insertRows: async (table, columns, rows) => {
            await turn();
            if (this.observe && rows.length) await this.show(tx, copyStatement(table, columns), []);
            await copyInto(tx, table, columns, rows);
          },
        }),
      ),
    );
  }

  async exec(sql: string): Promise<void> {
    await this.db.exec(sql);
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close();
  }

  /** Shows a statement to the observer, with the database or transaction it will run on. */
  private show(on: Pick<Transaction, 'query'>, sql: string, params: readonly unknown[]): Promise<void> {
    const sent = asSent(params);
    return this.observe!({ sql, params: sent }, async (s, p) => ({ rows: (await on.query(s, [...p], SENT_AS_IS)).rows as any[] }));
  }
}

/** The embedded PostgreSQL in dir, with the hub's settings (PgliteDriver.open; the bench's store ceiling). */
export async function openPglite(dir: string): Promise<PGlite> {
  fs.mkdirSync(dir, { recursive: true });
  // Timestamps and int8 as text, as the PostgreSQL driver returns them: one SQL layer above both.
  const asText = (v: string) => v;
  return PGlite.create(dir, { parsers: { 1184: asText, 1114: asText, 20: asText }, startParams: [...PGlite.defaultStartParams, ...START_SETTINGS.flatMap((s) => ['-c', s])] });
}

async function copyInto(db: Pick<Transaction, 'query'>, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
  if (!rows.length) return;
  await db.query(copyStatement(table, columns), [], { blob: new Blob([copyBytes(rows)]) });
}

function copyStatement(table: string, columns: readonly string[]): string {
  checkIdentifiers(table, columns);
  return `COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`;
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
const SENT_AS_IS = { serializers: { [JSON_OID]: (v: unknown) => v } } as any;

/** Parameters as PGlite sends them: JSON text as bytes (binary format), the rest as they are. */
function asSent(params: readonly unknown[]): any[] {
  return params.map((p) => (p instanceof JsonParam ? Buffer.from(p.text) : p));
}

/**
 * PGlite runs each statement on this thread and resolves in a microtask, so a transaction of many
 * statements would otherwise hold the event loop from its first statement to its commit (a file
 * chunk: most of a second), and health checks and HTTP requests would wait that long. Between
 * statements, whatever else waits goes first.
 */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
