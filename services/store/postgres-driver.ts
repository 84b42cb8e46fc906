import pg from 'pg';
import { SqlDriver, SqlExecutor, withTransactionRetry, checkIdentifiers, rowsAsJson, JsonParam, StatementObserver } from './sql-driver';

// timestamptz and int8 come back as text, as PGlite's are read through the same SQL (casts in the
// queries decide the JavaScript types, not the driver).
const types = {
  getTypeParser: (oid: number, format?: any) => {
    if (oid === 1184 || oid === 1114 || oid === 20) return (v: string) => v;
    return pg.types.getTypeParser(oid, format);
  },
};

/** The cluster store: a PostgreSQL server shared by every hub node. */
export class PostgresDriver implements SqlDriver {
  readonly kind = 'postgres' as const;
  private constructor(private readonly pool: pg.Pool, private readonly observe?: StatementObserver) {}

  static async open(url: string, max = 10, observe?: StatementObserver): Promise<PostgresDriver> {
    const pool = new pg.Pool({ connectionString: url, max, types: types as any });
    // Fail at start-up, with the reason, rather than at the first request.
    const client = await pool.connect();
    client.release();
    pool.on('error', () => { /* an idle client died; the pool replaces it on next use */ });
    return new PostgresDriver(pool, observe);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    const res = await this.send(this.pool, sql, params);
    return { rows: res.rows as T[] };
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    return insertJson((sql, params) => this.send(this.pool, sql, params), table, columns, rows);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return withTransactionRetry(async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await this.send(client, sql, params)).rows as R[] }),
          insertRows: (table, columns, rows) => insertJson((sql, params) => this.send(client, sql, params), table, columns, rows),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    });
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  /** One statement on the pool or a transaction's client, shown to the observer first when there is one. */
  private async send(on: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const sent = asSent(params);
    if (this.observe) await this.observe({ sql, params: sent }, (s, p) => on.query(s, [...p]));
    return on.query(sql, sent);
  }

  async close(): Promise<void> {
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }
}

/**
 * One statement whatever the number of rows: the rows as one JSON document, typed by the table's own
 * row type (a server parses JSON fast; COPY would need a streaming client for little gain here).
 */
async function insertJson(run: (sql: string, params: unknown[]) => Promise<unknown>, table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
  if (!rows.length) return;
  checkIdentifiers(table, columns);
  const list = columns.join(', ');
  await run(`INSERT INTO ${table} (${list}) SELECT ${list} FROM json_populate_recordset(NULL::${table}, $1::json)`, [rowsAsJson(columns, rows)]);
}

/** Parameters as the server takes them: JSON text as text. */
function asSent(params: readonly unknown[]): any[] {
  return params.map((p) => (p instanceof JsonParam ? p.text : p));
}
