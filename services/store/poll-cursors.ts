import type { SqlDriver, SqlExecutor } from './sql-driver';
import type { CursorState, PollCursors } from '../../core/ports/poll-cursors';

/** The pollers' cursors in the store (table poll_cursors). */
export class PollCursorStore implements PollCursors {
  constructor(private readonly db: SqlDriver) {}

  async load(adapter: string): Promise<CursorState | null> {
    const r = await this.db.query<{ position: string; keys_at_position: string[] }>('SELECT position, keys_at_position FROM poll_cursors WHERE adapter = $1', [adapter]);
    return r.rows[0] ? { position: r.rows[0].position, keys: r.rows[0].keys_at_position } : null;
  }

  /**
   * Stores the cursor unless a stored one is further on: each cursor a poller writes is true on its
   * own, so keeping the furthest (when several nodes poll) never skips a record.
   */
  async saveIn(tx: SqlExecutor, adapter: string, state: CursorState): Promise<void> {
    await tx.query(
      `INSERT INTO poll_cursors (adapter, position, keys_at_position, updated_at) VALUES ($1, $2, $3, now())
       ON CONFLICT (adapter) DO UPDATE SET position = EXCLUDED.position, updated_at = now(),
         keys_at_position = CASE WHEN poll_cursors.position = EXCLUDED.position
           THEN (SELECT coalesce(jsonb_agg(DISTINCT k), '[]'::jsonb) FROM jsonb_array_elements(poll_cursors.keys_at_position || EXCLUDED.keys_at_position) AS k)
           ELSE EXCLUDED.keys_at_position END
       WHERE poll_cursors.position <= EXCLUDED.position`,
      [adapter, state.position, JSON.stringify(state.keys)],
    );
  }

  save(adapter: string, state: CursorState): Promise<void> {
    return this.saveIn(this.db, adapter, state);
  }
}

