import type { Transaction } from './sql';

/**
 * Where the poller stands: every record with a time before `position` is applied, and so are the
 * records at exactly `position` whose keys are in `keys`. Times are canonical (ISO 8601, +08:00),
 * so they compare as text.
 */
export interface CursorState {
  position: string;
  keys: string[];
}

/** The pollers' cursors, kept in the store. */
export interface PollCursors {
  load(adapter: string): Promise<CursorState | null>;
  /**
   * Stores the cursor unless a stored one is further on: each cursor a poller writes is true on its
   * own, so keeping the furthest (when several nodes poll) never skips a record.
   */
  saveIn(tx: Transaction, adapter: string, state: CursorState): Promise<void>;
  save(adapter: string, state: CursorState): Promise<void>;
}
