/**
 * The one thing that differs between the embedded store (PGlite, PostgreSQL in-process) and the
 * cluster store (a PostgreSQL server): how SQL reaches the database. Everything above this port is
 * one SQL implementation.
 */
export interface SqlExecutor {
  /** Runs one parameterised statement ($1, $2…). */
  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
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

/** PostgreSQL error codes after which a transaction may simply be run again. */
export const RETRYABLE_SQLSTATES = new Set(['40001', '40P01']);

export async function withTransactionRetry<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (i >= attempts || !code || !RETRYABLE_SQLSTATES.has(code)) throw err;
      await new Promise((r) => setTimeout(r, 5 * i + Math.random() * 20));
    }
  }
}
