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
 * The transaction a step of the intake runs in, handed through a transport to a port (a poll
 * cursor, a file's progress) so that the transport's own state commits with the records. A
 * transport passes it on; it never writes SQL itself.
 */
export type Transaction = SqlExecutor;
