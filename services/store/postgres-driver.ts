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
  /** The write path's statements by their text, each with the name it is prepared under on every connection (see `prepared`). */
  private readonly names = new Map<string, string>();

  private constructor(private readonly pool: pg.Pool, private readonly observe: StatementObserver | undefined, private readonly prepare: boolean) {}

  /**
   * `prepare` (HUB_STORE_PREPARED, on by default): the write path's statements are prepared on each
   * connection, so that the server parses and plans each of them once per connection instead of on
   * every call (see `prepared`). Off for a pooler that cannot keep a connection's prepared
   * statements (PgBouncer in transaction mode before 1.21).
   */
  static async open(url: string, max = 10, observe?: StatementObserver, prepare = true): Promise<PostgresDriver> {
    const pool = new pg.Pool({ connectionString: url, max, types: types as any });
    // Fail at start-up, with the reason, rather than at the first request.
    const client = await pool.connect();
    client.release();
    pool.on('error', () => { /* an idle client died; the pool replaces it on next use */ });
    return new PostgresDriver(pool, observe, prepare);
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<{ rows: T[] }> {
    const res = await this.send(this.pool, sql, params, false);
    return { rows: res.rows as T[] };
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    return insertJson((sql, params) => this.send(this.pool, sql, params, false), table, columns, rows);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return withTransactionRetry(async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await this.send(client, sql, params, true)).rows as R[] }),
          insertRows: (table, columns, rows) => insertJson((sql, params) => this.send(client, sql, params, true), table, columns, rows),
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
  private async send(on: pg.Pool | pg.PoolClient, sql: string, params: readonly unknown[], inTransaction: boolean): Promise<pg.QueryResult> {
    const sent = asSent(params);
    if (this.observe) await this.observe({ sql, params: sent }, (s, p) => on.query(s, [...p]));
    const name = this.prepared(sql, sent.length > 0, inTransaction);
    return name ? on.query({ name, text: sql, values: sent }) : on.query(sql, sent);
  }

  /**
   * The name a statement is prepared under, or undefined to send it unnamed (parsed and planned
   * again on each call). Prepared: the statements of a transaction (the intake's, the supervisor's,
   * the queues' claims) and every INSERT, UPDATE or DELETE, all with parameters: the write path,
   * whose statements take their rows as JSON or arrays, so that one plan serves every call. A read
   * outside a transaction (the case list and its filters) is planned for its own values each time:
   * a plan made once for a common status must not serve a rare one. At most PREPARED_MAX texts, so
   * that a statement whose text varies never fills a connection with plans.
   */
  private prepared(sql: string, withParams: boolean, inTransaction: boolean): string | undefined {
    if (!this.prepare || !withParams || !(inTransaction || WRITES.test(sql))) return undefined;
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < PREPARED_MAX) {
      name = `hub_${this.names.size}`;
      this.names.set(sql, name);
    }
    return name;
  }

  async close(): Promise<void> {
    if (!this.pool.ended && !this.pool.ending) await this.pool.end();
  }
}

/** Statements that write, prepared wherever they are sent. */
const WRITES = /^\s*(INSERT|UPDATE|DELETE)\b/i;
/** Distinct statement texts prepared at most per driver (each connection prepares those it sends). */
const PREPARED_MAX = 500;

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
