import type { SqlDriver, SqlExecutor } from '../store/sql-driver';

/**
 * The store's driver, telling its listeners after every transaction it commits: the outbox
 * dispatcher publishes what a commit added at once rather than at its next poll. Every pipeline
 * that applies events (messages, polled pages, file chunks, replays) commits through the driver, so
 * no caller need remember to nudge it.
 */
export class CommitSignallingDriver implements SqlDriver {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly inner: SqlDriver) {}

  get kind(): SqlDriver['kind'] {
    return this.inner.kind;
  }

  query<T = Record<string, any>>(sql: string, params?: unknown[]): Promise<{ rows: T[] }> {
    return this.inner.query<T>(sql, params);
  }

  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[]): Promise<void> {
    return this.inner.insertRows(table, columns, rows);
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const result = await this.inner.transaction(fn);
    for (const listener of this.listeners) listener();
    return result;
  }

  exec(sql: string): Promise<void> {
    return this.inner.exec(sql);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Calls listener after each commit (synchronously: it should only schedule work); returns the way to stop. */
  onCommit(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
