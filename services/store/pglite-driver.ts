import fs from 'node:fs';
import { PGlite, Transaction } from '@electric-sql/pglite';
import { SqlDriver, SqlExecutor, withTransactionRetry, copyText, checkIdentifiers } from './sql-driver';

/** The embedded store: a real PostgreSQL compiled to WebAssembly, its files under the data folder. */
export class PgliteDriver implements SqlDriver {
  readonly kind = 'pglite' as const;
  private constructor(private readonly db: PGlite) {}

  static async open(dir: string): Promise<PgliteDriver> {
    fs.mkdirSync(dir, { recursive: true });
    // Timestamps and int8 as text, as the PostgreSQL driver returns them: one SQL layer above both.
    const asText = (v: string) => v;
    const db = await PGlite.create(dir, { parsers: { 1184: asText, 1114: asText, 20: asText } });
    return new PgliteDriver(db);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    const res = await this.db.query<T>(sql, params as any[]);
    return { rows: res.rows };
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    return copyInto(this.db, table, columns, rows);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return withTransactionRetry(() =>
      this.db.transaction(async (tx) =>
        fn({
          query: async <R>(sql: string, params: unknown[] = []) => {
            await turn();
            return { rows: (await tx.query<R>(sql, params as any[])).rows };
          },
          insertRows: async (table, columns, rows) => {
            await turn();
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
}

async function copyInto(db: Pick<Transaction, 'query'>, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
  if (!rows.length) return;
  checkIdentifiers(table, columns);
  await db.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], { blob: new Blob([copyText(rows)]) });
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
