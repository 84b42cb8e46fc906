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
          query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await tx.query<R>(sql, params as any[])).rows }),
          insertRows: (table, columns, rows) => copyInto(tx, table, columns, rows),
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
